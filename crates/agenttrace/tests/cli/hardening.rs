//! The binary in production: refusals, the doctor's checklist, JSON security logs, Sentry and
//! the container health check.

use super::{Served, bin, examples, http_client, serve_with, serve_with_env, terminate, text};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::{Duration as Days, OffsetDateTime};

const SECRET: &str = "q8Jv2mR7tXw4LpZ9nB3cF6hK1sD5gY0aUeVoIiTr";
const ORIGIN: &str = "https://traces.example.com";

/// The environment of a production start that is safe (on loopback).
fn production(command: &mut Command) -> &mut Command {
    command
        .env("APP_ENV", "production")
        .env("JWT_SECRET_KEY", SECRET)
        .env("ALLOWED_ORIGINS", ORIGIN)
}

#[test]
fn production_lists_every_problem_with_its_fix_at_once() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = bin()
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env("APP_ENV", "production")
        .env("ALLOWED_ORIGINS", "*")
        .env("AGENTTRACE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = text(&output);
    for needle in [
        "refuses to start: 4 problems",
        "JWT_SECRET_KEY: not set",
        "ALLOWED_ORIGINS: contains `*`",
        "plain HTTP on 0.0.0.0:0",
        &format!("chmod 700 {}", data.display()),
    ] {
        assert!(said.contains(needle), "lacks {needle:?}: {said}");
    }
    assert_eq!(said.matches("fix:").count(), 4, "{said}");
}

/// A certificate for localhost valid from `from_days` to `to_days` around today, written with
/// its key (mode 0600) in `dir`.
fn certificate(dir: &Path, from_days: i64, to_days: i64) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let now = OffsetDateTime::now_utc();
    params.not_before = now + Days::days(from_days);
    params.not_after = now + Days::days(to_days);
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    (cert_path, key_path)
}

