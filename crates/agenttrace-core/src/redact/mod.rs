//! Secret redaction: no API key, password or token that an agent logged ever reaches disk.
//!
//! Every ingest path runs each decoded trace through a [`Redactor`] after decoding and before the
//! store is called. The redactor replaces only the secret itself with a marker naming the rule that
//! found it (`[REDACTED:github-token]`), keeps the document's shape (same keys, same array lengths,
//! same types for everything that was not a secret), and reports how many values each rule removed
//! and where (JSON pointers, never the values) in a [`RedactionReport`].
//!
//! Two kinds of rules apply:
//! - **key names**: the value under a key such as `password`, `api_key`, `Authorization` or
//!   `set-cookie`, at any depth, in objects, in header pairs (`["Authorization", "..."]`,
//!   `{"name": "Authorization", "value": "..."}`), and in `key=value` / `"key": "value"` text;
//! - **value patterns**: provider tokens, JWTs, PEM private keys, `Bearer`/`Basic` credentials and
//!   passwords in URLs, found anywhere inside any string.
//!
//! Layout: `rules` is the policy as data (named patterns with literal hints, key families);
//! `keys` matches key names; `engine` compiles the rules and scans strings; this file holds the
//! public API and the walk over `serde_json::Value`. See `docs/redaction.md` for the full policy.

mod engine;
mod keys;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use engine::{Engine, Strictness, push_marker};
use keys::KeyClass;

/// At most this many paths are listed in one report; the rest are only counted
/// (in [`RedactionReport::paths_omitted`]), so a hostile trace cannot blow up the audit log.
pub const MAX_REPORTED_PATHS: usize = 10_000;

/// Site-specific additions to the built-in rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactConfig {
    /// Extra secret key names, matched like the built-in ones: case-insensitively, ignoring
    /// `-`, `_`, `.` and spaces, as the whole key or its ending (`ssn` also matches `user_ssn`).
    /// Their values are redacted as `[REDACTED:custom-key]`, numbers included.
    pub extra_keys: Vec<String>,
    /// Extra value patterns as `(rule name, regex)`, in `regex` crate syntax. The rule name
    /// (`a-z`, `0-9`, `-`) names the marker. If the regex has a group named `secret`, only that
    /// group is replaced; otherwise the whole match is. These run on every string (they have no
    /// literal pre-filter), after the provider rules and before the generic ones.
    pub extra_patterns: Vec<(String, String)>,
    /// Exact values that are never redacted (a test fixture's well-known dummy key, say).
    pub allow: Vec<String>,
}

/// Why a [`Redactor`] could not be built from a [`RedactConfig`].
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// An extra pattern is not a valid `regex` crate expression.
    #[error("redaction pattern `{name}` is not a valid regular expression: {source}")]
    InvalidPattern {
        name: String,
        #[source]
        source: regex::Error,
    },
    /// An extra pattern matches the empty string, which would put markers everywhere.
    #[error("redaction pattern `{name}` matches the empty string")]
    EmptyMatch { name: String },
    /// An extra pattern's rule name is not usable inside a marker.
    #[error(
        "redaction rule name `{name}` must be 1 to 48 characters of a-z, 0-9 and '-', not starting with '-'"
    )]
    InvalidRuleName { name: String },
    /// An extra key name has no letter or digit, so it would match every key.
    #[error("secret key name `{key}` has no letter or digit")]
    InvalidKey { key: String },
    /// A built-in rule failed to compile (a bug; the tests build every built-in rule).
    #[error("built-in redaction rule `{name}` failed to compile: {message}")]
    BuiltIn { name: String, message: String },
    /// The literal pre-filter could not be built (a bug; the tests build it).
    #[error("redaction pre-filter failed to build: {message}")]
    Prefilter { message: String },
}

/// What one redaction pass removed: counts per rule and the JSON pointers of the changed values.
/// It never holds a secret value.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct RedactionReport {
    /// Number of secrets replaced.
    pub total: u64,
    /// Number of secrets replaced, per rule name.
    pub by_rule: BTreeMap<String, u64>,
    /// Where each secret was (one entry per secret; a string holding two secrets appears twice).
    /// Capped at [`MAX_REPORTED_PATHS`].
    pub paths: Vec<RedactedPath>,
    /// Entries left out of `paths` because of the cap (they are counted in `total`).
    pub paths_omitted: u64,
}

