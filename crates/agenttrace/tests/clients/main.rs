//! The real tracing SDKs against a live server: each script in `tests/clients/` runs in the
//! virtual environment `tests/clients/.venv` (pinned in `tests/clients/requirements.txt`;
//! `.ci/run` creates it) and sends what an agent in production would; the test then reads the
//! traces back through the API.
//!
//! Without the environment the test fails under CI and passes without running elsewhere
//! (`--nocapture` shows why).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> Option<PathBuf> {
    let python = repo().join("tests/clients/.venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    let message = "the SDK tests need `python3 -m venv tests/clients/.venv && \
                   tests/clients/.venv/bin/pip install -r tests/clients/requirements.txt`";
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("\n*** SKIPPED: {message} ***\n");
    None
}

/// Runs a client script with the environment given; returns what it printed, and fails the
/// test when the script failed.
fn run_script(python: &Path, script: &str, env: &[(&str, String)]) -> String {
    let output = Command::new(python)
        .arg(repo().join("tests/clients").join(script))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{script} failed: {said}");
    said
}

/// The variables an OpenTelemetry exporter is pointed with, as a user sets them.
fn otlp_env(url: &str, key: &str) -> [(&'static str, String); 2] {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url.to_owned()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer%20{key}"),
        ),
    ]
}

