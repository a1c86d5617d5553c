//! Command-line arguments and the `serve` command.

use crate::import;
use crate::say;
use agenttrace_core::Limits;
use agenttrace_core::limits::MIB;
use agenttrace_core::redact::RedactConfig;
use agenttrace_server::config::{AppEnv, AuthConfig, DEFAULT_BIND};
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

    #[command(flatten)]
    pub common: CommonArgs,
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
            "AgentTrace is listening on http://{addr}  (data folder: {})",
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
        secure_cookies: args.app_env == AppEnv::Production,
    };
    Ok(config)
}
