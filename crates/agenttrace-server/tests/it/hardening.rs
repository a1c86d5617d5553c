//! The server facing the internet: security headers, CORS, rate limits, client addresses behind
//! proxies, connection limits, load shedding, readiness, metrics, TLS and production refusals.

use crate::helpers::*;
use agenttrace_server::config::{AppEnv, TlsPaths};
use agenttrace_server::security::rate_limit::Rule;
use agenttrace_server::{Config, Server, ServerError};
use reqwest::Method;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const STRONG_SECRET: &str = "q8Jv2mR7tXw4LpZ9nB3cF6hK1sD5gY0aUeVoIiTr";

fn trace_doc(name: &str) -> Value {
    json!({"name": name, "steps": [{"id": "a", "type": "llm"}]})
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    assert_eq!(header(response, "x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        header(response, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert!(header(response, "referrer-policy").is_some(), "{what}");
    assert_eq!(
        header(response, "permissions-policy"),
        Some("camera=(), microphone=(), geolocation=()"),
        "{what}"
    );
    let csp = header(response, "content-security-policy").unwrap_or_default();
    for part in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(
        header(response, "cross-origin-opener-policy"),
        Some("same-origin"),
        "{what}"
    );
    assert!(header(response, "x-request-id").is_some(), "{what}");
    // Plain HTTP: no HSTS (a browser would ignore it, and it would lie about the transport).
    assert!(
        header(response, "strict-transport-security").is_none(),
        "{what}"
    );
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let id = app.upload_id(&trace_doc("headers")).await;
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("sign-in page", app.anonymous.get(app.url("/login")), 200),
        (
            "API answer",
            app.client.get(app.url(&format!("/api/v1/traces/{id}"))),
            200,
        ),
        (
            "schema file",
            app.anonymous.get(app.url("/api/v1/schema/trace.json")),
            200,
        ),
        ("404", app.anonymous.get(app.url("/no/such/page")), 404),
        (
            "405",
            app.anonymous
                .request(Method::PUT, app.url("/api/v1/traces")),
            405,
        ),
        ("401", app.anonymous.get(app.url("/api/v1/traces")), 401),
        (
            "400 problem",
            app.client
                .post(app.url("/api/v1/traces"))
                .header("content-type", "application/json")
                .body("{not json"),
            400,
        ),
        ("health", app.anonymous.get(app.url("/health")), 200),
    ];
    for (what, request, status) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        assert_security_headers(&response, what);
        if what != "schema file" {
            assert_eq!(
                header(&response, "cache-control"),
                Some("no-store"),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn csp_policy_replaces_the_built_in_policy() {
    let app = spawn_app_with_config(|c| {
        c.csp_policy = Some("default-src 'none'; frame-ancestors 'none'".to_owned());
    })
    .await;
    let response = app.anonymous.get(app.url("/login")).send().await.unwrap();
    assert_eq!(
        header(&response, "content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn request_ids_are_kept_only_from_trusted_proxies_and_when_plain() {
    // A client cannot choose its request id (it could reuse someone else's in the logs).
    let app = spawn_app().await;
    let ignored = app
        .anonymous
        .get(app.url("/health"))
        .header("x-request-id", "lb-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_ne!(header(&ignored, "x-request-id"), Some("lb-7f3a.42"));

    let app = spawn_app_with_config(|c| {
        c.trusted_proxies = agenttrace_server::client_ip::parse_cidr_list("127.0.0.1").unwrap();
    })
    .await;
    let kept = app
        .anonymous
        .get(app.url("/health"))
        .header("x-request-id", "lb-7f3a.42")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&kept, "x-request-id"), Some("lb-7f3a.42"));
    let replaced = app
        .anonymous
        .get(app.url("/health"))
        .header("x-request-id", "evil\" injected=1")
        .send()
        .await
        .unwrap();
    let id = header(&replaced, "x-request-id").unwrap();
    assert!(
        id.len() >= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{id}"
    );
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.anonymous
        .request(Method::OPTIONS, app.url("/api/v1/traces"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_allows_listed_origins_only() {
    let app = spawn_app_with_config(|c| {
        c.allowed_origins = Some(vec!["https://app.example.com".to_owned()]);
    })
    .await;
    let allowed = preflight(&app, "https://app.example.com").await;
    assert!(allowed.status().is_success());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials"),
        Some("true")
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
    let headers = header(&allowed, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");

    // Another site gets no CORS headers at all, so the browser keeps the answer from it.
    let refused = preflight(&app, "https://evil.example.net").await;
    assert!(header(&refused, "access-control-allow-origin").is_none());
    assert!(header(&refused, "access-control-allow-credentials").is_none());

    // A real (non-preflight) answer to the allowed origin is readable by it; errors too.
    let answer = app
        .client
        .get(app.url("/api/v1/traces"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let error = app
        .anonymous
        .get(app.url("/api/v1/traces"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(error.status(), 401);
    assert_eq!(
        header(&error, "access-control-allow-origin"),
        Some("https://app.example.com")
    );

    // Development also lets a local front-end dev server in; never a wildcard.
    let local = preflight(&app, "http://localhost:5173").await;
    assert_eq!(
        header(&local, "access-control-allow-origin"),
        Some("http://localhost:5173")
    );
}

#[tokio::test]
async fn production_cors_does_not_let_localhost_in() {
    let app = spawn_app_with_config(|c| {
        production(c);
        c.allowed_origins = Some(vec!["https://app.example.com".to_owned()]);
    })
    .await;
    let local = preflight(&app, "http://localhost:5173").await;
    assert!(header(&local, "access-control-allow-origin").is_none());
    let allowed = preflight(&app, "https://app.example.com").await;
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

/// A production configuration that starts: secret, origins, loopback.
fn production(c: &mut Config) {
    c.env = AppEnv::Production;
    c.auth.jwt_secret = Some(STRONG_SECRET.to_owned());
    c.allowed_origins = Some(vec!["https://traces.example.com".to_owned()]);
}

fn limits(
    c: &mut Config,
    edit: impl FnOnce(&mut agenttrace_server::security::rate_limit::RateLimitConfig),
) {
    c.rate_limit.enabled = Some(true);
    edit(&mut c.rate_limit);
}

fn rule(requests: u32, secs: u64) -> Rule {
    Rule {
        requests,
        window: Duration::from_secs(secs),
    }
}

#[tokio::test]
async fn uploads_over_the_limit_get_429_and_recover_after_the_window() {
    let app = spawn_app_with_config(|c| limits(c, |r| r.upload = rule(3, 60))).await;
    for remaining in ["2", "1", "0"] {
        let response = app
            .upload_json(serde_json::to_vec(&trace_doc("ok")).unwrap())
            .await;
        assert_eq!(response.status(), 201);
        assert_eq!(header(&response, "ratelimit-limit"), Some("3"));
        assert_eq!(header(&response, "ratelimit-remaining"), Some(remaining));
    }
    let refused = app
        .upload_json(serde_json::to_vec(&trace_doc("one too many")).unwrap())
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "ratelimit-limit"), Some("3"));
    assert_eq!(header(&refused, "ratelimit-remaining"), Some("0"));
    let retry: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let reset: u64 = header(&refused, "ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&reset), "{reset}");
    assert_security_headers(&refused, "429");
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["type"], "urn:agenttrace:problem:rate-limited");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("3 per 60 seconds")
    );
    assert_eq!(
        app.trace_count().await,
        3,
        "the refused upload was not stored"
    );

    app.clock.advance_secs(61);
    let again = app
        .upload_json(serde_json::to_vec(&trace_doc("next window")).unwrap())
        .await;
    assert_eq!(again.status(), 201);
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    // The helper's own registration and sign-in use two of the five.
    let app = spawn_app_with_config(|c| limits(c, |r| r.auth = rule(5, 60))).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, _) = send_json(
            app.anonymous
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": OWNER, "password": "wrong-password-123"})),
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    // An expired or wrong token is a 401 (so a client knows to refresh), never a 429.
    let (status, _) =
        send_json(client_with("not-a-real-token").get(app.url("/api/v1/traces"))).await;
    assert_eq!(status, 401);
    // A signed-in client is not an address-limited sign-in.
    let (status, _) = app.get_json("/api/v1/traces").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_api_is_limited_per_user_and_ingestion_per_key() {
    let app = spawn_app_with_config(|c| {
        limits(c, |r| {
            r.api = rule(6, 60);
            r.ingest = rule(2, 60);
            r.upload = rule(1, 60);
        });
    })
    .await;
    let mut refused_at = None;
    for n in 1..=8 {
        let response = app
            .client
            .get(app.url("/api/v1/traces"))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            assert_eq!(header(&response, "ratelimit-limit"), Some("6"));
            refused_at = Some(n);
            break;
        }
        assert_eq!(header(&response, "ratelimit-limit"), Some("6"));
    }
    // The helper's sign-in read `/api/v1/me` once: five more fit in the six.
    assert_eq!(
        refused_at,
        Some(6),
        "the API limit applied at the wrong request"
    );

    // An API key has its own budget; the per-address upload limit does not apply to it.
    let (status, key) = send_json(
        client_with(&app.owner_token_after_window())
            .post(app.url(&format!("/api/v1/projects/{}/api-keys", app.project_id)))
            .json(&json!({"name": "sdk", "scope": "ingest"})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let sdk = client_with(key["key"].as_str().unwrap());
    let upload = |n: u32| {
        sdk.post(app.url("/api/v1/traces"))
            .json(&trace_doc(&format!("sdk {n}")))
            .send()
    };
    assert_eq!(upload(1).await.unwrap().status(), 201);
    assert_eq!(upload(2).await.unwrap().status(), 201);
    let refused = upload(3).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "ratelimit-limit"), Some("2"));
    assert!(header(&refused, "retry-after").is_some());
}

impl TestApp {
    /// Moves past every one-minute window and returns the owner's token.
    fn owner_token_after_window(&self) -> String {
        self.clock.advance_secs(61);
        self.owner_token.clone()
    }
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    // Untrusted peer: X-Forwarded-For is ignored, so both uploads come from the same client.
    let app = spawn_app_with_config(|c| limits(c, |r| r.upload = rule(1, 60))).await;
    let send = |app: &TestApp, forwarded: &str| {
        app.client
            .post(app.url("/api/v1/traces"))
            .header("x-forwarded-for", forwarded.to_owned())
            .json(&trace_doc("via proxy"))
            .send()
    };
    assert_eq!(send(&app, "198.51.100.1").await.unwrap().status(), 201);
    assert_eq!(send(&app, "198.51.100.2").await.unwrap().status(), 429);

    // Trusted peer (the test talks from loopback): each forwarded client has its own budget.
    let app = spawn_app_with_config(|c| {
        limits(c, |r| r.upload = rule(1, 60));
        c.trusted_proxies = agenttrace_server::client_ip::parse_cidr_list("127.0.0.1").unwrap();
    })
    .await;
    assert_eq!(send(&app, "198.51.100.1").await.unwrap().status(), 201);
    assert_eq!(send(&app, "198.51.100.2").await.unwrap().status(), 201);
    // The left-most entry is the client's own claim: a spoof in front does not buy a new budget.
    assert_eq!(
        send(&app, "6.6.6.6, 198.51.100.2").await.unwrap().status(),
        429
    );
    // Only the configured header is read: a client's own `Forwarded` or `X-Real-IP`, passed
    // through by a proxy that appends to X-Forwarded-For, changes nothing.
    let spoofed = app
        .client
        .post(app.url("/api/v1/traces"))
        .header("x-forwarded-for", "198.51.100.2")
        .header("forwarded", "for=1.2.3.4")
        .header("x-real-ip", "5.6.7.8")
        .json(&trace_doc("spoof"))
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 429);
}

#[tokio::test]
async fn a_signed_in_upload_with_a_stray_api_key_header_is_still_limited_per_address() {
    let app = spawn_app_with_config(|c| limits(c, |r| r.upload = rule(1, 60))).await;
    let send = || {
        app.client
            .post(app.url("/api/v1/traces"))
            .header("x-api-key", "atk_not-the-credential-used")
            .json(&trace_doc("stray key"))
            .send()
    };
    // Authenticated by the bearer token (which wins over x-api-key), so limited as an upload.
    assert_eq!(send().await.unwrap().status(), 201);
    assert_eq!(send().await.unwrap().status(), 429);
}

#[tokio::test]
async fn development_does_not_limit() {
    let app = spawn_app_with_config(|c| c.rate_limit.upload = rule(1, 3600)).await;
    for _ in 0..3 {
        let response = app
            .upload_json(serde_json::to_vec(&trace_doc("dev")).unwrap())
            .await;
        assert_eq!(response.status(), 201);
        assert!(header(&response, "ratelimit-limit").is_none());
    }
}

/// Reads from a raw connection until it closes or `wait` passes; returns what came.
async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let reading = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(wait, reading).await.ok().map(|()| got)
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let app = spawn_app_with_config(|c| c.http.header_read_timeout = Duration::from_secs(1)).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    // The server closes the connection (with or without a 408) well before this.
    let answer = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    let answer = answer.expect("the server kept a half-sent request open");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    // The server still serves others.
    let (status, _) = get_json_with(&app.anonymous, &app.url("/health")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = spawn_app_with_config(|c| c.http.header_read_timeout = Duration::from_secs(1)).await;
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    let answer = read_until_closed(&mut idle, Duration::from_secs(15)).await;
    assert_eq!(
        answer.as_deref(),
        Some(&b""[..]),
        "the idle connection stayed open"
    );
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431() {
    let app = spawn_app_with_config(|c| {
        c.http.max_header_bytes = 16 * 1024;
        c.http.max_headers = 50;
    })
    .await;
    let big = app
        .anonymous
        .get(app.url("/health"))
        .header("x-big", "a".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 431);
    assert_security_headers(&big, "431");
    let problem: Value = big.json().await.unwrap();
    assert_eq!(problem["limit"], 16 * 1024);
    // Far past the limit, the connection layer refuses before the head is even read whole.
    let huge = app
        .anonymous
        .get(app.url("/health"))
        .header("x-huge", "a".repeat(256 * 1024))
        .send()
        .await;
    assert!(huge.is_err() || huge.unwrap().status() == 431);
    let mut many = app.anonymous.get(app.url("/health"));
    for n in 0..60 {
        many = many.header(format!("x-h{n}"), "1");
    }
    let many = many.send().await.unwrap();
    assert_eq!(many.status(), 431);
    assert_security_headers(&many, "431 for header lines");
    let problem: Value = many.json().await.unwrap();
    assert_eq!(problem["limit"], 50);
    let fine = app
        .anonymous
        .get(app.url("/health"))
        .header("x-small", "a".repeat(1024))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_are_shed_with_503() {
    let app = spawn_app_with_config(|c| c.http.max_concurrent_requests = 1).await;
    // One upload whose body stalls holds the only slot.
    let mut stalled = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/traces HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\":",
        app.owner_token
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let mut shed = None;
    for _ in 0..50 {
        let response = app
            .client
            .get(app.url("/api/v1/traces"))
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            shed = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shed = shed.expect("no request was shed while the slot was held");
    assert_eq!(header(&shed, "retry-after"), Some("1"));
    let problem: Value = shed.json().await.unwrap();
    assert_eq!(problem["type"], "urn:agenttrace:problem:overloaded");
    // Liveness is never shed.
    let (status, _) = get_json_with(&app.anonymous, &app.url("/health")).await;
    assert_eq!(status, 200);
    // Once the slow client leaves, the slot is free again.
    drop(stalled);
    let mut recovered = false;
    for _ in 0..100 {
        let (status, _) = app.get_json("/api/v1/traces").await;
        if status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recovered);
}

#[tokio::test]
async fn readiness_names_each_component_and_the_one_that_failed() {
    let app = spawn_app_with_config(|c| {
        limits(c, |_| {});
        c.auth.jwt_secret = Some(STRONG_SECRET.to_owned());
    })
    .await;
    let (status, body) = get_json_with(&app.anonymous, &app.url("/health/ready")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    for part in ["database", "token_signing", "rate_limiter", "disk"] {
        assert_eq!(body[part]["status"], "ok", "{part}: {body}");
    }
    assert!(body["rate_limiter"]["tracked_keys"].as_u64().unwrap() >= 1);
    assert!(body["rate_limiter"]["max_tracked_keys"].as_u64().unwrap() > 0);
    assert!(body["disk"]["free_bytes"].as_u64().unwrap() > 0);
    let text = body.to_string();
    assert!(!text.contains(STRONG_SECRET) && !text.contains(app.data_dir.to_str().unwrap()));

    let full = spawn_app_with_config(|c| c.min_free_disk_bytes = u64::MAX).await;
    let (status, body) = get_json_with(&full.anonymous, &full.url("/health/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failed"], json!(["disk"]));
    assert_eq!(body["disk"]["status"], "fail");
    assert!(body["disk"]["error"].as_str().unwrap().contains("MiB"));
    assert_eq!(body["database"]["status"], "ok");
}

#[tokio::test]
async fn metrics_count_requests_ingestion_and_rejections() {
    let app = spawn_app_with_config(|c| limits(c, |r| r.upload = rule(1, 60))).await;
    app.upload_ok(&json!({"name": "m", "steps": [{"id": "a"}, {"id": "b", "input": {"api_key": "sk-abcdefghijklmnopqrstuvwxyz0123456789"}}]}))
        .await;
    let refused = app
        .upload_json(serde_json::to_vec(&trace_doc("refused")).unwrap())
        .await;
    assert_eq!(refused.status(), 429);
    let (status, _) = app.get_json("/api/v1/traces").await;
    assert_eq!(status, 200);
    let response = app.anonymous.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        header(&response, "content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for line in [
        "agenttrace_http_requests_total{method=\"GET\",route=\"/api/v1/traces\",status=\"200\"} 1",
        "agenttrace_http_requests_total{method=\"POST\",route=\"/api/v1/traces\",status=\"429\"} 1",
        "agenttrace_traces_ingested_total 1",
        "agenttrace_steps_ingested_total 2",
        "agenttrace_redactions_total 1",
        "agenttrace_rate_limit_rejections_total{class=\"upload\"} 1",
        "agenttrace_db_pool_connections{state=\"max\"} 8",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains("agenttrace_http_request_duration_seconds_bucket{"));
    // Routes, not raw paths: ids do not become series.
    app.clock.advance_secs(61);
    let id = app.upload_id(&trace_doc("x")).await;
    let _ = app.get_json(&format!("/api/v1/traces/{id}")).await;
    let text = app
        .anonymous
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("route=\"/api/v1/traces/{id}\""));
    assert!(!text.contains(&id));
}

#[tokio::test]
async fn production_metrics_are_off_or_behind_a_token() {
    let off = spawn_app_with_config(production).await;
    let (status, _) = get_json_with(&off.anonymous, &off.url("/metrics")).await;
    assert_eq!(status, 404);

    let guarded = spawn_app_with_config(|c| {
        production(c);
        c.metrics_token = Some("scrape-token-0123456789".to_owned());
    })
    .await;
    let (status, _) = get_json_with(&guarded.anonymous, &guarded.url("/metrics")).await;
    assert_eq!(status, 401);
    let (status, _) = get_json_with(&client_with("wrong-token"), &guarded.url("/metrics")).await;
    assert_eq!(status, 401);
    let (status, body) = get_json_with(
        &client_with("scrape-token-0123456789"),
        &guarded.url("/metrics"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.as_str()
            .unwrap()
            .contains("agenttrace_http_requests_total")
    );
}

async fn refusal(edit: impl FnOnce(&mut Config)) -> String {
    let temp = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), temp.path().join("data"));
    production(&mut config);
    edit(&mut config);
    match Server::bind(&config).await {
        Err(ServerError::Unsafe(text)) => text,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("production started with an unsafe configuration"),
    }
}

#[tokio::test]
async fn production_refuses_each_unsafe_setting_with_its_fix() {
    let text = refusal(|c| c.auth.jwt_secret = None).await;
    assert!(text.contains("JWT_SECRET_KEY: not set"), "{text}");
    assert!(text.contains("openssl rand"), "{text}");

    let text = refusal(|c| c.auth.jwt_secret = Some("short-secret".to_owned())).await;
    assert!(
        text.contains("JWT_SECRET_KEY") && text.contains("32"),
        "{text}"
    );

    let text = refusal(|c| {
        c.auth.jwt_secret = Some("your-super-secret-jwt-key-change-this-in-production".to_owned());
    })
    .await;
    assert!(text.contains("placeholder"), "{text}");

    let text = refusal(|c| c.allowed_origins = None).await;
    assert!(text.contains("ALLOWED_ORIGINS: not set"), "{text}");

    let text = refusal(|c| c.allowed_origins = Some(vec!["*".to_owned()])).await;
    assert!(text.contains("ALLOWED_ORIGINS: contains `*`"), "{text}");

    let text = refusal(|c| c.bind = "0.0.0.0:0".parse().unwrap()).await;
    assert!(text.contains("plain HTTP on 0.0.0.0:0"), "{text}");
    assert!(text.contains("TRUSTED_PROXIES"), "{text}");

    let temp = tempfile::tempdir().unwrap();
    let open_dir = temp.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = refusal(|c| c.data_dir = open_dir.clone()).await;
    assert!(
        text.contains(&format!("chmod 700 {}", open_dir.display())),
        "{text}"
    );

    // A secret file others can read.
    let private = temp.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret_file = private.join("jwt-secret");
    std::fs::write(&secret_file, STRONG_SECRET).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let text = refusal(|c| c.data_dir = private.clone()).await;
    assert!(
        text.contains(&format!("chmod 600 {}", secret_file.display())),
        "{text}"
    );

    let text = refusal(|c| {
        c.trusted_proxies = agenttrace_server::client_ip::parse_cidr_list("0.0.0.0/0").unwrap();
    })
    .await;
    assert!(
        text.contains("TRUSTED_PROXIES") && text.contains("every address"),
        "{text}"
    );

    // Everything at once: each problem is listed, so one round of fixes is enough.
    let text = refusal(|c| {
        c.auth.jwt_secret = None;
        c.allowed_origins = None;
        c.bind = "0.0.0.0:0".parse().unwrap();
        c.data_dir = open_dir.clone();
    })
    .await;
    assert!(text.contains("4 problems"), "{text}");
    assert_eq!(text.matches("fix:").count(), 4, "{text}");

    // Behind a TLS-terminating proxy, a public address is fine.
    let temp = tempfile::tempdir().unwrap();
    let mut config = Config::new("0.0.0.0:0".parse().unwrap(), temp.path().join("data"));
    production(&mut config);
    config.trusted_proxies = agenttrace_server::client_ip::parse_cidr_list("10.0.0.0/8").unwrap();
    assert!(Server::bind(&config).await.is_ok());
}

/// A self-signed certificate for localhost, written as PEM files in `dir`.
fn make_certificate(dir: &std::path::Path) -> (TlsPaths, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let paths = TlsPaths {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&paths.cert, cert.pem()).unwrap();
    std::fs::write(&paths.key, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&paths.key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (paths, cert.der().to_vec())
}

#[tokio::test]
async fn https_is_served_with_the_configured_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let (paths, der) = make_certificate(certs.path());
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data.path().join("data"));
    config.tls = Some(paths);
    let server = Server::bind(&config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age="),
        "{text}"
    );
    assert!(text.contains("\"status\":\"ok\""), "{text}");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/health"))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_refused_at_start() {
    let certs = tempfile::tempdir().unwrap();
    let (paths, _) = make_certificate(certs.path());
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&paths.key, other.serialize_pem()).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), temp.path().join("data"));
    config.tls = Some(paths);
    let error = Server::bind(&config)
        .await
        .err()
        .expect("started with a wrong key");
    assert!(error.to_string().contains("does not belong"), "{error}");
}

#[tokio::test]
async fn public_share_views_are_limited_per_address() {
    let app = spawn_app_with_config(|c| limits(c, |r| r.share = rule(2, 60))).await;
    let id = app.upload_id(&trace_doc("shared")).await;
    let (status, created) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/traces/{id}/share"))),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let view = app.url(&format!(
        "/api/v1/share/{}",
        created["token"].as_str().unwrap()
    ));
    for _ in 0..2 {
        let (status, _) = get_json_with(&app.anonymous, &view).await;
        assert_eq!(status, 200);
    }
    let refused = app.anonymous.get(&view).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "ratelimit-limit"), Some("2"));
    app.clock.advance_secs(60);
    let (status, _) = get_json_with(&app.anonymous, &view).await;
    assert_eq!(status, 200);
}
