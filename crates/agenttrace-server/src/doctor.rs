//! `agenttrace doctor`: the pre-deployment checklist, run against the current configuration and
//! data folder. Each item passes or fails with what was found and, when it fails, how to fix it.
//! Required items are what production needs; the others are advice.

use crate::checks::{free_disk_bytes, inspect_certificate};
use crate::config::Config;
use crate::production::{
    file_problems, jwt_secret_problem, origins_problem, plain_http_problem, proxies_problem,
};
use agenttrace_store::SqliteStore;
use serde::Serialize;
use time::OffsetDateTime;

/// One item of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable name for machines (`jwt_secret`, `cors`, ...).
    pub id: &'static str,
    /// What is checked, for people.
    pub title: &'static str,
    pub ok: bool,
    /// Whether a failure makes the whole check fail (production needs it).
    pub required: bool,
    /// What was found.
    pub detail: String,
    /// How to fix a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The whole checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every required item passed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Report {
        let ok = checks.iter().all(|c| c.ok || !c.required);
        Report { ok, checks }
    }

    /// The report as lines for a terminal: ✓ or ✗, the item, what was found, the fix.
    pub fn to_text(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.title.chars().count())
            .max()
            .unwrap_or(0);
        let mut text =
            String::from("AgentTrace doctor: this configuration, checked for production\n\n");
        for check in &self.checks {
            let mark = if check.ok { "✓" } else { "✗" };
            let note = if !check.ok && !check.required {
                " (advice)"
            } else {
                ""
            };
            text.push_str(&format!(
                "  {mark} {:<width$}  {}{note}\n",
                check.title, check.detail
            ));
            if let Some(fix) = &check.fix
                && !check.ok
            {
                text.push_str(&format!("      fix: {fix}\n"));
            }
        }
        let failed_required = self.checks.iter().filter(|c| !c.ok && c.required).count();
        let failed_advice = self.checks.iter().filter(|c| !c.ok && !c.required).count();
        let passed = self.checks.len() - failed_required - failed_advice;
        text.push_str(&format!(
            "\n{passed} passed, {failed_required} required failed, {failed_advice} advice failed: {}\n",
            if self.ok {
                "ready for production"
            } else {
                "not ready for production"
            }
        ));
        text
    }
}

fn pass(id: &'static str, title: &'static str, required: bool, detail: String) -> Check {
    Check {
        id,
        title,
        ok: true,
        required,
        detail,
        fix: None,
    }
}

fn fail(
    id: &'static str,
    title: &'static str,
    required: bool,
    detail: String,
    fix: String,
) -> Check {
    Check {
        id,
        title,
        ok: false,
        required,
        detail,
        fix: Some(fix),
    }
}

/// Runs every check.
pub async fn run(config: &Config) -> Report {
    let checks = vec![
        jwt_secret(config),
        cors(config),
        rate_limiting(config),
        security_headers(config),
        tls(config),
        database(config).await,
        error_tracking(config),
        backups(),
        permissions(config),
        free_disk(config),
        metrics(config),
    ];
    Report::new(checks)
}

fn jwt_secret(config: &Config) -> Check {
    const TITLE: &str = "JWT secret";
    match jwt_secret_problem(config) {
        None => pass(
            "jwt_secret",
            TITLE,
            true,
            "JWT_SECRET_KEY is set, long and random enough".to_owned(),
        ),
        Some(p) => fail("jwt_secret", TITLE, true, p.problem, p.fix),
    }
}

fn cors(config: &Config) -> Check {
    const TITLE: &str = "CORS origins";
    match origins_problem(config) {
        None => pass(
            "cors",
            TITLE,
            true,
            format!(
                "only {} may call the API from a browser",
                config
                    .allowed_origins
                    .as_deref()
                    .unwrap_or_default()
                    .join(", ")
            ),
        ),
        Some(p) => fail("cors", TITLE, true, p.problem, p.fix),
    }
}