/// The location of one redacted secret and the rule that removed it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RedactedPath {
    /// JSON pointer (RFC 6901) of the string or number that held the secret.
    pub pointer: String,
    /// Rule name, as in the marker.
    pub rule: String,
}

impl RedactionReport {
    /// Whether nothing was redacted.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds `other`'s counts and paths to this report (respecting the path cap).
    pub fn merge(&mut self, other: RedactionReport) {
        self.total += other.total;
        for (rule, count) in other.by_rule {
            *self.by_rule.entry(rule).or_insert(0) += count;
        }
        self.paths_omitted += other.paths_omitted;
        for path in other.paths {
            if self.paths.len() < MAX_REPORTED_PATHS {
                self.paths.push(path);
            } else {
                self.paths_omitted += 1;
            }
        }
    }

    pub(crate) fn record(&mut self, pointer: &str, rule: &str) {
        self.total += 1;
        match self.by_rule.get_mut(rule) {
            Some(count) => *count += 1,
            None => {
                self.by_rule.insert(rule.to_owned(), 1);
            }
        }
        if self.paths.len() < MAX_REPORTED_PATHS {
            self.paths.push(RedactedPath {
                pointer: pointer.to_owned(),
                rule: rule.to_owned(),
            });
        } else {
            self.paths_omitted += 1;
        }
    }
}

/// The compiled redaction rules. Build once (at start-up), share by reference or `Arc`: it is
/// `Send + Sync` and holds no mutable state; a string in which no rule's literal hint occurs costs
/// one automaton pass and no allocation.
#[derive(Debug)]
pub struct Redactor {
    engine: Engine,
}

impl Redactor {
    /// Built-in rules plus `config`. Fails on an invalid extra pattern, rule name or key name,
    /// naming it.
    pub fn new(config: &RedactConfig) -> Result<Redactor, RedactError> {
        Ok(Redactor {
            engine: Engine::build(config, Strictness::Strict)?,
        })
    }

    /// Built-in rules only. Never fails: the built-in rules are compiled by the tests; should one
    /// ever fail to compile it is skipped and listed by [`Redactor::disabled_rules`].
    pub fn with_defaults() -> Redactor {
        let engine = Engine::build(&RedactConfig::default(), Strictness::SkipBroken)
            .unwrap_or_else(|_| Engine::keys_only());
        Redactor { engine }
    }

    /// Built-in rules that failed to compile and are skipped (always empty unless there is a bug;
    /// worth a warning at start-up if not).
    pub fn disabled_rules(&self) -> &[String] {
        self.engine.disabled()
    }

    /// Names of the value-pattern rules, in the order they run. Key-name rules report as
    /// `password`, `secret`, `token`, `api-key`, `private-key`, `authorization`, `cookie`,
    /// `credentials`, `signature` and `custom-key`.
    pub fn rule_names(&self) -> Vec<&str> {
        self.engine.rule_names().collect()
    }

    /// Whether `key` names a secret (e.g. to drop headers from a log line).
    pub fn is_secret_key(&self, key: &str) -> bool {
        self.engine.keys.classify(key).is_some()
    }

    /// Redacts in place every secret in `value`; `pointer` is the JSON pointer of `value` within the
    /// whole document (e.g. `"/steps/3/input"`, `""` for the root), used to report paths of
    /// redacted values.
    pub fn redact_value(&self, value: &mut Value, pointer: &str, report: &mut RedactionReport) {
        let mut path = String::with_capacity(pointer.len() + 64);
        path.push_str(pointer);
        self.walk(value, None, &mut path, report);
    }

