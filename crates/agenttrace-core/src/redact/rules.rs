//! The built-in redaction rules, as data.
//!
//! Two tables live here. [`VALUE_RULES`] lists the secret *shapes* looked for inside any string
//! (provider tokens, JWTs, PEM blocks, passwords in URLs...): each has a name (which becomes the
//! marker, `[REDACTED:<name>]`), the literal hints that must occur for the rule to be worth running,
//! and a `regex` crate pattern (linear time, no backtracking). [`KEY_FAMILIES`] lists the key
//! names that mark their value as secret (`password`, `api_key`, `authorization`...), which apply
//! to JSON object keys and to `key=value` / `"key": "value"` pairs inside text.
//!
//! Keeping the rules here, apart from the scanning code in `engine`, is what lets a reviewer read
//! the whole policy in one screen and lets the tests check that every rule has its own cases.
//! Patterns are written so that no fabricated secret appears in this file: the shapes are regex
//! classes, never sample values.

/// How a regex match is confirmed before it is redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// The pattern is specific enough on its own (a provider prefix plus a fixed alphabet).
    Pattern,
    /// The secret must look machine-generated: at least 8 characters with a letter, and a digit or
    /// (from 16 characters) both cases. Keeps `Bearer of bad news` prose out.
    Generated,
    /// `Basic` credentials: base64 that decodes to printable `user:password` text, or a long
    /// generated-looking value.
    BasicAuth,
    /// An AWS secret access key: exactly 40 base64 characters with both cases and a digit, and an
    /// AWS word (`aws`, `amazon`, `secret access`, an access key id) within a few hundred bytes.
    AwsSecret,
}

/// One named secret shape looked for inside strings.
#[derive(Debug)]
pub(crate) struct ValueRule {
    /// Rule name: lowercase, digits and `-`. Appears in markers and reports.
    pub name: &'static str,
    /// Literals (matched ASCII case-insensitively) of which at least one occurs in every match.
    /// A string containing none of them skips the rule without running its regex.
    pub hints: &'static [&'static str],
    /// The pattern. When it has a group named `s`, only that group is replaced; otherwise the
    /// whole match is.
    pub pattern: &'static str,
    /// Extra confirmation after the regex matched.
    pub check: Check,
    /// A byte every match contains, checked (memchr-fast) before the regex runs; for rules whose
    /// hint is common in clean text (`://` in every URL, but `@` only in URLs with credentials).
    pub requires: Option<u8>,
}

