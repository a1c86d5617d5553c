//! The `agenttrace` command: the server, the importer and (later) the admin tools. Business
//! logic lives in the crates; this file parses arguments and reports.

mod cli;
mod healthcheck;
mod import;
mod users;

/// Prints a line to standard output, like `println!`, but a closed pipe (`agenttrace import … |
/// head`, a supervisor that stopped reading) is ignored instead of ending the process with a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub(crate) use say;

use agenttrace_server::config::AppEnv;
use agenttrace_server::logging::LogFormat;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // One TLS provider for the process (the server's HTTPS and Sentry's client).
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_logging(&cli);
    let _sentry = match init_sentry(&cli) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(cli::run(cli))
}

fn init_logging(cli: &cli::Cli) {
    let production = match &cli.command {
        cli::Command::Serve(args) => args.app_env == AppEnv::Production,
        _ => false,
    };
    let format = match cli.log_format {
        cli::LogFormatArg::Json => LogFormat::Json,
        cli::LogFormatArg::Text => LogFormat::Text,
        cli::LogFormatArg::Auto if production => LogFormat::Json,
        cli::LogFormatArg::Auto => LogFormat::Text,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    agenttrace_server::logging::init(&cli.log, format, ansi);
}

/// Turns Sentry on when `serve` has a DSN: panics and 5xx answers are reported, with request
/// bodies, cookies, headers and user details removed from every event before it leaves.
fn init_sentry(cli: &cli::Cli) -> Result<Option<sentry::ClientInitGuard>, String> {
    let cli::Command::Serve(args) = &cli.command else {
        return Ok(None);
    };
    let Some(dsn) = args.sentry_dsn.as_deref().filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let dsn: sentry::types::Dsn = dsn
        .parse()
        .map_err(|_| "SENTRY_DSN is not a valid DSN (https://KEY@HOST/PROJECT)".to_owned())?;
    let environment = match args.app_env {
        AppEnv::Production => "production",
        AppEnv::Development => "development",
    };
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(concat!("agenttrace@", env!("CARGO_PKG_VERSION")).into());
    options.environment = Some(environment.into());
    options.send_default_pii = false;
    options.before_send = Some(std::sync::Arc::new(scrub));
    Ok(Some(sentry::init(options)))
}

/// Removes from an event everything that could hold user data or credentials.
fn scrub(mut event: sentry::protocol::Event<'static>) -> Option<sentry::protocol::Event<'static>> {
    if let Some(request) = event.request.as_mut() {
        request.data = None;
        request.cookies = None;
        request.query_string = None;
        request.headers.clear();
        request.env.clear();
    }
    event.user = None;
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::scrub;
    use sentry::protocol::{Event, Map, Request};

    #[test]
    fn events_leave_without_bodies_cookies_headers_or_users() {
        let mut headers = Map::new();
        headers.insert(
            "Authorization".to_owned(),
            "Bearer header-secret".to_owned(),
        );
        let request = Request {
            data: Some("{\"password\": \"body-secret\"}".to_owned()),
            cookies: Some("agenttrace_session=cookie-secret".to_owned()),
            query_string: Some("token=query-secret".to_owned()),
            headers,
            ..Default::default()
        };
        let event = Event {
            request: Some(request),
            user: Some(sentry::User {
                email: Some("someone@example.com".to_owned()),
                ..Default::default()
            }),
            message: Some("500 on GET /api/v1/traces".to_owned()),
            ..Default::default()
        };
        let scrubbed = scrub(event).unwrap();
        let text = serde_json::to_string(&scrubbed).unwrap();
        for secret in [
            "header-secret",
            "body-secret",
            "cookie-secret",
            "query-secret",
            "someone@example.com",
        ] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert!(text.contains("500 on GET /api/v1/traces"));
    }
}
