//! OTLP/HTTP at `/v1/traces`: protobuf and JSON, spans of one trace over several requests in
//! any order and repeated, partial success, and the status codes exporters act on.

use crate::helpers::*;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::{Value, json};

const TRACE: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

fn span(id: u8, parent: Option<u8>, name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: TRACE.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.to_owned(),
        start_time_unix_nano: 1_764_000_000_000_000_000 + u64::from(id) * 10_000_000,
        end_time_unix_nano: 1_764_000_001_000_000_000,
        attributes,
        ..Span::default()
    }
}

fn request(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "weather-agent")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

/// An ingest key of the owner's personal project.
async fn ingest_key(app: &TestApp) -> String {
    let (status, key) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/projects/{}/api-keys", app.project_id)))
            .json(&json!({"name": "otel", "scope": "ingest"})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    key["key"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, key: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/v1/traces"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn only_trace(app: &TestApp) -> Value {
    let (status, list) = app.get_json("/api/v1/traces").await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    app.trace(items[0]["id"].as_str().unwrap()).await
}

#[tokio::test]
async fn spans_over_several_requests_children_first_and_repeated_make_one_trace() {
    let app = spawn_app().await;
    let key = ingest_key(&app).await;
    let llm = span(
        2,
        Some(1),
        "chat gpt-4o-mini",
        vec![
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.request.model", "gpt-4o-mini"),
            int("gen_ai.usage.input_tokens", 900),
            int("gen_ai.usage.output_tokens", 120),
            kv(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris? token=ghp_Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"}]}]"#,
            ),
        ],
    );
    let mut tool = span(
        3,
        Some(1),
        "execute_tool get_weather",
        vec![kv("gen_ai.operation.name", "execute_tool")],
    );
    tool.status = Some(Status {
        message: "upstream 404".to_owned(),
        code: 2,
    });
    tool.events.push(Event {
        name: "exception".to_owned(),
        attributes: vec![
            kv("exception.type", "ConnectionError"),
            kv("exception.message", "404 Not Found"),
        ],
        ..Event::default()
    });
    let root = span(
        1,
        None,
        "invoke_agent planner",
        vec![kv("gen_ai.operation.name", "invoke_agent")],
    );

    let first = request(vec![llm, tool]);
    let response = post(&app, &key, "application/x-protobuf", first.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = response.bytes().await.unwrap();
    assert_eq!(
        ExportTraceServiceResponse::decode(body.as_ref()).unwrap(),
        ExportTraceServiceResponse::default()
    );
    // The root later, then the first request again (an exporter's retry).
    assert_eq!(
        post(&app, &key, "application/x-protobuf", request(vec![root]))
            .await
            .status(),
        200
    );
    assert_eq!(
        post(&app, &key, "application/x-protobuf", first)
            .await
            .status(),
        200
    );

    let trace = only_trace(&app).await;
    assert_eq!(trace["name"], "invoke_agent planner");
    assert_eq!(trace["source_format"], "otlp");
    assert_eq!(trace["status"], "error");
    let steps = trace["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{trace}");
    let by_id = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap().clone();
    let root_id = "01".repeat(8);
    let llm = by_id(&"02".repeat(8));
    assert_eq!(llm["kind"], "llm");
    assert_eq!(llm["parent_id"], root_id.as_str());
    assert_eq!(llm["model"], "gpt-4o-mini");
    assert_eq!(llm["usage"]["input_tokens"], 900);
    let prompt = llm["input"][0]["parts"][0]["content"].as_str().unwrap();
    assert!(
        prompt.starts_with("Weather in Paris?") && !prompt.contains("ghp_"),
        "{prompt}"
    );
    let tool = by_id(&"03".repeat(8));
    assert_eq!(tool["kind"], "tool");
    assert_eq!(tool["error"]["type"], "ConnectionError");
    assert_eq!(tool["error"]["message"], "404 Not Found");
    assert_eq!(by_id(&root_id)["kind"], "agent");
    assert_eq!(trace["metadata"]["service.name"], "weather-agent");
    assert!(trace["redactions"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn otlp_json_is_accepted_with_its_own_conventions() {
    let app = spawn_app().await;
    let key = ingest_key(&app).await;
    let body = json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "json-svc"}}]},
      "scopeSpans": [{"spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "", "name": "retrieve docs", "kind": "SPAN_KIND_INTERNAL",
        "startTimeUnixNano": "1764000000000000000", "endTimeUnixNano": 1764000000250000000u64,
        "attributes": [
          {"key": "openinference.span.kind", "value": {"stringValue": "RETRIEVER"}},
          {"key": "retrieval.documents.0.document.content", "value": {"stringValue": "Paris is sunny"}},
          {"key": "retrieval.documents.0.document.score", "value": {"doubleValue": 0.9}},
          {"key": "retries", "value": {"intValue": "2"}}],
        "status": {}}]}]}]});
    let response = post(
        &app,
        &key,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "{}");
    let trace = only_trace(&app).await;
    let step = &trace["steps"][0];
    assert_eq!(step["id"], "eee19b7ec3c1b174");
    assert_eq!(step["kind"], "retrieval");
    assert_eq!(step["output"][0]["content"], "Paris is sunny");
    assert_eq!(step["metadata"]["retries"], 2);
    assert_eq!(step["duration_ms"], 250.0);
}

