//! Tests of the `agenttrace` binary itself: help, import, and serve with its graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agenttrace_store::{SqliteStore, TraceStore};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

mod hardening;

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agenttrace"));
    command
        .env_remove("AGENTTRACE_DATA_DIR")
        .env_remove("AGENTTRACE_BIND");
    // Nothing from the machine running the tests may change what the binary does.
    for name in [
        "APP_ENV",
        "JWT_SECRET_KEY",
        "ALLOWED_ORIGINS",
        "TRUSTED_PROXIES",
        "CSP_POLICY",
        "SSL_CERT_PATH",
        "SSL_KEY_PATH",
        "SENTRY_DSN",
        "METRICS_TOKEN",
        "RATE_LIMIT_ENABLED",
        "AGENTTRACE_LOG_FORMAT",
    ] {
        command.env_remove(name);
    }
    command
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_describes_every_command() {
    let output = bin().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = text(&output);
    assert!(help.contains("debugger for AI agents"), "{help}");
    assert!(help.contains("serve") && help.contains("import"), "{help}");

    let output = bin().args(["serve", "--help"]).output().unwrap();
    let help = text(&output);
    for needle in [
        "--bind",
        "AGENTTRACE_BIND",
        "--data-dir",
        "AGENTTRACE_DATA_DIR",
        "127.0.0.1:8080",
        "SIGTERM",
    ] {
        assert!(help.contains(needle), "serve --help lacks {needle}: {help}");
    }
    let output = bin().args(["import", "--help"]).output().unwrap();
    let help = text(&output);
    assert!(help.contains("FILE_OR_DIR"), "{help}");
    assert!(help.contains("by content"), "{help}");
}

