//! Command-line arguments and the `serve` command.

use crate::import;
use crate::say;
use agenttrace_core::Limits;
use agenttrace_core::limits::MIB;
use agenttrace_core::redact::RedactConfig;
use agenttrace_server::client_ip::{ForwardedHeader, parse_cidr_list};
use agenttrace_server::config::{AppEnv, AuthConfig, DEFAULT_BIND, HttpLimits, TlsPaths};
use agenttrace_server::security::rate_limit::RateLimitConfig;
use agenttrace_server::serve::shutdown_signal;
use agenttrace_server::{Config, Server};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// AgentTrace: the debugger for AI agents.
///
/// Send your agents' traces to AgentTrace (upload a file, POST to its API) and step through each
/// run: every step's inputs, outputs, tokens, cost and errors. Secrets are removed before
/// anything is stored.
#[derive(Debug, Parser)]
#[command(name = "agenttrace", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Log filter (e.g. `info`, `debug`, `agenttrace_server=debug`).
    #[arg(long, env = "AGENTTRACE_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log line format: `json` (one object per line), `text`, or `auto` (JSON when
    /// APP_ENV=production, text otherwise).
    #[arg(
        long,
        env = "AGENTTRACE_LOG_FORMAT",
        default_value = "auto",
        global = true
    )]
    pub log_format: LogFormatArg,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the API, ingestion and (soon) the web UI.
    ///
    /// Creates the data folder and its database on first start, prints the URL, and shuts down
    /// gracefully on Ctrl-C or SIGTERM: requests in flight finish and the database is closed.
    Serve(ServeArgs),
    /// Load trace files into the data folder without a server.
    ///
    /// Takes files and folders (read recursively; JSON is recognised by content, not by file
    /// name) and prints what was imported and what was rejected, and why. Exits with 1 when any
    /// file was rejected.
    Import(ImportArgs),
    /// Manage accounts without a server (e.g. the first admin on a headless machine).
    #[command(subcommand)]
    User(UserCommand),
    /// Check this configuration and data folder against the pre-deployment checklist.
    ///
    /// Takes the same flags and environment as `serve` and judges them as production would:
    /// JWT secret, CORS origins, rate limiting, security headers, TLS certificate, database,
    /// error tracking, backups, file permissions and free disk. Prints ✓/✗ with a fix for each
    /// ✗; exits with 1 when a required item fails.
    Doctor(DoctorArgs),
    /// Ask a running server whether it is alive (`GET /health`); for container health checks.
    /// Exits with 0 when it answers 200.
    Healthcheck(HealthcheckArgs),
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Auto,
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's address (inside a container, its own loopback address).
    #[arg(long, env = "AGENTTRACE_HEALTHCHECK_ADDR", default_value = DEFAULT_BIND)]
    pub addr: SocketAddr,

    /// Speak TLS (on by itself when SSL_CERT_PATH is set, as for `serve`).
    #[arg(long)]
    pub tls: bool,

    #[arg(long, env = "SSL_CERT_PATH", hide = true)]
    pub ssl_cert_path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from AGENTTRACE_PASSWORD or, when unset, from
    /// standard input (first line), so it never appears in the shell history.
    Create(UserCreateArgs),
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    /// The account's email address.
    #[arg(long)]
    pub email: String,

    /// Make the account an instance admin (the first account always is one).
    #[arg(long)]
    pub admin: bool,

    /// Folder holding the database; created on first use.
    #[arg(long, env = "AGENTTRACE_DATA_DIR", default_value = "./agenttrace-data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "AGENTTRACE_BIND", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,

    /// `development` (generated secrets, open registration) or `production` (strict).
    #[arg(long, env = "APP_ENV", default_value = "development")]
    pub app_env: AppEnv,

    /// Secret for signing access tokens (at least 32 bytes). In development a secret is
    /// generated in the data folder when unset; production requires it.
    #[arg(long, env = "JWT_SECRET_KEY", hide_env_values = true)]
    pub jwt_secret_key: Option<String>,

    /// Whether anyone may register (the first account always may). Default: on in
    /// development, off in production.
    #[arg(long, env = "ALLOW_REGISTRATION")]
    pub allow_registration: Option<bool>,

    /// Lifetime of access tokens, in minutes.
    #[arg(long, env = "ACCESS_TOKEN_EXPIRE_MINUTES", default_value_t = 30)]
    pub access_token_minutes: u64,

    /// Lifetime of refresh tokens and browser sessions, in days.
    #[arg(long, env = "REFRESH_TOKEN_EXPIRE_DAYS", default_value_t = 14)]
    pub refresh_token_days: u64,

    /// Failed sign-ins within the lockout window before an account is locked.
    #[arg(long, env = "AGENTTRACE_LOCKOUT_THRESHOLD", default_value_t = 5)]
    pub lockout_threshold: u32,

    /// How long a locked account stays locked, and how long a failure counts, in minutes.
    #[arg(long, env = "AGENTTRACE_LOCKOUT_MINUTES", default_value_t = 15)]
    pub lockout_minutes: u64,

    /// A request unanswered after this many seconds gets 408 (stalled clients cannot hold
    /// connections).
    #[arg(long, env = "AGENTTRACE_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,

    /// On shutdown, how many seconds requests in flight may take before they are cut.
    #[arg(long, env = "AGENTTRACE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// Browser origins allowed to call the API with credentials, comma-separated (e.g.
    /// `https://traces.example.com`). Required in production; `*` is refused. Development also
    /// allows http://localhost:* and http://127.0.0.1:*.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Option<Vec<String>>,

    /// Proxies whose X-Forwarded-For / Forwarded / X-Real-IP headers are believed, as
    /// comma-separated addresses or CIDR ranges (e.g. `10.0.0.0/8,127.0.0.1`).
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    /// The one header those proxies write the client's address in: `x-forwarded-for`,
    /// `forwarded` or `x-real-ip`. The others are ignored (a proxy passes them through as the
    /// client wrote them).
    #[arg(long, env = "TRUSTED_PROXY_HEADER", default_value = "x-forwarded-for")]
    pub trusted_proxy_header: ForwardedHeader,

    /// Replaces the built-in Content-Security-Policy.
    #[arg(long, env = "CSP_POLICY")]
    pub csp_policy: Option<String>,

    /// TLS certificate chain (PEM); with --ssl-key-path, serves HTTPS.
    #[arg(long, env = "SSL_CERT_PATH", requires = "ssl_key_path")]
    pub ssl_cert_path: Option<PathBuf>,

    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "SSL_KEY_PATH", requires = "ssl_cert_path")]
    pub ssl_key_path: Option<PathBuf>,

    /// A client must send its request headers (and finish the TLS handshake) within this many
    /// seconds.
    #[arg(
        long,
        env = "AGENTTRACE_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub header_read_timeout_secs: u64,

    /// Largest request head (request line and headers), in bytes; larger gets 431.
    #[arg(long, env = "AGENTTRACE_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// Most header lines in one request; more gets 431.
    #[arg(long, env = "AGENTTRACE_MAX_HEADERS", default_value_t = 100)]
    pub max_headers: usize,

    /// Requests handled at once; more are answered 503 with Retry-After.
    #[arg(
        long,
        env = "AGENTTRACE_MAX_CONCURRENT_REQUESTS",
        default_value_t = 512
    )]
    pub max_concurrent_requests: usize,

    /// Connections open at once; more wait in the listen queue until one closes.
    #[arg(long, env = "AGENTTRACE_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Bearer token that `/metrics` asks for. Without it, /metrics is open in development and
    /// off in production.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Sentry DSN: report panics and 5xx answers (request bodies, cookies and credentials are
    /// never sent). Unset, nothing is sent anywhere.
    #[arg(long, env = "SENTRY_DSN", hide_env_values = true)]
    pub sentry_dsn: Option<String>,

    /// `/health/ready` fails when the data folder's disk has less free space than this (MiB).
    #[arg(long, env = "AGENTTRACE_MIN_FREE_DISK_MB", default_value_t = 100)]
    pub min_free_disk_mb: u64,

    #[command(flatten)]
    pub rate_limit: RateLimitArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Rate limits: each class counts requests per key in fixed windows. Defaults are in