struct Server {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agenttrace"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        .env_remove("APP_ENV")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    Server {
        child,
        url,
        _data: data,
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The first account's access token and an ingest key of its personal project.
async fn account(url: &str) -> (String, String) {
    let http = client();
    let credentials = json!({"email": "sdk@example.com", "password": "violet-harbour-kettle-42"});
    http.post(format!("{url}/api/v1/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    let login: Value = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let me: Value = http
        .get(format!("{url}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project = me["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["personal"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key: Value = http
        .post(format!("{url}/api/v1/projects/{project}/api-keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "sdk", "scope": "ingest"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (token, key["key"].as_str().unwrap().to_owned())
}

async fn traces(url: &str, token: &str) -> Vec<Value> {
    let http = client();
    let list: Value = http
        .get(format!("{url}/api/v1/traces"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for item in list["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        out.push(
            http.get(format!("{url}/api/v1/traces/{id}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap(),
        );
    }
    out
}

#[tokio::test]
async fn the_opentelemetry_sdk_exports_protobuf_and_json_to_v1_traces() {
    let Some(python) = python() else {
        return;
    };
    let server = serve();
    let (token, key) = account(&server.url).await;
    let said = run_script(&python, "otel_sdk.py", &otlp_env(&server.url, &key));
    assert!(!said.contains("Failed to export"), "{said}");

    let traces = traces(&server.url, &token).await;
    assert_eq!(traces.len(), 2, "one trace per exporter: {traces:?}");
    for trace in &traces {
        let service = trace["metadata"]["service.name"].as_str().unwrap();
        assert!(
            service == "otel-protobuf" || service == "otel-json",
            "{service}"
        );
        assert_eq!(trace["name"], "invoke_agent weather", "{service}");
        assert_eq!(trace["source_format"], "otlp");
        assert_eq!(trace["status"], "error");
        assert_eq!(trace["session_id"], "session-42");
        let steps = trace["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 3, "{service}: {trace}");
        let root = steps.iter().find(|s| s["parent_id"].is_null()).unwrap();
        assert_eq!(root["kind"], "agent");
        assert!(
            steps
                .iter()
                .filter(|s| s["parent_id"].is_string())
                .all(|s| s["parent_id"] == root["id"])
        );
        let llm = steps.iter().find(|s| s["kind"] == "llm").unwrap();
        assert_eq!(llm["name"], "chat gpt-4o-mini");
        assert_eq!(llm["model"], "gpt-4o-mini");
        assert_eq!(llm["usage"]["input_tokens"], 900);
        assert_eq!(llm["usage"]["output_tokens"], 120);
        assert_eq!(llm["input"][0]["parts"][0]["content"], "Weather in Paris?");
        assert_eq!(llm["output"][0]["parts"][0]["name"], "get_weather");
        let tool = steps.iter().find(|s| s["kind"] == "tool").unwrap();
        assert_eq!(tool["input"]["city"], "Paris");
        assert_eq!(tool["status"], "error");
        assert_eq!(tool["error"]["type"], "ConnectionError");
        assert!(
            tool["error"]["message"]
                .as_str()
                .unwrap()
                .contains("404 Not Found")
        );
        assert!(
            tool["error"]["stack"]
                .as_str()
                .unwrap()
                .contains("Traceback")
        );
    }
}

#[tokio::test]
async fn the_openai_agents_sdk_exports_its_runs_to_v1_traces_ingest() {
    let Some(python) = python() else {
        return;
    };
    let server = serve();
    let (token, key) = account(&server.url).await;
    let said = run_script(
        &python,
        "openai_agents_sdk.py",
        &[
            ("AGENTTRACE_URL", server.url.clone()),
            ("AGENTTRACE_KEY", key.clone()),
        ],
    );
    assert!(said.contains("final: The answer is 3"), "{said}");

    let traces = traces(&server.url, &token).await;
    assert_eq!(traces.len(), 1, "{traces:?}");
    let trace = &traces[0];
    assert_eq!(trace["name"], "calc-flow");
    assert_eq!(trace["source_format"], "openai-agents");
    assert_eq!(trace["session_id"], "sess-1");
    assert_eq!(trace["status"], "error", "a tool failed");
    let steps = trace["steps"].as_array().unwrap();
    let root = steps.iter().find(|s| s["parent_id"].is_null()).unwrap();
    assert_eq!(root["name"], "calc-flow");
    let agent = steps
        .iter()
        .find(|s| s["kind"] == "agent" && s["name"] == "Calc")
        .unwrap();
    let generations: Vec<&Value> = steps.iter().filter(|s| s["kind"] == "llm").collect();
    assert_eq!(generations.len(), 2, "{trace}");
    assert!(generations.iter().all(|g| g["model"] == "scripted-gpt"));
    assert!(generations.iter().all(|g| g["usage"]["input_tokens"] == 10));
    let tool = |name: &str| {
        steps
            .iter()
            .find(|s| s["kind"] == "tool" && s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} step in {trace}"))
    };
    assert_eq!(tool("add")["input"], json!({"a": 1, "b": 2}));
    assert_eq!(tool("add")["status"], "ok");
    assert_eq!(tool("explode")["status"], "error");
    assert!(tool("explode")["error"]["message"].is_string());
    // Everything hangs under the workflow, through the agent.
    let ids: Vec<&Value> = steps.iter().map(|s| &s["id"]).collect();
    assert!(
        steps
            .iter()
            .all(|s| s["parent_id"].is_null() || ids.contains(&&s["parent_id"]))
    );
    assert!(
        !agent["parent_id"].is_null(),
        "the agent hangs under the workflow"
    );
}

#[tokio::test]
async fn openinference_langchain_spans_become_a_readable_agent_run() {
    let Some(python) = python() else {
        return;
    };
    let server = serve();
    let (token, key) = account(&server.url).await;
    let said = run_script(
        &python,
        "openinference_langchain.py",
        &otlp_env(&server.url, &key),
    );
    assert!(said.contains("final: The answer is 3"), "{said}");

    let traces = traces(&server.url, &token).await;
    assert_eq!(traces.len(), 1, "{traces:?}");
    let trace = &traces[0];
    assert_eq!(trace["name"], "agent");
    assert_eq!(trace["metadata"]["service.name"], "langchain-agent");
    let steps = trace["steps"].as_array().unwrap();
    let root = steps.iter().find(|s| s["parent_id"].is_null()).unwrap();
    assert_eq!(root["kind"], "agent");
    let llms: Vec<&Value> = steps.iter().filter(|s| s["kind"] == "llm").collect();
    assert_eq!(llms.len(), 2, "{trace}");
    assert!(llms.iter().all(|l| l["model"] == "fake-gpt-4"));
    let tokens: Vec<&Value> = llms.iter().map(|l| &l["usage"]["total_tokens"]).collect();
    assert!(
        tokens.contains(&&json!(19)) && tokens.contains(&&json!(25)),
        "{tokens:?}"
    );
    assert!(
        llms.iter()
            .any(|l| l["input"].to_string().contains("what is 1+2?")),
        "the prompt is readable: {trace}"
    );
    let tool = |name: &str| {
        steps
            .iter()
            .find(|s| s["kind"] == "tool" && s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} tool in {trace}"))
    };
    assert_eq!(tool("add")["status"], "ok");
    assert!(tool("add")["output"].to_string().contains('3'));
    assert_eq!(tool("explode")["status"], "error");
    assert!(
        tool("explode")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tool exploded")
    );
    assert_eq!(trace["status"], "error");
}
