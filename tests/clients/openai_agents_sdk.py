"""An OpenAI Agents SDK run with a scripted model (no network), its traces sent by the SDK's
own exporter to AgentTrace. Environment: AGENTTRACE_URL and AGENTTRACE_KEY (an ingest key)."""

import asyncio
import json
import os

from agents import (
    Agent,
    ModelResponse,
    RunConfig,
    Runner,
    Usage,
    function_tool,
    set_tracing_export_api_key,
)
from agents.models.interface import Model
from agents.tracing import default_exporter, generation_span
from agents.tracing.processors import default_processor
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

default_exporter().endpoint = os.environ["AGENTTRACE_URL"] + "/v1/traces/ingest"
set_tracing_export_api_key(os.environ["AGENTTRACE_KEY"])


@function_tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@function_tool
def explode(x: int) -> int:
    """Always fails."""
    raise RuntimeError("tool exploded")


def message(text):
    return ResponseOutputMessage(
        id="m1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def call(name, args, call_id):
    return ResponseFunctionToolCall(
        type="function_call", name=name, arguments=json.dumps(args), call_id=call_id, id=call_id
    )


class ScriptedModel(Model):
    """Answers from a script, and traces each answer as a generation, as a real model does."""

    def __init__(self, script):
        self.script = script
        self.turn = 0

    async def get_response(self, system_instructions, input, model_settings, tools, output_schema,
                           handoffs, tracing, *, previous_response_id=None, conversation_id=None,
                           prompt=None):
        output = self.script[self.turn]
        self.turn += 1
        messages = input if isinstance(input, list) else [{"role": "user", "content": input}]
        with generation_span(model="scripted-gpt", input=messages, model_config={"temperature": 0}) as span:
            span.span_data.output = [item.model_dump() for item in output]
            span.span_data.usage = {"input_tokens": 10, "output_tokens": 5}
        usage = Usage(requests=1, input_tokens=10, output_tokens=5, total_tokens=15)
        return ModelResponse(output=output, usage=usage, response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


model = ScriptedModel([
    [call("add", {"a": 1, "b": 2}, "c1"), call("explode", {"x": 1}, "c2")],
    [message("The answer is 3")],
])
agent = Agent(name="Calc", instructions="be terse", model=model, tools=[add, explode])
result = asyncio.run(
    Runner.run(agent, "what is 1+2?", run_config=RunConfig(workflow_name="calc-flow", group_id="sess-1"))
)
processor = default_processor()
processor.force_flush()
processor.shutdown()
print("final:", result.final_output)