/// `agenttrace serve --help` and the README.
#[derive(Debug, Args)]
pub struct RateLimitArgs {
    /// Turn rate limiting on or off (default: on in production, off in development).
    #[arg(long, env = "RATE_LIMIT_ENABLED")]
    pub rate_limit_enabled: Option<bool>,

    /// Uploads per client address per window [default: 100].
    #[arg(long, env = "RATE_LIMIT_REQUESTS")]
    pub rate_limit_requests: Option<u32>,

    /// The upload window, in seconds [default: 3600].
    #[arg(long, env = "RATE_LIMIT_WINDOW")]
    pub rate_limit_window: Option<u64>,

    /// Sign-in and registration attempts per client address per window [default: 10].
    #[arg(long, env = "RATE_LIMIT_AUTH_REQUESTS")]
    pub rate_limit_auth_requests: Option<u32>,

    /// The sign-in window, in seconds [default: 60].
    #[arg(long, env = "RATE_LIMIT_AUTH_WINDOW")]
    pub rate_limit_auth_window: Option<u64>,

    /// API requests per signed-in user per window [default: 600].
    #[arg(long, env = "RATE_LIMIT_API_REQUESTS")]
    pub rate_limit_api_requests: Option<u32>,

    /// The API window, in seconds [default: 60].
    #[arg(long, env = "RATE_LIMIT_API_WINDOW")]
    pub rate_limit_api_window: Option<u64>,

