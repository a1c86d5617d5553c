//! Secret redaction (being written): temporary placeholder with the agreed interface so the rest
//! of the workspace compiles; replaced whole by the real redactor.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct RedactConfig {
    pub extra_keys: Vec<String>,
    pub extra_patterns: Vec<(String, String)>,
    pub allow: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("invalid pattern {0}")]
    Pattern(String),
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct RedactionReport {
    pub total: u64,
    pub by_rule: BTreeMap<String, u64>,
    pub paths: Vec<RedactedPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedactedPath {
    pub pointer: String,
    pub rule: String,
}

#[derive(Debug)]
pub struct Redactor;

impl Redactor {
    pub fn new(_config: &RedactConfig) -> Result<Redactor, RedactError> {
        Ok(Redactor)
    }
    pub fn with_defaults() -> Redactor {
        Redactor
    }
    pub fn redact_value(
        &self,
        _value: &mut serde_json::Value,
        _pointer: &str,
        _report: &mut RedactionReport,
    ) {
    }
    pub fn redact_str(&self, _text: &mut String, _pointer: &str, _report: &mut RedactionReport) {}
    pub fn redact_keyed_str(
        &self,
        _key: &str,
        _text: &mut String,
        _pointer: &str,
        _report: &mut RedactionReport,
    ) {
    }
}