#[tokio::test]
async fn import_loads_files_and_folders_and_reports_rejections() {
    let temp = tempfile::tempdir().unwrap();
    let inbox = temp.path().join("inbox");
    std::fs::create_dir_all(inbox.join("nested")).unwrap();
    std::fs::copy(
        examples().join("weather-agent.json"),
        inbox.join("weather.json"),
    )
    .unwrap();
    // JSON is recognised by content: a trace without the .json extension is imported.
    std::fs::copy(
        examples().join("legacy-steps.json"),
        inbox.join("nested/run.log"),
    )
    .unwrap();
    std::fs::write(inbox.join("nested/picture.json"), b"\x89PNG\r\n\x1a\nrest").unwrap();
    std::fs::write(inbox.join("broken.json"), b"{\"steps\": [").unwrap();
    std::fs::write(inbox.join(".hidden.json"), b"[]").unwrap();
    let data = temp.path().join("data");

    let output = bin()
        .arg("import")
        .arg(&inbox)
        .arg(examples().join("failing-run.json"))
        .arg(temp.path().join("missing.json"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("imported 3 traces (16 steps"), "{report}");
    assert!(report.contains("rejected 3 files"), "{report}");
    assert!(
        report.contains("picture.json: the content is not JSON"),
        "{report}"
    );
    assert!(
        report.contains("broken.json: malformed JSON at line 1, column 11"),
        "{report}"
    );
    assert!(report.contains("missing.json"), "{report}");
    assert!(!report.contains(".hidden"), "{report}");

    let store = SqliteStore::open(&data).await.unwrap();
    assert_eq!(store.counts().await.unwrap(), (3, 16));
    store.close().await;

    let output = bin()
        .args(["import"])
        .arg(examples().join("weather-agent.json"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("imported 1 trace (6 steps"));
}

/// A running `agenttrace serve` and the address it printed.
struct Served {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

fn serve(data: &Path) -> Served {
    serve_with(data, &[], Stdio::null())
}

/// Starts `agenttrace serve` on a free port with extra flags, reading the URL it prints.
fn serve_with(data: &Path, flags: &[&str], stderr: impl Into<Stdio>) -> Served {
    serve_with_env(data, flags, &[], stderr)
}

/// Like [`serve_with`], with extra environment variables.
fn serve_with_env(
    data: &Path,
    flags: &[&str],
    env: &[(&str, &str)],
    stderr: impl Into<Stdio>,
) -> Served {
    let mut child = bin()
        .arg("serve")
        .args(flags)
        .envs(env.iter().copied())
        .env("AGENTTRACE_BIND", "127.0.0.1:0")
        .env("AGENTTRACE_DATA_DIR", data)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no URL printed: {line:?}"))
        .to_owned();
    assert!(line.contains("data folder"), "{line}");
    Served {
        child,
        addr,
        stdout,
    }
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Registers the first account of a fresh server and returns an access token.
async fn first_account_token(client: &reqwest::Client, addr: &str) -> String {
    let credentials =
        serde_json::json!({"email": "ops@example.com", "password": "violet-harbour-kettle-42"});
    let registered = client
        .post(format!("http://{addr}/api/v1/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let login: serde_json::Value = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

/// Sends a raw HTTP request head and part of its body, leaving the request in flight.
fn start_upload(addr: &str, token: &str, body: &[u8], sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..sent]).unwrap();
    stream.flush().unwrap();
    stream
}

#[tokio::test]
async fn serve_prints_its_url_and_shuts_down_gracefully_on_sigterm() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("fresh/data");
    let mut served = serve(&data);
    assert!(
        data.join("agenttrace.db").exists(),
        "the database is created on first start"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("agenttrace.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the database is readable by its owner only: {mode:o}"
        );
    }

    let client = http_client();
    let health = client
        .get(format!("http://{}/health", served.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let token = first_account_token(&client, &served.addr).await;

    // A request is in flight (half its body sent) when SIGTERM arrives: it must still complete.
    let body = std::fs::read(examples().join("weather-agent.json")).unwrap();
    let mut in_flight = start_upload(&served.addr, &token, &body, body.len() / 2);
    std::thread::sleep(Duration::from_millis(200));
    terminate(&served.child);
    std::thread::sleep(Duration::from_millis(300));
    in_flight.write_all(&body[body.len() / 2..]).unwrap();
    let mut response = String::new();
    in_flight.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let status = served.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    let mut rest = String::new();
    served.stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped cleanly"), "{rest}");
    let wal = data.join("agenttrace.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the database is checkpointed and closed"
    );

    let store = SqliteStore::open(&data).await.unwrap();
    assert_eq!(
        store.counts().await.unwrap(),
        (1, 6),
        "the in-flight upload was kept"
    );
    assert_eq!(store.integrity_check().await.unwrap(), ["ok"]);
    store.close().await;
}

#[test]
fn serve_refuses_bad_limits_with_a_clear_message() {
    let temp = tempfile::tempdir().unwrap();
    let output = bin()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--max-depth",
            "1000",
            "--data-dir",
        ])
        .arg(temp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("max depth must be between 1 and 127"),
        "{}",
        text(&output)
    );
}

#[tokio::test]
async fn logs_record_redactions_but_never_secrets_bodies_or_credentials() {
    let temp = tempfile::tempdir().unwrap();
    let log_path = temp.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let Served {
        mut child, addr, ..
    } = serve_with(&temp.path().join("data"), &["--log", "debug"], log);

    let github = format!("ghp_{}", "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8");
    let password = "correct-horse-battery-staple-42";
    let header_token = "header-credential-7c1d9e2f";
    let doc = serde_json::json!({"name": "leaky", "steps": [
        {"id": "a", "input": {"token": github, "db": {"password": password}}, "output": "body-marker-text"}
    ]});
    let client = http_client();
    let access = first_account_token(&client, &addr).await;
    let response = client
        .post(format!("http://{addr}/api/v1/traces"))
        .header("authorization", format!("Bearer {access}"))
        .header(
            "x-forwarded-authorization",
            format!("Bearer {header_token}"),
        )
        .header("cookie", format!("session={header_token}"))
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // A refused body must not be echoed into the log either.
    let refused = client
        .post(format!("http://{addr}/api/v1/traces"))
        .header("authorization", format!("Bearer {access}"))
        .header("content-type", "application/json")
        .body(format!("{{\"steps\": [{{\"secret\": \"{password}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // Share tokens travel in paths; they are masked in the request log.
    let traces: serde_json::Value = client
        .get(format!("http://{addr}/api/v1/traces"))
        .header("authorization", format!("Bearer {access}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trace_id = traces["items"][0]["id"].as_str().unwrap().to_owned();
    let share: serde_json::Value = client
        .post(format!("http://{addr}/api/v1/traces/{trace_id}/share"))
        .header("authorization", format!("Bearer {access}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let share_token = share["token"].as_str().unwrap().to_owned();
    let shared = client
        .get(format!("http://{addr}/api/v1/share/{share_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);
    // Query strings are not logged: they can carry credentials.
    let listed = client
        .get(format!(
            "http://{addr}/api/v1/traces?api_key={header_token}"
        ))
        .header("authorization", format!("Bearer {access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    terminate(&child);
    assert!(child.wait().unwrap().success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("data_sanitized"), "{log}");
    assert!(
        log.contains("/steps/0/input/token"),
        "the pointer of each redaction is logged: {log}"
    );
    for secret in [
        github.as_str(),
        password,
        header_token,
        access.as_str(),
        share_token.as_str(),
        "body-marker-text",
    ] {
        assert!(!log.contains(secret), "{secret:?} reached the log");
    }
}

#[tokio::test]
async fn a_stalled_upload_cannot_hold_the_shutdown() {
    let temp = tempfile::tempdir().unwrap();
    let Served {
        mut child, addr, ..
    } = serve_with(
        &temp.path().join("data"),
        &["--shutdown-grace-secs", "1"],
        Stdio::null(),
    );
    let token = first_account_token(&http_client(), &addr).await;
    // Headers promise 1000 bytes; 10 arrive and the client goes quiet.
    let _stalled = start_upload(&addr, &token, &[b' '; 1000], 10);
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    terminate(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the server waited {:?} for a stalled client",
        started.elapsed()
    );
}

#[tokio::test]
async fn user_create_makes_an_account_that_can_sign_in() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let create = |email: &str, password: &str| {
        let mut child = bin()
            .args(["user", "create", "--email", email, "--data-dir"])
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let expect = |output: Output, success: bool, needle: &str| {
        assert_eq!(output.status.success(), success, "{}", text(&output));
        assert!(
            text(&output).contains(needle),
            "{needle:?} missing: {}",
            text(&output)
        );
    };
    expect(
        create("Admin@Example.com", "violet-harbour-kettle-42"),
        true,
        "created admin@example.com, instance admin",
    );
    expect(
        create("admin@example.com", "violet-harbour-kettle-42"),
        false,
        "already exists",
    );
    // The policy names the minimum length.
    expect(create("weak@example.com", "password"), false, "12");

    let mut served = serve(&data);
    let login = http_client()
        .post(format!("http://{}/api/v1/auth/login", served.addr))
        .json(&serde_json::json!({"email": "admin@example.com", "password": "violet-harbour-kettle-42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    terminate(&served.child);
    assert!(served.child.wait().unwrap().success());
}

#[test]
fn production_refuses_to_start_without_a_jwt_secret() {
    let temp = tempfile::tempdir().unwrap();
    let output = bin()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--app-env",
            "production",
            "--data-dir",
        ])
        .arg(temp.path())
        .env_remove("JWT_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        text(&output).contains("JWT_SECRET_KEY"),
        "{}",
        text(&output)
    );
}

/// An HTTP client, with the TLS provider the program itself installs.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
