"""A LangChain agent loop (langchain-core's fake chat model, one tool that works and one that
fails) instrumented by OpenInference and sent with the OTLP/HTTP protobuf exporter.
Environment: OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS."""

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from openinference.instrumentation.langchain import LangChainInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "langchain-agent"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
LangChainInstrumentor().instrument(tracer_provider=provider)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def explode(x: int) -> int:
    """Always fails."""
    raise ValueError("tool exploded")


class NamedFakeChatModel(GenericFakeChatModel):
    """The fake model, with a model name as real ones have."""

    model_name: str = "fake-gpt-4"

    @property
    def _identifying_params(self):
        return {"model_name": self.model_name}


model = NamedFakeChatModel(messages=iter([
    AIMessage(
        content="",
        tool_calls=[
            {"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"},
            {"name": "explode", "args": {"x": 1}, "id": "c2"},
        ],
        usage_metadata={"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
    ),
    AIMessage(
        content="The answer is 3",
        usage_metadata={"input_tokens": 20, "output_tokens": 5, "total_tokens": 25},
    ),
]))
tools = {"add": add, "explode": explode}


def agent(question):
    messages = [HumanMessage(question)]
    while True:
        answer = model.invoke(messages)
        messages.append(answer)
        if not answer.tool_calls:
            return answer.content
        for call in answer.tool_calls:
            try:
                result = tools[call["name"]].invoke(call["args"])
            except Exception as error:  # the failing tool: the agent carries on
                result = f"error: {error}"
            messages.append(ToolMessage(str(result), tool_call_id=call["id"]))


print("final:", RunnableLambda(agent).with_config(run_name="agent").invoke("what is 1+2?"))
provider.shutdown()
