//! `spawn_app()`: the real server on port 0 with a temporary data folder, a manual clock, and a
//! client signed in as the instance's first user (its owner and admin).

use agenttrace_core::Limits;
use agenttrace_server::clock::ManualClock;
use agenttrace_server::{Config, Server};
use reqwest::Client;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A password every test account uses; long enough and not a common one.
pub const PASSWORD: &str = "violet-harbour-kettle-42";
pub const OWNER: &str = "owner@example.com";

pub struct TestApp {
    pub addr: SocketAddr,
    /// Signed in as [`OWNER`].
    pub client: Client,
    /// A client with no credentials.
    pub anonymous: Client,
    pub data_dir: PathBuf,
    pub clock: ManualClock,
    pub owner_token: String,
    /// The owner's personal project.
    pub project_id: String,
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
    start(data_dir, |config| config.limits = limits).await
}

/// Starts the server on `data_dir` with the configuration `edit` leaves, and signs in the owner
/// (registering it on a fresh folder).
async fn start(data_dir: &Path, edit: impl FnOnce(&mut Config)) -> TestApp {
    install_tls_provider();
    let clock = ManualClock::new();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data_dir.to_owned());
    edit(&mut config);
    // The clock the test moves must be the one the server reads.
    config.clock = Arc::new(clock.clone());
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
    let anonymous = Client::new();
    let base = format!("http://{addr}");
    // Register the owner on a fresh folder; sign in on a reused one.
    let _ = anonymous
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": OWNER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let owner_token = login_at(&anonymous, &base, OWNER).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = client_with(&owner_token);
    let me: Value = client
        .get(format!("{base}/api/v1/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project_id = me["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["personal"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    TestApp {
        addr,
        client,
        anonymous,
        data_dir: data_dir.to_owned(),
        clock,
        owner_token,
        project_id,
        _temp: None,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

async fn login_at(client: &Client, base: &str, email: &str) -> Value {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "login of {email}");
    response.json().await.unwrap()
}

/// The process's TLS provider: the HTTP client is built with TLS support (the one Sentry uses)
/// that leaves the choice of provider to the program.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client that sends `Authorization: Bearer <token>` on every request.
pub fn client_with(token: &str) -> Client {
    install_tls_provider();
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    Client::builder().default_headers(headers).build().unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Registers an account (as the admin, so it works with registration closed) and returns
    /// its id and personal project id.
    pub async fn register(&self, email: &str) -> (String, String) {
        let response = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "register {email}");
        let body: Value = response.json().await.unwrap();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["personal_project_id"].as_str().unwrap().to_owned(),
        )
    }

    /// Signs in and returns the token pair.
    pub async fn login(&self, email: &str) -> Value {
        login_at(&self.anonymous, &format!("http://{}", self.addr), email).await
    }

    /// A client signed in as `email`.
    pub async fn client_for(&self, email: &str) -> Client {
        client_with(self.login(email).await["access_token"].as_str().unwrap())
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

    /// Uploads a document that must be accepted; returns the new trace's id.
    pub async fn upload_id(&self, doc: &Value) -> String {
        self.upload_ok(doc).await["id"].as_str().unwrap().to_owned()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        get_json_with(&self.client, &self.url(path)).await
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

/// GET with a given client; the body as JSON (or as a string when it is not JSON).
pub async fn get_json_with(client: &Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The repository's examples folder.
pub fn example(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    std::fs::read(path).unwrap()
}

/// Like [`spawn_app`], but `edit` may change the configuration first (for example
/// `config.auth.allow_registration = Some(false)`).
pub async fn spawn_app_with_config(edit: impl FnOnce(&mut Config)) -> TestApp {
    let temp = tempfile::tempdir().unwrap();
    let mut app = start(&temp.path().join("data"), edit).await;
    app._temp = Some(temp);
    app
}

/// Sends a request and returns its status and body (JSON, or the text as a JSON string).
pub async fn send_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Every file under `dir` (recursively) whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(path);
            }
        }
    }
    found
}
