//! Every rejection: its status, its problem document, and that nothing was stored.

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use agenttrace_core::Limits;
use serde_json::{Value, json};

/// Sends a body, checks the status and problem type, and that nothing was stored.
async fn refused(app: &TestApp, body: impl Into<reqwest::Body>, status: u16, slug: &str) -> Value {
    let response = app.upload_json(body).await;
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        format!("urn:agenttrace:problem:{slug}"),
        "{problem}"
    );
    assert_eq!(problem["status"], status);
    assert!(!problem["detail"].as_str().unwrap().is_empty());
    assert_eq!(
        app.trace_count().await,
        0,
        "nothing may be stored on rejection"
    );
    problem
}

#[tokio::test]
async fn malformed_json_names_line_and_column() {
    let app = spawn_app().await;
    let problem = refused(
        &app,
        "{\n  \"steps\": [\n    {\"id\": 1,}\n  ]\n}",
        400,
        "malformed-json",
    )
    .await;
    assert_eq!(problem["line"], 3);
    assert_eq!(problem["column"], 14);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("line 3, column 14")
    );
}

#[tokio::test]
async fn empty_truncated_and_invalid_utf8_bodies() {
    let app = spawn_app().await;
    refused(&app, "", 400, "empty-body").await;
    refused(&app, "   \n ", 400, "empty-body").await;
    let problem = refused(&app, "{\"steps\": [{\"id\": \"a\"", 400, "malformed-json").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("EOF"),
        "{problem}"
    );
    let problem = refused(
        &app,
        b"{\"steps\": [{\"name\": \"caf\xe9\"}]}".to_vec(),
        400,
        "invalid-utf8",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("offset 24"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_number_with_ten_thousand_digits_is_an_error_not_a_crash() {
    let app = spawn_app().await;
    let body = format!(
        "{{\"steps\": [{{\"id\": \"a\", \"cost\": {}}}]}}",
        "9".repeat(10_000)
    );
    refused(&app, body, 400, "malformed-json").await;
    let (status, _) = app.get_json("/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deep_nesting_is_refused_before_parsing() {
    let app = spawn_app().await;
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let problem = refused(&app, body, 413, "too-deep").await;
    assert_eq!(problem["limit"], 100);
    let nested_input = format!(
        "{{\"steps\": [{{\"input\": {}1{}}}]}}",
        "{\"a\":".repeat(150),
        "}".repeat(150)
    );
    refused(&app, nested_input, 413, "too-deep").await;
}

#[tokio::test]
async fn size_limits_answer_413_with_limit_and_value() {
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        max_trace_bytes: 16 * 1024,
        max_steps: 10,
        max_depth: 100,
    };
    let app = spawn_app_with(limits).await;

    let big = format!(
        "{{\"steps\": [{{\"content\": \"{}\"}}]}}",
        "x".repeat(100 * 1024)
    );
    let problem = refused(&app, big.clone(), 413, "too-large").await;
    assert_eq!(problem["limit"], 64 * 1024);
    assert_eq!(problem["found"], big.len());

    let medium = format!(
        "{{\"steps\": [{{\"content\": \"{}\"}}]}}",
        "x".repeat(20 * 1024)
    );
    let problem = refused(&app, medium.clone(), 413, "too-large").await;
    assert_eq!(problem["limit"], 16 * 1024);
    assert_eq!(problem["found"], medium.len());
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("trace document")
    );

    let steps: Vec<Value> = (0..11).map(|i| json!({"id": i})).collect();
    let problem = refused(
        &app,
        serde_json::to_vec(&json!({"steps": steps})).unwrap(),
        413,
        "too-many-steps",
    )
    .await;
    assert_eq!(problem["limit"], 10);
    assert_eq!(problem["found"], 11);
    assert_eq!(problem["pointer"], "/steps");

    // Nested children count too.
    let nested = json!({"steps": [{"id": "r", "children": (0..10).map(|i| json!({"id": i})).collect::<Vec<_>>()}]});
    refused(
        &app,
        serde_json::to_vec(&nested).unwrap(),
        413,
        "too-many-steps",
    )
    .await;

    // A chunked body without Content-Length is cut at the limit as well.
    let response = raw_chunked_upload(&app, 100, 1024).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert_eq!(app.trace_count().await, 0);
}

/// Sends `chunks` chunks of `size` spaces with chunked transfer encoding over a raw socket and
/// returns the start of the response.
async fn raw_chunked_upload(app: &TestApp, chunks: usize, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/traces HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr, app.owner_token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{size:x}\r\n{}\r\n", " ".repeat(size));
    for _ in 0..chunks {
        // The server may answer and close before the whole body is sent.
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn non_json_is_415_by_content_whatever_the_name() {
    let app = spawn_app().await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let problem = refused(&app, png.clone(), 415, "not-json").await;
    assert!(problem["detail"].as_str().unwrap().contains("PNG"));
    refused(&app, "name,steps\nrun,3\n", 415, "not-json").await;
    refused(&app, "12,13\n", 415, "not-json").await;
    refused(&app, "\"a\",\"b\"", 415, "not-json").await;
    refused(&app, "nothing to see", 415, "not-json").await;
    refused(&app, "\"just a string\"", 422, "not-a-trace").await;
    refused(&app, "null", 422, "not-a-trace").await;

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png).file_name("trace.json"),
    );
    let response = app
        .client
        .post(app.url("/api/v1/traces"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(app.trace_count().await, 0);
}

#[tokio::test]
async fn json_that_is_not_a_trace_is_422_with_a_pointer() {
    let app = spawn_app().await;
    let cases = [
        (json!(42), ""),
        (json!({"name": "no steps"}), ""),
        (json!({"steps": {"a": 1}}), "/steps"),
        (json!({"steps": ["not an object"]}), "/steps/0"),
        (
            json!({"steps": [{"id": "a"}, {"id": "b", "timestamp": "yesterday"}]}),
            "/steps/1/timestamp",
        ),
        (
            json!({"steps": [{"id": "a", "tokens_used": -5}]}),
            "/steps/0/tokens_used",
        ),
        (
            json!({"steps": [{"id": "a", "usage": {"input_tokens": "many"}}]}),
            "/steps/0/usage/input_tokens",
        ),
        (
            json!({"steps": [{"id": "a", "metadata": [1]}]}),
            "/steps/0/metadata",
        ),
        (
            json!({"steps": [{"id": "a", "children": [{"id": "b", "duration_ms": true}]}]}),
            "/steps/0/children/0/duration_ms",
        ),
        (json!({"steps": [{"id": "a"}, {"id": "a"}]}), "/steps/1/id"),
        (
            json!({"steps": [{"id": "a", "kind": "robot"}]}),
            "/steps/0/kind",
        ),
        (json!({"tags": [{"x": 1}], "steps": []}), "/tags/0"),
    ];
    for (doc, pointer) in cases {
        let problem = refused(&app, serde_json::to_vec(&doc).unwrap(), 422, "not-a-trace").await;
        assert_eq!(problem["pointer"], pointer, "for {doc}: {problem}");
    }
}

#[tokio::test]
async fn multipart_without_a_file_field_is_400() {
    let app = spawn_app().await;
    let form = reqwest::multipart::Form::new().text("name", "no file");
    let response = app
        .client
        .post(app.url("/api/v1/traces"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["parameter"], "file");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn upload_gzip(app: &TestApp, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/traces"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_limited_after_decompression() {
    let app = spawn_app().await;
    let trace = serde_json::to_vec(&json!({"name": "zipped", "steps": [{"id": "a"}]})).unwrap();
    let response = upload_gzip(&app, gzip(&trace)).await;
    assert_eq!(response.status(), 201);

    // 20 MiB of JSON whitespace compresses to about 20 KiB: refused once it inflates past 10 MiB.
    let bomb = gzip(&vec![b' '; 20 * 1024 * 1024]);
    assert!(bomb.len() < 100 * 1024);
    let response = upload_gzip(&app, bomb).await;
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["limit"], 10 * 1024 * 1024);

    let response = upload_gzip(&app, b"definitely not gzip".to_vec()).await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:agenttrace:problem:unreadable-body");
    assert_eq!(app.trace_count().await, 1);
}

#[tokio::test]
async fn every_error_is_a_problem_document() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/traces"))
        .header("content-type", "application/json")
        .header("content-encoding", "br")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("\"br\""),
        "{problem}"
    );

    // Rejections by axum's own extractors come out as problems too.
    for (method, path, body) in [
        ("GET", "/api/v1/traces/%FF", None),
        ("POST", "/api/v1/auth/login", Some("{not json")),
        ("POST", "/api/v1/auth/login", Some("{\"email\": 5}")),
    ] {
        let mut request = app.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(path),
        );
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_client_error(), "{method} {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn times_beyond_the_year_9999_are_refused_with_a_pointer() {
    let app = spawn_app().await;
    let problem = refused(
        &app,
        r#"[{"timestamp": 9000000000000000000000, "duration_ms": 9000000000000000}]"#,
        422,
        "not-a-trace",
    )
    .await;
    assert_eq!(problem["pointer"], "/steps/0/timestamp");
    refused(
        &app,
        r#"[{"timestamp": "0001-01-01T00:00:00Z"}, {"timestamp": 9200000000000000000000}]"#,
        422,
        "not-a-trace",
    )
    .await;
}