/// Secret shapes specific to one provider or format. Applied first, so the marker names the most
/// precise kind (`openai-key` rather than `api-key` for `api_key=sk-...`).
pub(crate) const VALUE_RULES: &[ValueRule] = &[
    ValueRule {
        name: "private-key",
        hints: &["private key"],
        // The whole block, BEGIN line to END line; a truncated block (no END) up to the end of the
        // string, since half a key is still a key.
        pattern: r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z)",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "anthropic-key",
        hints: &["sk-ant-"],
        pattern: r"(?-u:\b)sk-ant-[A-Za-z0-9_\-]{20,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "openrouter-key",
        hints: &["sk-or-"],
        pattern: r"(?-u:\b)sk-or-v[0-9]-[0-9a-f]{64}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "langfuse-key",
        hints: &["sk-lf-"],
        pattern: r"(?-u:\b)sk-lf-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "openai-key",
        hints: &["sk-"],
        // Project, service-account and admin keys carry a word after `sk-`; legacy user keys are
        // 32+ alphanumerics (hyphenated slugs such as `sk-learn-...` therefore do not match);
        // any `sk-` key with the `T3BlbkFJ` watermark is OpenAI's whatever its punctuation.
        pattern: r"(?-u:\b)sk-(?:(?:proj|svcacct|admin|service|None)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9_\-]{8,}T3BlbkFJ[A-Za-z0-9_\-]{8,}|[A-Za-z0-9]{32,})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "aws-access-key-id",
        hints: &["akia", "asia", "abia", "acca"],
        pattern: r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "aws-session-token",
        hints: &["FwoGZXIvYXdz", "IQoJb3JpZ2luX2Vj", "AQoDYXdz"],
        pattern: r"(?:FwoGZXIvYXdz|IQoJb3JpZ2luX2Vj|AQoDYXdz)[A-Za-z0-9/+=]{60,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "github-token",
        hints: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        pattern: r"(?-u:\b)(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "gitlab-token",
        hints: &[
            "glpat-",
            "gldt-",
            "glptt-",
            "glrt-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "glsoat-",
            "glffct-",
            "gloas-",
            "glft-",
            "glwt-",
            "GR1348941",
        ],
        pattern: r"(?-u:\b)(?:gl(?:pat|dt|ptt|rt|cbt|imt|agent|soat|ffct|oas|ft|wt)-[A-Za-z0-9_\-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,10})?|GR1348941[A-Za-z0-9_\-]{20,})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "slack-token",
        hints: &["xox", "xapp-"],
        pattern: r"(?-u:\b)(?:xox[abcposre]-|xoxe\.xox[bp]-|xapp-)[A-Za-z0-9\-]{10,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "slack-webhook",
        hints: &["hooks.slack.com"],
        // The path is the secret; the host stays so the reader knows where it pointed.
        pattern: r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[A-Za-z0-9+/_\-]{20,})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "discord-webhook",
        hints: &["discord"],
        pattern: r"https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/(?P<s>[0-9]{5,30}/[A-Za-z0-9_\-]{20,})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "google-api-key",
        hints: &["aiza"],
        pattern: r"(?-u:\b)AIza[0-9A-Za-z_\-]{35}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "google-client-secret",
        hints: &["gocspx-"],
        pattern: r"(?-u:\b)GOCSPX-[A-Za-z0-9_\-]{28}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "google-oauth-token",
        hints: &["ya29."],
        pattern: r"(?-u:\b)ya29\.[0-9A-Za-z_\-]{20,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "stripe-key",
        hints: &[
            "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_", "whsec_",
        ],
        // Live and restricted keys, and test keys too: a test key still opens the account's test
        // mode, and redacting one costs a reader nothing.
        pattern: r"(?-u:\b)(?:(?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{10,}|whsec_[A-Za-z0-9]{24,})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "huggingface-token",
        hints: &["hf_", "api_org_"],
        pattern: r"(?-u:\b)(?:hf_|api_org_)[A-Za-z0-9]{30,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "groq-key",
        hints: &["gsk_"],
        pattern: r"(?-u:\b)gsk_[A-Za-z0-9]{48,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "xai-key",
        hints: &["xai-"],
        pattern: r"(?-u:\b)xai-[A-Za-z0-9]{60,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "perplexity-key",
        hints: &["pplx-"],
        pattern: r"(?-u:\b)pplx-[A-Za-z0-9]{40,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "replicate-token",
        hints: &["r8_"],
        pattern: r"(?-u:\b)r8_[A-Za-z0-9]{30,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "langsmith-key",
        hints: &["lsv2_"],
        pattern: r"(?-u:\b)lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "nvidia-key",
        hints: &["nvapi-"],
        pattern: r"(?-u:\b)nvapi-[A-Za-z0-9_\-]{60,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "npm-token",
        hints: &["npm_"],
        pattern: r"(?-u:\b)npm_[A-Za-z0-9]{36}(?-u:\b)",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "pypi-token",
        hints: &["pypi-AgEIcHlwaS5vcmc"],
        pattern: r"(?-u:\b)pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "sendgrid-key",
        hints: &["sg."],
        pattern: r"(?-u:\b)SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "digitalocean-token",
        hints: &["dop_v1_", "doo_v1_", "dor_v1_"],
        pattern: r"(?-u:\b)do[opr]_v1_[a-f0-9]{64}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "shopify-token",
        hints: &["shpat_", "shpca_", "shppa_", "shpss_"],
        pattern: r"(?-u:\b)shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "databricks-token",
        hints: &["dapi"],
        pattern: r"(?-u:\b)dapi[a-f0-9]{32}(?:-[0-9])?(?-u:\b)",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "linear-key",
        hints: &["lin_api_", "lin_oauth_"],
        pattern: r"(?-u:\b)lin_(?:api|oauth)_[A-Za-z0-9]{40}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "atlassian-token",
        hints: &["atatt3"],
        pattern: r"(?-u:\b)ATATT3[A-Za-z0-9_\-=]{150,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "postman-key",
        hints: &["pmak-"],
        pattern: r"(?-u:\b)PMAK-[a-f0-9]{24}-[a-f0-9]{34}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "sentry-token",
        hints: &["sntrys_", "sntryu_"],
        pattern: r"(?-u:\b)(?:sntrys_[A-Za-z0-9+/=_]{60,}|sntryu_[a-f0-9]{64})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "doppler-token",
        hints: &[
            "dp.pt.",
            "dp.st.",
            "dp.sa.",
            "dp.ct.",
            "dp.scim.",
            "dp.audit.",
        ],
        pattern: r"(?-u:\b)dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "square-token",
        hints: &["sq0atp-", "sq0csp-"],
        pattern: r"(?-u:\b)sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "telegram-bot-token",
        hints: &[":aa"],
        pattern: r"(?-u:\b)[0-9]{8,10}:AA[0-9A-Za-z_\-]{33}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "mailgun-key",
        hints: &["key-"],
        pattern: r"(?-u:\b)key-[0-9a-f]{32}(?-u:\b)",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "vault-token",
        hints: &["hvs.", "hvb.", "hvr."],
        pattern: r"(?-u:\b)hv[sbr]\.[A-Za-z0-9_\-]{24,}",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "newrelic-key",
        hints: &["nrak-"],
        pattern: r"(?-u:\b)NRAK-[A-Z0-9]{27}(?-u:\b)",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "grafana-token",
        hints: &["glc_", "glsa_"],
        pattern: r"(?-u:\b)(?:glc_[A-Za-z0-9+/=_]{32,}|glsa_[A-Za-z0-9]{32}_[0-9a-f]{8})",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "age-secret-key",
        hints: &["age-secret-key-1"],
        pattern: r"AGE-SECRET-KEY-1[0-9A-Z]{58}",
        check: Check::Pattern,
        requires: None,
    },
];

