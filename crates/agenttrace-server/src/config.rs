//! Server configuration: one struct, filled by the binary from defaults, environment and flags.

use crate::clock::{Clock, SystemClock};
use agenttrace_core::Limits;
use agenttrace_core::redact::RedactConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The default address: loopback only, so a fresh install is not reachable from the network.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// `APP_ENV`: development is forgiving (generated secrets, open registration), production strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppEnv {
    #[default]
    Development,
    Production,
}

impl std::str::FromStr for AppEnv {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(AppEnv::Development),
            "production" | "prod" => Ok(AppEnv::Production),
            other => Err(format!(
                "APP_ENV must be development or production, got {other:?}"
            )),
        }
    }
}

/// Accounts and tokens.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `JWT_SECRET_KEY`; in development a secret is generated in the data folder when unset.
    pub jwt_secret: Option<String>,
    /// `ALLOW_REGISTRATION`; `None` means the mode's default (on in development, off in
    /// production). The first account can always register.
    pub allow_registration: Option<bool>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Failed sign-ins within `lockout_duration` before the account is locked.
    pub lockout_threshold: u32,
    pub lockout_duration: Duration,
    /// Mark session cookies `Secure` (on when serving HTTPS or in production).
    pub secure_cookies: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_secret: None,
            allow_registration: None,
            access_ttl: Duration::from_secs(30 * 60),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(15 * 60),
            secure_cookies: false,
        }
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub env: AppEnv,
    pub limits: Limits,
    pub redact: RedactConfig,
    pub auth: AuthConfig,
    pub clock: Arc<dyn Clock>,
    /// A request still unanswered after this gets 408 (a stalled upload cannot hold a
    /// connection, or a shutdown, forever).
    pub request_timeout: Duration,
    /// After a shutdown signal, how long requests in flight may take before they are cut.
    pub shutdown_grace: Duration,
}

impl Config {
    /// A configuration with the defaults, storing in `data_dir`.
    pub fn new(bind: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            bind,
            data_dir,
            env: AppEnv::Development,
            limits: Limits::default(),
            redact: RedactConfig::default(),
            auth: AuthConfig::default(),
            clock: Arc::new(SystemClock),
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }

    pub fn registration_open(&self) -> bool {
        self.auth
            .allow_registration
            .unwrap_or(self.env == AppEnv::Development)
    }
}
