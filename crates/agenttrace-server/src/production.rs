//! What production refuses: every unsafe setting is found at once and reported with its fix, so
//! an operator corrects them in one round instead of one restart per problem.

use crate::auth::jwt::{SECRET_FILE_NAME, secret_from_env_value};
use crate::checks::permission_problems;
use crate::config::Config;
use std::path::Path;

/// One unsafe setting and how to correct it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigProblem {
    /// The setting at fault (an environment variable or a path).
    pub setting: String,
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}\n    fix: {}",
            self.setting, self.problem, self.fix
        )
    }
}

/// The problems that stop a production start. Empty when the configuration is safe to serve.
pub fn production_problems(config: &Config) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    if let Some(problem) = jwt_secret_problem(config) {
        problems.push(problem);
    }
    if let Some(problem) = origins_problem(config) {
        problems.push(problem);
    }
    if let Some(problem) = plain_http_problem(config) {
        problems.push(problem);
    }
    if let Some(problem) = proxies_problem(config) {
        problems.push(problem);
    }
    problems.extend(file_problems(config));
    problems
}

/// `JWT_SECRET_KEY` missing, short, not random or a placeholder.
pub fn jwt_secret_problem(config: &Config) -> Option<ConfigProblem> {
    let fix = "set JWT_SECRET_KEY to a random secret of at least 32 bytes, e.g. \
               `export JWT_SECRET_KEY=$(openssl rand -base64 48)`";
    match &config.auth.jwt_secret {
        None => Some(ConfigProblem {
            setting: "JWT_SECRET_KEY".to_owned(),
            problem: "not set; production does not generate token-signing secrets".to_owned(),
            fix: fix.to_owned(),
        }),
        Some(value) => secret_from_env_value(value).err().map(|e| ConfigProblem {
            setting: "JWT_SECRET_KEY".to_owned(),
            problem: e.to_string(),
            fix: fix.to_owned(),
        }),
    }
}

/// `ALLOWED_ORIGINS` unset, empty or a wildcard.
pub fn origins_problem(config: &Config) -> Option<ConfigProblem> {
    let fix = "set ALLOWED_ORIGINS to the origins of your deployment, comma-separated, e.g. \
               `ALLOWED_ORIGINS=https://traces.example.com`";
    match config.allowed_origins.as_deref() {
        None | Some([]) => Some(ConfigProblem {
            setting: "ALLOWED_ORIGINS".to_owned(),
            problem: "not set: production needs the list of browser origins it serves".to_owned(),
            fix: fix.to_owned(),
        }),
        Some(origins) if origins.iter().any(|o| o.contains('*')) => Some(ConfigProblem {
            setting: "ALLOWED_ORIGINS".to_owned(),
            problem: "contains `*`: any website could call the API with your users' sessions"
                .to_owned(),
            fix: fix.to_owned(),
        }),
        Some(_) => None,
    }
}

/// Plain HTTP on an address other machines can reach, with no TLS proxy declared in front.
pub fn plain_http_problem(config: &Config) -> Option<ConfigProblem> {
    if config.tls.is_some() || config.bind.ip().is_loopback() || !config.trusted_proxies.is_empty()
    {
        return None;
    }
    Some(ConfigProblem {
        setting: "SSL_CERT_PATH / SSL_KEY_PATH".to_owned(),
        problem: format!(
            "would serve plain HTTP on {}, reachable from the network: passwords and tokens \
             would cross it in clear text",
            config.bind
        ),
        fix: "set SSL_CERT_PATH and SSL_KEY_PATH to a certificate and key (PEM), or put a \
              TLS-terminating proxy in front and list its address in TRUSTED_PROXIES, or bind \
              to 127.0.0.1"
            .to_owned(),
    })
}

/// A trusted-proxy range that covers every address makes every client a proxy: anyone could
/// choose the address they are limited and logged as.
pub fn proxies_problem(config: &Config) -> Option<ConfigProblem> {
    let everyone: Vec<String> = config
        .trusted_proxies
        .iter()
        .filter(|range| range.prefix_len() == 0)
        .map(ToString::to_string)
        .collect();
    if everyone.is_empty() {
        return None;
    }
    Some(ConfigProblem {
        setting: "TRUSTED_PROXIES".to_owned(),
        problem: format!(
            "{} trusts every address: any client could claim any address in its forwarding \
             header",
            everyone.join(", ")
        ),
        fix: "list only your proxies' addresses or their subnet, e.g. `TRUSTED_PROXIES=10.0.0.5` \
              or `10.0.0.0/24`"
            .to_owned(),
    })
}

/// The data folder and the secret files must be private to the account that runs the server.
pub fn file_problems(config: &Config) -> Vec<ConfigProblem> {
    let secret_file = config.data_dir.join(SECRET_FILE_NAME);
    let mut secrets: Vec<&Path> = vec![&secret_file];
    if let Some(tls) = &config.tls {
        secrets.push(&tls.key);
    }
    permission_problems(&config.data_dir, &secrets)
        .into_iter()
        .map(|p| ConfigProblem {
            setting: p.path.display().to_string(),
            problem: p.problem,
            fix: p.fix,
        })
        .collect()
}

/// The refusal as printed: every problem with its fix.
pub fn refusal_text(problems: &[ConfigProblem]) -> String {
    let mut text = format!(
        "production mode (APP_ENV=production) refuses to start: {} problem{} to fix",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems {
        text.push_str("\n  - ");
        text.push_str(&problem.to_string());
    }
    text
}
