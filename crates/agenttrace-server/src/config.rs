//! Server configuration: one struct, filled by the binary from defaults, environment and flags.

use crate::client_ip::{Cidr, ForwardedHeader};
use crate::clock::{Clock, SystemClock};
use crate::security::rate_limit::RateLimitConfig;
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

/// The HTTP connection's own limits, enforced before a request reaches the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A client must send its whole request head (or finish the TLS handshake) within this.
    pub header_read_timeout: Duration,
    /// The largest request head (request line and headers), in bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// The most header lines in one request; more gets 431.
    pub max_headers: usize,
    /// Requests handled at once; more are shed with 503 and `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Connections open at once; more wait in the listen queue until one closes.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_concurrent_requests: 512,
            max_connections: 4096,
        }
    }
}

/// `SSL_CERT_PATH` and `SSL_KEY_PATH`: serve HTTPS with this certificate chain and key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
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
    /// `ALLOWED_ORIGINS`: the browser origins that may call the API with credentials. `None`
    /// when unset (production refuses to start then).
    pub allowed_origins: Option<Vec<String>>,
    /// `TRUSTED_PROXIES`: peers whose forwarding header is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// `TRUSTED_PROXY_HEADER`: the one header those proxies write the client's address in.
    pub proxy_header: ForwardedHeader,
    /// `CSP_POLICY`: replaces the built-in Content-Security-Policy.
    pub csp_policy: Option<String>,
    /// `SSL_CERT_PATH` / `SSL_KEY_PATH`.
    pub tls: Option<TlsPaths>,
    pub http: HttpLimits,
    pub rate_limit: RateLimitConfig,
    /// `METRICS_TOKEN`: `/metrics` asks for it as a bearer token. Without one, `/metrics` is open
    /// in development and off in production.
    pub metrics_token: Option<String>,
    /// `SENTRY_DSN`, as far as the server needs to know (the binary turns Sentry on).
    pub sentry_enabled: bool,
    /// `/health/ready` fails when the data folder's file system has less free space than this.
    pub min_free_disk_bytes: u64,
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
            allowed_origins: None,
            trusted_proxies: Vec::new(),
            proxy_header: ForwardedHeader::default(),
            csp_policy: None,
            tls: None,
            http: HttpLimits::default(),
            rate_limit: RateLimitConfig::default(),
            metrics_token: None,
            sentry_enabled: false,
            min_free_disk_bytes: 100 * 1024 * 1024,
        }
    }

    /// Whether requests are rate limited: as configured, else on in production only.
    pub fn rate_limit_enabled(&self) -> bool {
        self.rate_limit
            .enabled
            .unwrap_or(self.env == AppEnv::Production)
    }

    /// The scheme the server speaks.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn registration_open(&self) -> bool {
        self.auth
            .allow_registration
            .unwrap_or(self.env == AppEnv::Development)
    }
}