    /// Redacts `value` as the value of `key` (a metadata map entry, say): if `key` names a secret,
    /// the strings under it go, whatever their shape.
    pub fn redact_keyed_value(
        &self,
        key: &str,
        value: &mut Value,
        pointer: &str,
        report: &mut RedactionReport,
    ) {
        let mut path = String::with_capacity(pointer.len() + 64);
        path.push_str(pointer);
        let class = self.engine.keys.classify(key);
        self.walk(value, class, &mut path, report);
    }

    /// Redacts value patterns inside one string (no key context), same reporting. Use it for
    /// names, error messages and stack traces.
    pub fn redact_str(&self, text: &mut String, pointer: &str, report: &mut RedactionReport) {
        self.engine.redact_text(text, pointer, report);
    }

    /// A string that sits under a key, e.g. a metadata map entry: both key-name and value rules
    /// apply.
    pub fn redact_keyed_str(
        &self,
        key: &str,
        text: &mut String,
        pointer: &str,
        report: &mut RedactionReport,
    ) {
        match self.engine.keys.classify(key) {
            Some(class) => self.engine.redact_keyed(class, text, pointer, report),
            None => self.engine.redact_text(text, pointer, report),
        }
    }

    /// `class` is the secret class of the nearest enclosing key that names a secret, if any: under
    /// `"credentials": {...}` every string leaf goes, with the structure kept.
    fn walk(
        &self,
        value: &mut Value,
        class: Option<KeyClass>,
        path: &mut String,
        report: &mut RedactionReport,
    ) {
        match value {
            Value::String(text) => match class {
                Some(class) => self.engine.redact_keyed(class, text, path, report),
                None => self.engine.redact_text(text, path, report),
            },
            Value::Number(_) => {
                if let Some(class) = class.filter(|class| class.numbers) {
                    let mut marker = String::new();
                    push_marker(&mut marker, class.name);
                    *value = Value::String(marker);
                    report.record(path, class.name);
                }
            }
            Value::Array(items) => {
                let pair_class = self.header_pair_class(items);
                for (index, item) in items.iter_mut().enumerate() {
                    let len = path.len();
                    let _ = write!(path, "/{index}");
                    let item_class = if index == 1 {
                        pair_class.or(class)
                    } else {
                        class
                    };
                    self.walk(item, item_class, path, report);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                let value_class = self.header_object_class(map);
                for (key, item) in map.iter_mut() {
                    let len = path.len();
                    push_pointer_token(path, key);
                    let item_class = match value_class {
                        Some(named) if key == "value" => Some(named),
                        _ => self.engine.keys.classify(key).or(class),
                    };
                    self.walk(item, item_class, path, report);
                    path.truncate(len);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// `["Authorization", "Bearer ..."]`: a two-element array whose first element names a secret.
    fn header_pair_class(&self, items: &[Value]) -> Option<KeyClass> {
        match items {
            [Value::String(name), _] => self.name_class(name),
            _ => None,
        }
    }

    /// The class of a header or field *name* held in a string. Only short name-like strings count:
    /// free text that happens to end in `cookie` (or in a marker naming one) is not a name.
    fn name_class(&self, name: &str) -> Option<KeyClass> {
        let name_like = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b' '));
        if name_like {
            self.engine.keys.classify(name)
        } else {
            None
        }
    }

    /// `{"name": "Authorization", "value": "..."}` (HAR, Postman, OpenAPI examples) and
    /// `{"key": "api_key", "value": "..."}`: the class of the secret the name field names.
    fn header_object_class(&self, map: &serde_json::Map<String, Value>) -> Option<KeyClass> {
        if !map.contains_key("value") {
            return None;
        }
        ["name", "key", "header", "field"]
            .iter()
            .filter_map(|field| map.get(*field))
            .find_map(|name| match name {
                Value::String(name) => self.name_class(name),
                _ => None,
            })
    }
}

/// Appends `/<key>` to a JSON pointer, escaping `~` and `/` (RFC 6901).
fn push_pointer_token(path: &mut String, key: &str) {
    path.push('/');
    if key.contains(['~', '/']) {
        for c in key.chars() {
            match c {
                '~' => path.push_str("~0"),
                '/' => path.push_str("~1"),
                c => path.push(c),
            }
        }
    } else {
        path.push_str(key);
    }
}