#[tokio::test]
async fn bad_requests_get_the_codes_exporters_act_on() {
    let app = spawn_app_with(agenttrace_core::Limits {
        max_steps: 2,
        ..agenttrace_core::Limits::default()
    })
    .await;
    let key = ingest_key(&app).await;
    // Undecodable: 400.
    let response = post(
        &app,
        &key,
        "application/x-protobuf",
        b"\xff\xff\xff\xff".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);
    let response = post(
        &app,
        &key,
        "application/json",
        b"{\"resource_spans\": []}".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);
    // Another type: 415.
    let response = post(&app, &key, "text/plain", b"hello".to_vec()).await;
    assert_eq!(response.status(), 415);
    // No key: 401.
    let response = reqwest::Client::new()
        .post(app.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(request(vec![span(1, None, "x", vec![])]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // A span with a bad id, and spans past the step limit: partial success.
    let mut bad = span(9, None, "bad id", vec![]);
    bad.span_id = vec![1, 2, 3];
    let body = request(vec![
        span(1, None, "a", vec![]),
        span(2, Some(1), "b", vec![]),
        span(3, Some(1), "c", vec![]),
        bad,
    ]);
    let response = post(&app, &key, "application/x-protobuf", body).await;
    assert_eq!(response.status(), 200);
    let answer =
        ExportTraceServiceResponse::decode(response.bytes().await.unwrap().as_ref()).unwrap();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains("limit of 2 steps"),
        "{}",
        partial.error_message
    );
    assert_eq!(only_trace(&app).await["steps"].as_array().unwrap().len(), 2);
    // Gzip, as exporters send with compression on.
    let gzipped = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder
            .write_all(&request(vec![span(1, None, "a", vec![])]))
            .unwrap();
        encoder.finish().unwrap()
    };
    let response = reqwest::Client::new()
        .post(app.url("/v1/traces"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gzipped)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_openai_agents_exporter_lands_as_one_tree_under_its_workflow() {
    let app = spawn_app().await;
    let key = ingest_key(&app).await;
    let send = |body: Value| {
        let key = key.clone();
        let url = app.url("/v1/traces/ingest");
        async move {
            reqwest::Client::new()
                .post(url)
                .header("authorization", format!("Bearer {key}"))
                .header("openai-beta", "traces=v1")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Spans as they end (children first), then the agent span and the trace item.
    let first = send(json!({"data": [
        {"object": "trace.span", "id": "span_fn", "trace_id": "trace_abc", "parent_id": "span_agent",
         "started_at": "2026-12-04T10:00:01Z", "ended_at": "2026-12-04T10:00:01.5Z",
         "span_data": {"type": "function", "name": "get_weather", "input": "{\"city\":\"Paris\"}", "output": null},
         "error": {"message": "Error running tool (non-fatal)", "data": {"tool_name": "get_weather"}}},
        {"object": "trace.span", "id": "span_gen", "trace_id": "trace_abc", "parent_id": "span_agent",
         "started_at": "2026-12-04T10:00:00.1Z", "ended_at": "2026-12-04T10:00:00.9Z",
         "span_data": {"type": "generation", "model": "gpt-4o-mini",
                       "input": [{"role": "user", "content": "Weather in Paris?"}],
                       "output": [{"role": "assistant", "content": "Let me check"}],
                       "usage": {"input_tokens": 50, "output_tokens": 7}}}
    ]}))
    .await;
    assert!(first.status().is_success(), "{}", first.status());
    let second = send(json!({"data": [
        {"object": "trace", "id": "trace_abc", "workflow_name": "Weather workflow", "group_id": "conv-7"},
        {"object": "trace.span", "id": "span_agent", "trace_id": "trace_abc", "parent_id": null,
         "started_at": "2026-12-04T10:00:00Z", "ended_at": "2026-12-04T10:00:02Z",
         "span_data": {"type": "agent", "name": "Weather agent", "tools": ["get_weather"]}}
    ]}))
    .await;
    assert!(second.status().is_success());
    let trace = only_trace(&app).await;
    assert_eq!(trace["name"], "Weather workflow");
    assert_eq!(trace["source_format"], "openai-agents");
    assert_eq!(trace["session_id"], "conv-7");
    assert_eq!(trace["status"], "error");
    let steps = trace["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    let parent_of = |id: &str| steps.iter().find(|s| s["id"] == id).unwrap()["parent_id"].clone();
    assert_eq!(parent_of("span_agent"), "trace_abc");
    assert_eq!(parent_of("span_gen"), "span_agent");
    assert_eq!(parent_of("trace_abc"), Value::Null);
    let generation = steps.iter().find(|s| s["id"] == "span_gen").unwrap();
    assert_eq!(generation["kind"], "llm");
    assert_eq!(generation["usage"]["output_tokens"], 7);
    let tool = steps.iter().find(|s| s["id"] == "span_fn").unwrap();
    assert_eq!(tool["kind"], "tool");
    assert_eq!(tool["input"]["city"], "Paris");
    assert_eq!(tool["error"]["message"], "Error running tool (non-fatal)");

    let bad = send(json!({"items": []})).await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn deflate_bodies_are_read_as_otlp_exporters_send_them() {
    use std::io::Write;
    let app = spawn_app().await;
    let key = ingest_key(&app).await;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(&request(vec![span(1, None, "deflated root", vec![])]))
        .unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/v1/traces"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "deflate")
        .body(encoder.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(only_trace(&app).await["name"], "deflated root");
}

fn otlp_json_line(trace: &str, span: &str, parent: &str, name: &str) -> String {
    json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": trace, "spanId": span, "parentSpanId": parent, "name": name,
        "startTimeUnixNano": "1764000000000000000", "endTimeUnixNano": "1764000000500000000",
        "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]}]}]}]})
    .to_string()
}

#[tokio::test]
async fn an_uploaded_otlp_json_export_is_recognised_by_its_shape() {
    let app = spawn_app().await;
    let one = "0af7651916cd43dd8448eb211c80319c";
    let two = "1bf7651916cd43dd8448eb211c80319c";
    // One request per line, as a collector's file exporter writes them; children first.
    let file = [
        otlp_json_line(one, "00f067aa0ba902b7", "00f067aa0ba902b6", "child"),
        otlp_json_line(one, "00f067aa0ba902b6", "", "root of one"),
        otlp_json_line(two, "10f067aa0ba902b6", "", "root of two"),
    ]
    .join("\n");
    // A native upload still goes the native way.
    let native = app
        .upload_ok(&json!({"name": "native", "steps": [{"id": "a"}]}))
        .await;
    assert_eq!(
        app.trace(native["id"].as_str().unwrap()).await["source_format"],
        "native"
    );
    let response = app.upload_json(file.into_bytes()).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "root of one");
    assert_eq!(body["steps"], 2);
    let warnings = body["warnings"].as_array().unwrap();
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("root of two"),
        "{body}"
    );
    let trace = app.trace(body["id"].as_str().unwrap()).await;
    assert_eq!(trace["source_format"], "otlp");
    assert_eq!(trace["steps"][0]["parent_id"], "00f067aa0ba902b6");
    assert_eq!(trace["steps"][0]["kind"], "llm");
}

#[tokio::test]
async fn an_uploaded_openai_agents_dump_is_recognised_by_its_shape() {
    let app = spawn_app().await;
    let lines = [
        json!({"object": "trace", "id": "trace_dump", "workflow_name": "Dumped workflow"}),
        json!({"object": "trace.span", "id": "span_a", "trace_id": "trace_dump", "parent_id": null,
               "started_at": "2026-12-04T10:00:00Z", "ended_at": "2026-12-04T10:00:01Z",
               "span_data": {"type": "agent", "name": "Helper"}}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let response = app.upload_json(lines.into_bytes()).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Dumped workflow");
    assert_eq!(body["steps"], 2);
    let trace = app.trace(body["id"].as_str().unwrap()).await;
    assert_eq!(trace["source_format"], "openai-agents");
}