/// Generic shapes, applied after the provider rules and the configured extra patterns, so that a
/// more specific name wins when both match the same text.
pub(crate) const GENERIC_RULES: &[ValueRule] = &[
    ValueRule {
        name: "jwt",
        hints: &["eyj"],
        // Header segment is base64url JSON (`{"` encodes to `eyJ`); payload; signature (may be
        // empty for unsigned tokens); two more segments for JWE.
        pattern: r"(?-u:\b)eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)?",
        check: Check::Pattern,
        requires: None,
    },
    ValueRule {
        name: "url-password",
        hints: &["://"],
        // Any scheme, `user:password@host`: only the password goes; an empty user (`redis://:pw@h`)
        // is allowed. The password may contain `@` or `:`; the last `@` before the host ends it.
        pattern: r#"(?-u:\b)[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s:/?#@"'<>\[\]]*:(?P<s>[^\s/?#"'<>]+)@[A-Za-z0-9\[_\-]"#,
        check: Check::Pattern,
        requires: Some(b'@'),
    },
    ValueRule {
        name: "aws-secret-key",
        hints: &[
            "aws",
            "amazon",
            "secret_access",
            "secretaccess",
            "secret-access",
            "secret access",
            "akia",
            "asia",
        ],
        pattern: r"[A-Za-z0-9/+]{40,}",
        check: Check::AwsSecret,
        requires: None,
    },
    ValueRule {
        name: "bearer-token",
        hints: &["bearer ", "bearer\t"],
        pattern: r"(?i:(?-u:\b)bearer)[ \t]+(?P<s>[A-Za-z0-9._~+/\-]*[A-Za-z0-9_~+/\-]=*)",
        check: Check::Generated,
        requires: None,
    },
    ValueRule {
        name: "basic-auth",
        hints: &["basic ", "basic\t"],
        pattern: r"(?i:(?-u:\b)basic)[ \t]+(?P<s>[A-Za-z0-9+/]{6,}={0,2})",
        check: Check::BasicAuth,
        requires: None,
    },
];

/// What a key family does with the values under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValuePolicy {
    /// Every non-empty string that is not a placeholder (`${VAR}`, `****`, `null`...).
    Any,
    /// Only values shaped like a credential: no whitespace, at least 6 characters. A key named
    /// `token` also holds streamed LLM tokens (`{"token": " world"}`) in LangChain-style traces,
    /// and those must survive.
    Credential,
}

/// A family of key names that mark their value as secret; the family name is the marker.
#[derive(Debug)]
pub(crate) struct KeyFamily {
    pub name: &'static str,
    /// Spellings, words joined by `_`, that name a secret when the normalised key *ends* with them
    /// (`db_password`, `OPENAI_API_KEY`, `x-auth-token`, `clientSecret`).
    pub suffixes: &'static [&'static str],
    /// Spellings that name a secret only as the whole key.
    pub exact: &'static [&'static str],
    pub policy: ValuePolicy,
    /// Whether a JSON number under such a key is a secret too (a numeric password is; a number
    /// under `token` or `api_key` is a count, a TTL or an id and stays).
    pub numbers: bool,
    /// Whether an unquoted `key: value` in text takes the rest of the line (`Cookie: a=1; b=2`,
    /// `Authorization: Digest username="x", response="..."`) rather than one word.
    pub to_line_end: bool,
}

