//! Tests of the redactor.
//!
//! - `positives`: a table of true positives per rule (every built-in rule has its own cases);
//! - `negatives`: text that must survive unchanged (counts, ids, hashes, prose, paths, URLs);
//! - `documents`: key names at any depth, header shapes, numbers, pointers, report contents;
//! - `config`: extra keys, extra patterns, the allow-list and configuration errors;
//! - `props`: property tests (idempotence, shape preservation, no generated secret survives).
//!
//! Every secret in these files is fabricated: the shapes are right, none was ever issued. They live
//! only under a `tests` path, which the repository's secret scanner skips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod config;
mod documents;
mod negatives;
mod positives;
mod props;

use std::sync::OnceLock;

use serde_json::Value;

use super::{RedactionReport, Redactor};

/// One redactor for all tests (building it is the slow part).
pub(super) fn redactor() -> &'static Redactor {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    REDACTOR.get_or_init(|| Redactor::new(&super::RedactConfig::default()).unwrap())
}

/// Redacts a copy of `text` with the built-in rules.
pub(super) fn redact(text: &str) -> (String, RedactionReport) {
    let mut text = text.to_owned();
    let mut report = RedactionReport::default();
    redactor().redact_str(&mut text, "", &mut report);
    (text, report)
}

/// Redacts a copy of `value` with the built-in rules, from the root.
pub(super) fn redact_json(value: &Value) -> (Value, RedactionReport) {
    let mut value = value.clone();
    let mut report = RedactionReport::default();
    redactor().redact_value(&mut value, "", &mut report);
    (value, report)
}

/// Standard base64 with padding (the tests need to build `Basic` credentials).
pub(super) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_helper_matches_known_vectors() {
    assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"a"), "YQ==");
}
