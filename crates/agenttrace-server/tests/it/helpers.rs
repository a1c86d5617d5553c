//! `spawn_app()`: the real server on port 0 with a temporary data folder.

use agenttrace_core::Limits;
use agenttrace_server::{Config, Server};
use reqwest::Client;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Limits::default()).await
}

pub async fn spawn_app_with(limits: Limits) -> TestApp {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut app = spawn_app_in(&data_dir, limits).await;
    app._temp = Some(temp);
    app
}

pub async fn spawn_app_in(data_dir: &Path, limits: Limits) -> TestApp {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data_dir.to_owned());
    config.limits = limits;
    let server = Server::bind(&config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        server
            .run(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    TestApp {
        addr,
        client: Client::new(),
        data_dir: data_dir.to_owned(),
        _temp: None,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the server gracefully and waits until the database is closed; the data folder
    /// stays (the temporary folder lives as long as the returned guard).
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap();
        }
        self._temp.take()
    }

    pub async fn upload_json(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/traces"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Uploads a document that must be accepted; returns the 201 body.
    pub async fn upload_ok(&self, doc: &Value) -> Value {
        let response = self.upload_json(serde_json::to_vec(doc).unwrap()).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "upload refused: {body}");
        body
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn trace(&self, id: &str) -> Value {
        let (status, body) = self.get_json(&format!("/api/v1/traces/{id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn trace_count(&self) -> usize {
        let (status, body) = self.get_json("/api/v1/traces?limit=200").await;
        assert_eq!(status, 200);
        body["items"].as_array().unwrap().len()
    }
}

/// The repository's examples folder.
pub fn example(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    std::fs::read(path).unwrap()
}