/// Key families, checked in order (the first that matches names the marker).
pub(crate) const KEY_FAMILIES: &[KeyFamily] = &[
    KeyFamily {
        name: "password",
        suffixes: &["password", "passwd", "pass_phrase", "pwd"],
        // `pass` alone (nodemailer's `auth: {user, pass}`); as a suffix it would take `bypass`.
        exact: &["pass"],
        policy: ValuePolicy::Any,
        numbers: true,
        to_line_end: false,
    },
    KeyFamily {
        name: "private-key",
        suffixes: &["private_key", "priv_key", "private_key_pem"],
        exact: &[],
        policy: ValuePolicy::Any,
        numbers: false,
        to_line_end: false,
    },
    KeyFamily {
        name: "secret",
        suffixes: &[
            "secret",
            "secrets",
            "secret_key",
            "secret_access_key",
            "secret_value",
            "secret_string",
            "secret_key_base",
        ],
        exact: &[],
        policy: ValuePolicy::Any,
        numbers: false,
        to_line_end: false,
    },
    KeyFamily {
        name: "token",
        suffixes: &["token"],
        exact: &[],
        policy: ValuePolicy::Credential,
        numbers: false,
        to_line_end: false,
    },
    KeyFamily {
        name: "api-key",
        suffixes: &[
            "api_key",
            "access_key",
            "account_key",
            "subscription_key",
            "auth_key",
            "app_key",
            "client_key",
            "master_key",
            "encryption_key",
            "signing_key",
            "session_key",
            "license_key",
        ],
        exact: &[],
        policy: ValuePolicy::Any,
        numbers: false,
        to_line_end: false,
    },
    KeyFamily {
        name: "authorization",
        suffixes: &["authorization"],
        exact: &["auth"],
        policy: ValuePolicy::Any,
        numbers: false,
        to_line_end: true,
    },
    KeyFamily {
        name: "cookie",
        suffixes: &["cookie", "cookies"],
        exact: &[],
        policy: ValuePolicy::Any,
        numbers: false,
        to_line_end: true,
    },
    KeyFamily {
        name: "credentials",
        suffixes: &["credentials", "credential", "creds"],
        exact: &[],
        policy: ValuePolicy::Any,
        numbers: false,
        to_line_end: false,
    },
    KeyFamily {
        name: "signature",
        suffixes: &["amz_signature", "goog_signature"],
        exact: &["sig"],
        policy: ValuePolicy::Credential,
        numbers: false,
        to_line_end: false,
    },
];

/// Normalised keys (lowercase, separators removed) that end like a secret but name something
/// else: tokenizer special tokens, pagination cursors, cancellation handles.
pub(crate) const NOT_SECRET_KEYS: &[&str] = &[
    "eostoken",
    "bostoken",
    "padtoken",
    "unktoken",
    "septoken",
    "clstoken",
    "masktoken",
    "eottoken",
    "stoptoken",
    "starttoken",
    "endtoken",
    "imagetoken",
    "audiotoken",
    "videotoken",
    "specialtoken",
    "lasttoken",
    "firsttoken",
    "newtoken",
    "nexttoken",
    "pagetoken",
    "nextpagetoken",
    "prevpagetoken",
    "previouspagetoken",
    "continuationtoken",
    "paginationtoken",
    "synctoken",
    "cursortoken",
    "cancellationtoken",
    "canceltoken",
    "nextcursortoken",
];

/// Keys that name a shell variable, matched with their exact case: `PWD` and `OLDPWD` in an
/// environment dump are directories, not passwords (`db_pwd` or `Pwd` still are).
pub(crate) const SHELL_VARIABLES: &[&str] = &["PWD", "OLDPWD"];

/// HTTP authentication schemes kept in front of a redacted credential
/// (`Authorization: Bearer [REDACTED:authorization]`), so a reader still sees which scheme was used.
pub(crate) const AUTH_SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "bot",
    "apikey",
    "negotiate",
    "ntlm",
    "aws4-hmac-sha256",
];

/// Words that follow `password:` / `token:` in error messages and prose rather than a secret
/// (`ValidationError: password: field required`). Only consulted for an unquoted value after a
/// colon; `password=required` or `"password": "required"` is still redacted.
pub(crate) const PROSE_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "is",
    "was",
    "are",
    "not",
    "none",
    "null",
    "field",
    "required",
    "optional",
    "missing",
    "invalid",
    "incorrect",
    "empty",
    "must",
    "should",
    "cannot",
    "expired",
    "changed",
    "updated",
    "reset",
    "see",
    "use",
    "enter",
    "string",
    "str",
    "bool",
    "int",
    "number",
    "yes",
    "no",
];

/// Keywords and type names that follow `key =` or `key:` in source code rather than a secret
/// (`api_key = await fetch_key()`, `password: str`). Consulted for unquoted values only.
pub(crate) const CODE_WORDS: &[&str] = &[
    "await",
    "async",
    "new",
    "function",
    "lambda",
    "yield",
    "return",
    "require",
    "import",
    "from",
    "self",
    "this",
    "typeof",
    "str",
    "string",
    "int",
    "bool",
    "bytes",
    "optional",
    "any",
    "secretstr",
    "getpass",
];

/// A name of a built-in rule reported for a key configured through `RedactConfig::extra_keys`.
pub(crate) const CUSTOM_KEY_RULE: &str = "custom-key";