/// A data folder with a migrated database in it.
fn data_folder(root: &Path) -> PathBuf {
    let data = root.join("data");
    let output = bin()
        .arg("import")
        .arg(examples().join("weather-agent.json"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    data
}

#[test]
fn doctor_passes_a_good_setup() {
    let temp = tempfile::tempdir().unwrap();
    let data = data_folder(temp.path());
    let (cert, key) = certificate(temp.path(), -1, 90);
    let doctor = |json: bool| {
        let mut command = bin();
        production(&mut command)
            .arg("doctor")
            .args(if json { vec!["--json"] } else { vec![] })
            .args(["--bind", "0.0.0.0:8443"])
            .env("AGENTTRACE_DATA_DIR", &data)
            .env("SSL_CERT_PATH", &cert)
            .env("SSL_KEY_PATH", &key)
            .env("SENTRY_DSN", "https://public@sentry.example.com/42");
        command.output().unwrap()
    };
    let output = doctor(false);
    let said = text(&output);
    assert!(output.status.success(), "{said}");
    for needle in [
        "✓ JWT secret",
        "✓ CORS origins",
        "✓ Rate limiting",
        "✓ Security headers",
        "✓ TLS",
        "certificate for localhost loads, matches its key",
        "✓ Database",
        "✓ Error tracking",
        "✓ File permissions",
        "✓ Free disk",
        "ready for production",
    ] {
        assert!(said.contains(needle), "lacks {needle:?}: {said}");
    }
    assert!(!said.contains(SECRET), "the doctor printed the secret");

    let output = doctor(true);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "jwt_secret",
        "cors",
        "rate_limiting",
        "security_headers",
        "tls",
        "database",
        "error_tracking",
        "backups",
        "file_permissions",
        "free_disk",
    ] {
        assert!(ids.contains(&id), "no {id} in {ids:?}");
    }
}

#[test]
fn doctor_fails_a_bad_setup_with_a_fix_for_each_problem() {
    let temp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(temp.path(), -30, -1);
    let output = bin()
        .args(["doctor", "--bind", "0.0.0.0:8443"])
        .env("AGENTTRACE_DATA_DIR", temp.path().join("nothing-here"))
        .env("JWT_SECRET_KEY", "changeme-changeme-changeme-changeme!")
        .env("ALLOWED_ORIGINS", "*")
        .env("RATE_LIMIT_ENABLED", "false")
        .env("SSL_CERT_PATH", &cert)
        .env("SSL_KEY_PATH", &key)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let said = text(&output);
    for needle in [
        "✗ JWT secret",
        "placeholder",
        "✗ CORS origins",
        "✗ Rate limiting",
        "✗ TLS",
        "expired",
        "✗ Database",
        "no database yet",
        "✗ Error tracking",
        "not ready for production",
    ] {
        assert!(said.contains(needle), "lacks {needle:?}: {said}");
    }
    assert!(said.matches("fix:").count() >= 6, "{said}");

    let output = bin()
        .args(["doctor", "--json"])
        .env("AGENTTRACE_DATA_DIR", temp.path().join("nothing-here"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let jwt = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "jwt_secret")
        .unwrap();
    assert_eq!(jwt["ok"], false);
    assert_eq!(jwt["required"], true);
    assert!(jwt["fix"].as_str().unwrap().contains("openssl rand"));
}

#[tokio::test]
async fn security_events_are_json_lines_with_the_guides_fields() {
    let temp = tempfile::tempdir().unwrap();
    let log_path = temp.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = temp.path().join("data");
    let Served {
        mut child, addr, ..
    } = serve_with_env(
        &data,
        &[],
        &[
            ("APP_ENV", "production"),
            ("JWT_SECRET_KEY", SECRET),
            ("ALLOWED_ORIGINS", ORIGIN),
            ("RATE_LIMIT_AUTH_REQUESTS", "2"),
            ("RATE_LIMIT_API_REQUESTS", "1"),
        ],
        log,
    );
    let client = http_client();
    let credentials =
        serde_json::json!({"email": "ops@example.com", "password": "violet-harbour-kettle-42"});
    let registered = client
        .post(format!("http://{addr}/api/v1/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let login = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The third sign-in from this address within the window is refused.
    let refused = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .header("user-agent", "field-test-agent/1.0")
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let refused_id = refused.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // A signed-in user over the API limit: the event names the principal.
    for _ in 0..2 {
        let _ = client
            .get(format!("http://{addr}/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    }
    terminate(&child);
    assert!(child.wait().unwrap().success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .collect();
    let events: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["event"] == "rate_limit_exceeded")
        .collect();
    assert_eq!(events.len(), 2, "{log}");
    let sign_in = events
        .iter()
        .find(|e| e["endpoint"] == "/api/v1/auth/login")
        .unwrap();
    for field in [
        "timestamp",
        "level",
        "event",
        "client_ip",
        "user_agent",
        "endpoint",
        "request_id",
    ] {
        assert!(sign_in.get(field).is_some(), "no {field} in {sign_in}");
    }
    assert_eq!(sign_in["level"], "WARN");
    assert_eq!(sign_in["client_ip"], "127.0.0.1");
    assert_eq!(sign_in["user_agent"], "field-test-agent/1.0");
    assert_eq!(sign_in["request_id"], refused_id.as_str());
    assert!(
        time_like(sign_in["timestamp"].as_str().unwrap()),
        "{sign_in}"
    );
    let api = events
        .iter()
        .find(|e| e["endpoint"] == "/api/v1/me")
        .unwrap();
    assert!(
        api["principal"].as_str().unwrap().starts_with("user:"),
        "{api}"
    );
    // Every line logged while answering a request carries its id.
    let answered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "request answered")
        .collect();
    assert!(answered.len() >= 5);
    assert!(answered.iter().all(|l| l["request_id"].is_string()));
    assert!(!log.contains(SECRET) && !log.contains(&token));
}

fn time_like(text: &str) -> bool {
    text.len() >= 20 && text.as_bytes()[4] == b'-' && text.contains('T')
}

/// A stand-in Sentry: accepts envelopes over HTTP and keeps their bodies.
fn fake_sentry() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            keep.lock()
                .unwrap()
                .push(format!("{head}{}", String::from_utf8_lossy(&body)));
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    (port, received)
}

#[tokio::test]
async fn server_errors_reach_sentry_without_bodies_cookies_or_credentials() {
    let (port, received) = fake_sentry();
    let temp = tempfile::tempdir().unwrap();
    let dsn = format!("http://publickey@127.0.0.1:{port}/42");
    let Served {
        mut child, addr, ..
    } = serve_with(
        &temp.path().join("data"),
        &[
            "--sentry-dsn",
            &dsn,
            // No disk is that large: readiness answers 503.
            "--min-free-disk-mb",
            "18446744073709551615",
        ],
        Stdio::null(),
    );
    let response = http_client()
        .get(format!("http://{addr}/health/ready?token=query-secret-1"))
        .header("authorization", "Bearer header-secret-2")
        .header("cookie", "agenttrace_session=cookie-secret-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    let deadline = Instant::now() + Duration::from_secs(20);
    let report = loop {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .find(|body| body.contains("503 on GET /health/ready"))
            .cloned();
        if let Some(body) = found {
            break body;
        }
        assert!(Instant::now() < deadline, "nothing reached Sentry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(report.contains("/api/42/envelope/"), "{report}");
    assert!(report.contains("sentry_key=publickey"), "{report}");
    terminate(&child);
    assert!(child.wait().unwrap().success());
    let everything = received.lock().unwrap().join("\n");
    for secret in ["query-secret-1", "header-secret-2", "cookie-secret-3"] {
        assert!(!everything.contains(secret), "{secret} reached Sentry");
    }
}

#[test]
fn healthcheck_asks_a_running_server() {
    let temp = tempfile::tempdir().unwrap();
    let Served {
        mut child, addr, ..
    } = serve_with(&temp.path().join("data"), &[], Stdio::null());
    let output = bin()
        .args(["healthcheck", "--addr", &addr])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    terminate(&child);
    assert!(child.wait().unwrap().success());
    let output = bin()
        .args(["healthcheck", "--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("unhealthy"), "{}", text(&output));
}

#[test]
fn healthcheck_speaks_tls_to_a_tls_server() {
    let temp = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(temp.path(), -1, 30);
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let Served {
        mut child, addr, ..
    } = serve_with(
        &temp.path().join("data"),
        &["--ssl-cert-path", cert, "--ssl-key-path", key],
        Stdio::null(),
    );
    let output = bin()
        .args(["healthcheck", "--addr", &addr, "--tls"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // SSL_CERT_PATH, as a container passes it to `serve`, turns TLS on for the probe too.
    let output = bin()
        .args(["healthcheck", "--addr", &addr])
        .env("SSL_CERT_PATH", cert)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // Plain HTTP to a TLS server is no answer.
    let output = bin()
        .args(["healthcheck", "--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    terminate(&child);
    assert!(child.wait().unwrap().success());
}
