"""An agent run traced with the OpenTelemetry SDK and sent to AgentTrace by the real OTLP
exporters: one trace over protobuf, one over JSON. Each span goes in its own request as it
ends, so children arrive before their parents.

Environment: OTEL_EXPORTER_OTLP_ENDPOINT (the server) and OTEL_EXPORTER_OTLP_HEADERS
(`Authorization=Bearer%20<ingest key>`), as a user would set them.
"""

import json

from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as ProtobufExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode


def run(exporter, service):
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent-test")
    with tracer.start_as_current_span("invoke_agent weather") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "weather")
        agent.set_attribute("session.id", "session-42")
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.provider.name", "openai")
            llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            llm.set_attribute("gen_ai.usage.input_tokens", 900)
            llm.set_attribute("gen_ai.usage.output_tokens", 120)
            llm.set_attribute(
                "gen_ai.input.messages",
                json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]),
            )
            llm.set_attribute(
                "gen_ai.output.messages",
                json.dumps([{"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather"}]}]),
            )
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "get_weather")
            tool.set_attribute("gen_ai.tool.call.arguments", json.dumps({"city": "Paris"}))
            try:
                raise ConnectionError("API request failed: 404 Not Found")
            except ConnectionError as error:
                tool.record_exception(error)
                tool.set_status(Status(StatusCode.ERROR, str(error)))
    provider.shutdown()


run(ProtobufExporter(), "otel-protobuf")
run(JsonExporter(), "otel-json")
print("sent")
