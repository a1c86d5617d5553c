"""Writes OTLP protobuf ExportTraceServiceRequest bodies for the ingest benchmark: BATCHES files
of SPANS spans each, as SDKs send them (512 per batch by default), spread over traces of
TRACE_SPANS spans with GenAI attributes and a chat input. Usage: otlp_batches.py DIR BATCHES SPANS
TRACE_SPANS. Needs the opentelemetry-proto package (tests/clients/.venv has it)."""

import json
import os
import random
import sys

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

out, batches, per_batch, per_trace = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
random.seed(7)
prompt = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Plan a trip to Paris. " * 20}]}])
span_no = 0
for b in range(batches):
    spans = []
    for _ in range(per_batch):
        trace_no, index = divmod(span_no, per_trace)
        span_no += 1
        trace_id = trace_no.to_bytes(16, "big") or b"\x01"
        parent = b"" if index == 0 else (trace_no * 100000 + 1).to_bytes(8, "big")
        kind = "chat" if index % 3 else "execute_tool"
        spans.append(Span(
            trace_id=(trace_no + 1).to_bytes(16, "big"),
            span_id=(trace_no * 100000 + index + 1).to_bytes(8, "big"),
            parent_span_id=parent,
            name=f"{kind} step {index}",
            start_time_unix_nano=1_764_000_000_000_000_000 + index * 1_000_000,
            end_time_unix_nano=1_764_000_000_000_000_000 + index * 1_000_000 + 500_000,
            attributes=[
                KeyValue(key="gen_ai.operation.name", value=AnyValue(string_value=kind)),
                KeyValue(key="gen_ai.request.model", value=AnyValue(string_value="gpt-4o-mini")),
                KeyValue(key="gen_ai.usage.input_tokens", value=AnyValue(int_value=random.randint(100, 900))),
                KeyValue(key="gen_ai.usage.output_tokens", value=AnyValue(int_value=random.randint(10, 200))),
                KeyValue(key="gen_ai.input.messages", value=AnyValue(string_value=prompt)),
            ],
        ))
    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    with open(os.path.join(out, f"batch-{b:05}.pb"), "wb") as f:
        f.write(request.SerializeToString())