    /// Ingestion requests per API key per window [default: 1200].
    #[arg(long, env = "RATE_LIMIT_INGEST_REQUESTS")]
    pub rate_limit_ingest_requests: Option<u32>,

    /// The ingestion window, in seconds [default: 60].
    #[arg(long, env = "RATE_LIMIT_INGEST_WINDOW")]
    pub rate_limit_ingest_window: Option<u64>,

    /// Public share views per client address per window [default: 120].
    #[arg(long, env = "RATE_LIMIT_SHARE_REQUESTS")]
    pub rate_limit_share_requests: Option<u32>,

    /// The share window, in seconds [default: 60].
    #[arg(long, env = "RATE_LIMIT_SHARE_WINDOW")]
    pub rate_limit_share_window: Option<u64>,

    /// Most clients tracked at once, across classes [default: 100000]; beyond it, new clients
    /// share one counter per class.
    #[arg(long, env = "RATE_LIMIT_MAX_KEYS")]
    pub rate_limit_max_keys: Option<usize>,
}

impl RateLimitArgs {
    pub fn config(&self) -> Result<RateLimitConfig, String> {
        let mut config = RateLimitConfig {
            enabled: self.rate_limit_enabled,
            ..RateLimitConfig::default()
        };
        let pairs = [
            (
                &mut config.upload,
                self.rate_limit_requests,
                self.rate_limit_window,
            ),
            (
                &mut config.auth,
                self.rate_limit_auth_requests,
                self.rate_limit_auth_window,
            ),
            (
                &mut config.api,
                self.rate_limit_api_requests,
                self.rate_limit_api_window,
            ),
            (
                &mut config.ingest,
                self.rate_limit_ingest_requests,
                self.rate_limit_ingest_window,
            ),
            (
                &mut config.share,
                self.rate_limit_share_requests,
                self.rate_limit_share_window,
            ),
        ];
        for (rule, requests, window) in pairs {
            if let Some(requests) = requests {
                rule.requests = requests;
            }
            if let Some(window) = window {
                rule.window = Duration::from_secs(window);
            }
            if rule.requests == 0 || rule.window.is_zero() {
                return Err(
                    "rate limits need at least 1 request per window of at least 1 second"
                        .to_owned(),
                );
            }
        }
        if let Some(keys) = self.rate_limit_max_keys {
            if keys == 0 {
                return Err("RATE_LIMIT_MAX_KEYS must be at least 1".to_owned());
            }
            config.max_tracked_keys = keys;
        }
        Ok(config)
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Trace files or folders of trace files.
    #[arg(required = true, value_name = "FILE_OR_DIR")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by every command that touches the data.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Folder holding the database; created on first use.
    #[arg(long, env = "AGENTTRACE_DATA_DIR", default_value = "./agenttrace-data")]
    pub data_dir: PathBuf,

    /// Largest request body or file, in bytes.
    #[arg(long, env = "AGENTTRACE_MAX_BODY_BYTES", default_value_t = 10 * MIB)]
    pub max_body_bytes: u64,

    /// Largest trace document, in bytes.
    #[arg(long, env = "AGENTTRACE_MAX_TRACE_BYTES", default_value_t = 5 * MIB)]
    pub max_trace_bytes: u64,

    /// Most steps in one trace.
    #[arg(long, env = "AGENTTRACE_MAX_STEPS", default_value_t = 1000)]
    pub max_steps: u32,

    /// Deepest nesting of JSON arrays and objects (1 to 127).
    #[arg(long, env = "AGENTTRACE_MAX_DEPTH", default_value_t = 100)]
    pub max_depth: u32,

    /// Extra key names whose values are secrets (comma-separated).
    #[arg(long, env = "AGENTTRACE_REDACT_KEYS", value_delimiter = ',')]
    pub redact_keys: Vec<String>,

    /// Extra secret patterns as NAME=REGEX (repeat the flag; in the environment, one per line).
    #[arg(
        long,
        env = "AGENTTRACE_REDACT_PATTERNS",
        value_delimiter = '\n',
        value_name = "NAME=REGEX"
    )]
    pub redact_patterns: Vec<String>,

    /// Exact values never to redact (comma-separated).
    #[arg(long, env = "AGENTTRACE_REDACT_ALLOW", value_delimiter = ',')]
    pub redact_allow: Vec<String>,
}