fn rate_limiting(config: &Config) -> Check {
    const TITLE: &str = "Rate limiting";
    if config.rate_limit.enabled == Some(false) {
        return fail(
            "rate_limiting",
            TITLE,
            true,
            "turned off with RATE_LIMIT_ENABLED=false".to_owned(),
            "unset RATE_LIMIT_ENABLED (production limits by default) or set it to true".to_owned(),
        );
    }
    let rules = crate::security::rate_limit::LimitClass::ALL
        .iter()
        .map(|class| {
            let rule = config.rate_limit.rule(*class);
            format!(
                "{} {}/{}s",
                class.name(),
                rule.requests,
                rule.window.as_secs()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    pass(
        "rate_limiting",
        TITLE,
        true,
        format!(
            "on in production: {rules}; at most {} clients tracked",
            config.rate_limit.max_tracked_keys
        ),
    )
}

fn security_headers(config: &Config) -> Check {
    const TITLE: &str = "Security headers";
    let Some(csp) = &config.csp_policy else {
        return pass(
            "security_headers",
            TITLE,
            true,
            "on every response, with the built-in strict Content-Security-Policy".to_owned(),
        );
    };
    if crate::layers::SecurityHeaders::new(Some(csp), false).is_err() {
        return fail(
            "security_headers",
            TITLE,
            true,
            "CSP_POLICY is not a valid header value".to_owned(),
            "write CSP_POLICY on one line of visible ASCII".to_owned(),
        );
    }
    let weak: Vec<&str> = ["'unsafe-inline'", "'unsafe-eval'"]
        .into_iter()
        .filter(|w| csp.contains(w))
        .collect();
    if !weak.is_empty() || !csp.contains("frame-ancestors") {
        return fail(
            "security_headers",
            TITLE,
            false,
            format!(
                "CSP_POLICY replaces the built-in policy and {}",
                if weak.is_empty() {
                    "does not set frame-ancestors".to_owned()
                } else {
                    format!("allows {}", weak.join(" and "))
                }
            ),
            "unset CSP_POLICY to use the built-in policy, or drop 'unsafe-inline' and \
             'unsafe-eval' and add frame-ancestors 'none'"
                .to_owned(),
        );
    }
    pass(
        "security_headers",
        TITLE,
        true,
        "on every response, with the Content-Security-Policy from CSP_POLICY".to_owned(),
    )
}

fn tls(config: &Config) -> Check {
    const TITLE: &str = "TLS";
    if let Some(p) = proxies_problem(config) {
        return fail("tls", TITLE, true, p.problem, p.fix);
    }
    let Some(paths) = &config.tls else {
        return match plain_http_problem(config) {
            None if !config.trusted_proxies.is_empty() => pass(
                "tls",
                TITLE,
                true,
                "terminated by the proxies in TRUSTED_PROXIES".to_owned(),
            ),
            None => pass(
                "tls",
                TITLE,
                true,
                format!(
                    "plain HTTP on {}, reachable from this machine only",
                    config.bind
                ),
            ),
            Some(p) => fail("tls", TITLE, true, p.problem, p.fix),
        };
    };
    match inspect_certificate(&paths.cert, &paths.key) {
        Err(e) => fail(
            "tls",
            TITLE,
            true,
            e.to_string(),
            "point SSL_CERT_PATH at the certificate chain (PEM) and SSL_KEY_PATH at its \
             private key (PEM)"
                .to_owned(),
        ),
        Ok(cert) => {
            let now = OffsetDateTime::now_utc();
            let days_left = (cert.not_after - now).whole_days();
            let names = if cert.dns_names.is_empty() {
                cert.subject.clone()
            } else {
                cert.dns_names.join(", ")
            };
            if cert.not_after <= now {
                fail(
                    "tls",
                    TITLE,
                    true,
                    format!(
                        "the certificate for {names} expired on {}",
                        cert.not_after.date()
                    ),
                    "renew the certificate and replace the file at SSL_CERT_PATH".to_owned(),
                )
            } else if cert.not_before > now {
                fail(
                    "tls",
                    TITLE,
                    true,
                    format!(
                        "the certificate for {names} is not valid before {}",
                        cert.not_before.date()
                    ),
                    "check the machine's clock, or use a certificate valid now".to_owned(),
                )
            } else if days_left < 14 {
                fail(
                    "tls",
                    TITLE,
                    false,
                    format!("the certificate for {names} expires in {days_left} days"),
                    "renew the certificate soon".to_owned(),
                )
            } else {
                pass(
                    "tls",
                    TITLE,
                    true,
                    format!(
                        "certificate for {names} loads, matches its key, valid for {days_left} more days"
                    ),
                )
            }
        }
    }
}

async fn database(config: &Config) -> Check {
    const TITLE: &str = "Database";
    match SqliteStore::check_migrated(&config.data_dir).await {
        Ok(applied) => pass(
            "database",
            TITLE,
            true,
            format!("SQLite in the data folder answers; {applied} migrations applied"),
        ),
        Err(e) => fail(
            "database",
            TITLE,
            true,
            e.to_string(),
            "start the server once (`agenttrace serve`) to create and migrate the database, \
             and check AGENTTRACE_DATA_DIR points at the right folder"
                .to_owned(),
        ),
    }
}

fn error_tracking(config: &Config) -> Check {
    const TITLE: &str = "Error tracking";
    if config.sentry_enabled {
        pass(
            "error_tracking",
            TITLE,
            false,
            "SENTRY_DSN is set: panics and 5xx answers are reported".to_owned(),
        )
    } else {
        fail(
            "error_tracking",
            TITLE,
            false,
            "SENTRY_DSN is not set: errors reach only the log".to_owned(),
            "set SENTRY_DSN to your Sentry project's DSN".to_owned(),
        )
    }
}

fn backups() -> Check {
    fail(
        "backups",
        "Backups",
        false,
        "no backup schedule is configured".to_owned(),
        "copy the database regularly while the server runs, e.g. \
         `sqlite3 DATA_DIR/agenttrace.db \".backup /backups/agenttrace-$(date +%F).db\"`, and \
         keep the copies on another machine"
            .to_owned(),
    )
}

fn permissions(config: &Config) -> Check {
    const TITLE: &str = "File permissions";
    let problems = file_problems(config);
    if problems.is_empty() {
        return pass(
            "file_permissions",
            TITLE,
            true,
            "the data folder and secret files are private to their owner".to_owned(),
        );
    }
    fail(
        "file_permissions",
        TITLE,
        true,
        problems
            .iter()
            .map(|p| format!("{}: {}", p.setting, p.problem))
            .collect::<Vec<_>>()
            .join("; "),
        problems
            .iter()
            .map(|p| p.fix.clone())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn free_disk(config: &Config) -> Check {
    const TITLE: &str = "Free disk";
    let dir = if config.data_dir.exists() {
        config.data_dir.clone()
    } else {
        config
            .data_dir
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| std::path::PathBuf::from("."))
    };
    match free_disk_bytes(&dir) {
        Err(e) => fail(
            "free_disk",
            TITLE,
            true,
            format!("cannot read the free space of {}: {e}", dir.display()),
            "check that the data folder exists and can be read".to_owned(),
        ),
        Ok(free) => {
            let mib = free / (1024 * 1024);
            let need = config.min_free_disk_bytes / (1024 * 1024);
            if free < config.min_free_disk_bytes {
                fail(
                    "free_disk",
                    TITLE,
                    true,
                    format!("{mib} MiB free where the data folder is, less than {need} MiB"),
                    "free space or move AGENTTRACE_DATA_DIR to a larger disk".to_owned(),
                )
            } else {
                pass(
                    "free_disk",
                    TITLE,
                    true,
                    format!("{mib} MiB free where the data folder is"),
                )
            }
        }
    }
}

fn metrics(config: &Config) -> Check {
    const TITLE: &str = "Metrics";
    let detail = if config.metrics_token.is_some() {
        "/metrics asks for METRICS_TOKEN"
    } else {
        "/metrics is off in production (set METRICS_TOKEN to scrape it)"
    };
    pass("metrics", TITLE, false, detail.to_owned())
}