impl CommonArgs {
    pub fn limits(&self) -> Result<Limits, String> {
        let limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_trace_bytes: self.max_trace_bytes,
            max_steps: self.max_steps,
            max_depth: self.max_depth,
        };
        limits.validate()?;
        Ok(limits)
    }

    pub fn redact_config(&self) -> Result<RedactConfig, String> {
        let extra_patterns = self
            .redact_patterns
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.split_once('=')
                    .map(|(name, regex)| (name.trim().to_owned(), regex.to_owned()))
                    .filter(|(name, _)| !name.is_empty())
                    .ok_or_else(|| {
                        "a redaction pattern must be written NAME=REGEX (e.g. acme-key=acme_[a-z0-9]{32})"
                            .to_owned()
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let clean = |items: &[String]| -> Vec<String> {
            items
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        Ok(RedactConfig {
            extra_keys: clean(&self.redact_keys),
            extra_patterns,
            allow: clean(&self.redact_allow),
        })
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Import(args) => import::run(args).await,
        Command::User(UserCommand::Create(args)) => crate::users::create(args).await,
        Command::Doctor(args) => doctor(args).await,
        Command::Healthcheck(args) => {
            crate::healthcheck::run(args.addr, args.tls || args.ssl_cert_path.is_some())
        }
    }
}

async fn doctor(args: DoctorArgs) -> ExitCode {
    let config = match server_config(&args.serve) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = agenttrace_server::doctor::run(&config).await;
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => say!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        say!("{}", report.to_text().trim_end());
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let config = match server_config(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(&config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.local_addr() {
        Ok(addr) => say!(
            "AgentTrace is listening on {}://{addr}  (data folder: {})",
            config.scheme(),
            config.data_dir.display()
        ),
        Err(e) => eprintln!("warning: cannot read the bound address: {e}"),
    }
    match server.run(shutdown_signal()).await {
        Ok(()) => {
            say!("AgentTrace stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn server_config(args: &ServeArgs) -> Result<Config, String> {
    let mut config = Config::new(args.bind, args.common.data_dir.clone());
    config.env = args.app_env;
    config.limits = args.common.limits()?;
    config.redact = args.common.redact_config()?;
    config.request_timeout = Duration::from_secs(args.request_timeout_secs.max(1));
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace_secs);
    if args.access_token_minutes == 0 || args.refresh_token_days == 0 || args.lockout_threshold == 0
    {
        return Err(
            "token lifetimes and the lockout threshold must be greater than zero".to_owned(),
        );
    }
    config.auth = AuthConfig {
        jwt_secret: args.jwt_secret_key.clone().filter(|s| !s.is_empty()),
        allow_registration: args.allow_registration,
        access_ttl: Duration::from_secs(args.access_token_minutes.saturating_mul(60)),
        refresh_ttl: Duration::from_secs(args.refresh_token_days.saturating_mul(86_400)),
        lockout_threshold: args.lockout_threshold,
        lockout_duration: Duration::from_secs(args.lockout_minutes.saturating_mul(60)),
        secure_cookies: args.app_env == AppEnv::Production || args.ssl_cert_path.is_some(),
    };
    config.allowed_origins = args.allowed_origins.as_ref().map(|origins| {
        origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    });
    if let Some(origins) = &config.allowed_origins {
        for origin in origins {
            let well_formed = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && !origin
                        .split_once("://")
                        .is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/')));
            if !well_formed {
                return Err(format!(
                    "ALLOWED_ORIGINS: {origin:?} is not an origin; write scheme://host[:port], \
                     e.g. https://traces.example.com"
                ));
            }
        }
    }
    config.trusted_proxies =
        parse_cidr_list(&args.trusted_proxies).map_err(|e| format!("TRUSTED_PROXIES: {e}"))?;
    config.csp_policy = args.csp_policy.clone().filter(|s| !s.trim().is_empty());
    config.tls = match (&args.ssl_cert_path, &args.ssl_key_path) {
        (Some(cert), Some(key)) => Some(TlsPaths {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    const MOST: usize = 1 << 30;
    let in_range = |n: usize| (1..=MOST).contains(&n);
    if args.header_read_timeout_secs == 0
        || !in_range(args.max_concurrent_requests)
        || !in_range(args.max_connections)
        || !in_range(args.max_headers)
        || args.max_header_bytes < 1024
    {
        return Err(format!(
            "the header-read timeout must be at least 1 second; the request, connection and \
             header-line limits 1 to {MOST}; the header size limit at least 1024 bytes"
        ));
    }
    config.http = HttpLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        max_header_bytes: args.max_header_bytes,
        max_headers: args.max_headers,
        max_concurrent_requests: args.max_concurrent_requests,
        max_connections: args.max_connections,
    };
    config.proxy_header = args.trusted_proxy_header;
    config.rate_limit = args.rate_limit.config()?;
    config.metrics_token = args.metrics_token.clone().filter(|t| !t.is_empty());
    config.sentry_enabled = args.sentry_dsn.as_ref().is_some_and(|d| !d.is_empty());
    config.min_free_disk_bytes = args.min_free_disk_mb.saturating_mul(1024 * 1024);
    Ok(config)
}
