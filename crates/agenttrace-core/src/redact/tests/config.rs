//! Configuration: extra keys, extra patterns, the allow-list, errors, and the guarantees about the
//! built-in rules (they all compile, names are unique and valid, the redactor is `Send + Sync`).

use serde_json::json;

use super::super::engine::is_valid_rule_name;
use super::super::rules::{GENERIC_RULES, KEY_FAMILIES, VALUE_RULES};
use super::super::{RedactConfig, RedactError, RedactionReport, Redactor};

fn build(config: RedactConfig) -> Redactor {
    Redactor::new(&config).unwrap()
}

#[test]
fn built_in_rules_all_compile_and_nothing_is_disabled() {
    assert!(Redactor::new(&RedactConfig::default()).is_ok());
    let redactor = Redactor::with_defaults();
    assert!(
        redactor.disabled_rules().is_empty(),
        "{:?}",
        redactor.disabled_rules()
    );
    let names = redactor.rule_names();
    assert_eq!(names.len(), VALUE_RULES.len() + GENERIC_RULES.len());
}

#[test]
fn rule_names_are_unique_and_fit_in_markers() {
    let mut names: Vec<&str> = VALUE_RULES
        .iter()
        .chain(GENERIC_RULES)
        .map(|rule| rule.name)
        .collect();
    names.extend(KEY_FAMILIES.iter().map(|family| family.name));
    names.push("custom-key");
    for name in &names {
        assert!(is_valid_rule_name(name), "{name}");
    }
    // `private-key` is both a PEM pattern and a key family on purpose: same kind of secret.
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count - 1, "duplicate rule names");
}

#[test]
fn every_rule_has_at_least_one_hint() {
    for rule in VALUE_RULES.iter().chain(GENERIC_RULES) {
        assert!(!rule.hints.is_empty(), "{} has no hint", rule.name);
    }
}

#[test]
fn the_redactor_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Redactor>();
}

#[test]
fn extra_keys_match_like_built_in_ones() {
    let redactor = build(RedactConfig {
        extra_keys: vec!["ssn".into(), "internalCode".into()],
        ..RedactConfig::default()
    });
    let mut doc = json!({
        "user_ssn": "123-45-6789",
        "SSN": 123456789,
        "INTERNAL-CODE": "ic-77",
        "note": "internal_code=zz-991 and internal code: qq-12345",
        "max_tokens": 10
    });
    let mut report = RedactionReport::default();
    redactor.redact_value(&mut doc, "", &mut report);
    assert_eq!(
        doc,
        json!({
            "user_ssn": "[REDACTED:custom-key]",
            "SSN": "[REDACTED:custom-key]",
            "INTERNAL-CODE": "[REDACTED:custom-key]",
            "note": "internal_code=[REDACTED:custom-key] and internal code: [REDACTED:custom-key]",
            "max_tokens": 10
        })
    );
    assert_eq!(report.by_rule.get("custom-key"), Some(&5));
}

#[test]
fn extra_patterns_name_their_markers_and_may_pick_a_group() {
    let redactor = build(RedactConfig {
        extra_patterns: vec![
            ("employee-id".into(), r"\bEMP-[0-9]{6}\b".into()),
            (
                "internal-ticket-secret".into(),
                r"TICKET\[(?P<secret>[a-f0-9]{8})\]".into(),
            ),
        ],
        ..RedactConfig::default()
    });
    let mut text =
        "EMP-123456 opened TICKET[deadbeef] for ghp_gHwIoALtLinxN1Ekia7ZpTjCgeOj3QYrzZq9"
            .to_owned();
    let mut report = RedactionReport::default();
    redactor.redact_str(&mut text, "/name", &mut report);
    assert_eq!(
        text,
        "[REDACTED:employee-id] opened TICKET[[REDACTED:internal-ticket-secret]] for [REDACTED:github-token]"
    );
    assert_eq!(report.total, 3);

    // Idempotent even though the marker sits inside the pattern's own context.
    let before = text.clone();
    let mut again = RedactionReport::default();
    redactor.redact_str(&mut text, "/name", &mut again);
    assert_eq!(text, before);
    assert!(again.is_empty());
}

#[test]
fn an_extra_pattern_cannot_eat_markers() {
    let redactor = build(RedactConfig {
        extra_patterns: vec![("greedy".into(), r"REDACTED:[a-z-]+".into())],
        ..RedactConfig::default()
    });
    let mut text = "x [REDACTED:password] y".to_owned();
    let mut report = RedactionReport::default();
    redactor.redact_str(&mut text, "", &mut report);
    assert_eq!(text, "x [REDACTED:password] y");
    assert!(report.is_empty());
}

#[test]
fn allow_listed_values_are_never_redacted() {
    let redactor = build(RedactConfig {
        allow: vec!["AKIAIOSFODNN7EXAMPLE".into(), "dev-password".into()],
        ..RedactConfig::default()
    });
    let mut doc = json!({
        "doc": "the example key AKIAIOSFODNN7EXAMPLE from the AWS docs, real one AKIAVAUVZHMASQXEZYEX",
        "password": "dev-password",
        "text": "password=dev-password"
    });
    let mut report = RedactionReport::default();
    redactor.redact_value(&mut doc, "", &mut report);
    assert_eq!(
        doc,
        json!({
            "doc": "the example key AKIAIOSFODNN7EXAMPLE from the AWS docs, real one [REDACTED:aws-access-key-id]",
            "password": "dev-password",
            "text": "password=dev-password"
        })
    );
    assert_eq!(report.total, 1);
}

#[test]
fn configuration_errors_name_the_culprit() {
    let bad_regex = Redactor::new(&RedactConfig {
        extra_patterns: vec![("broken-rule".into(), "([a-z".into())],
        ..RedactConfig::default()
    })
    .unwrap_err();
    assert!(
        matches!(bad_regex, RedactError::InvalidPattern { ref name, .. } if name == "broken-rule")
    );
    assert!(bad_regex.to_string().contains("broken-rule"));

    let empty = Redactor::new(&RedactConfig {
        extra_patterns: vec![("everything".into(), "x*".into())],
        ..RedactConfig::default()
    })
    .unwrap_err();
    assert!(matches!(empty, RedactError::EmptyMatch { ref name } if name == "everything"));

    let bad_name = Redactor::new(&RedactConfig {
        extra_patterns: vec![("Bad Name]".into(), "abc".into())],
        ..RedactConfig::default()
    })
    .unwrap_err();
    assert!(matches!(bad_name, RedactError::InvalidRuleName { .. }));

    let bad_key = Redactor::new(&RedactConfig {
        extra_keys: vec!["--".into()],
        ..RedactConfig::default()
    })
    .unwrap_err();
    assert!(matches!(bad_key, RedactError::InvalidKey { ref key } if key == "--"));
}

#[test]
fn config_deserializes_with_defaults() {
    let config: RedactConfig = serde_json::from_value(
        json!({"extra_keys": ["ssn"], "extra_patterns": [["emp", "EMP-[0-9]+"]]}),
    )
    .unwrap();
    assert_eq!(config.extra_keys, vec!["ssn".to_owned()]);
    assert_eq!(
        config.extra_patterns,
        vec![("emp".to_owned(), "EMP-[0-9]+".to_owned())]
    );
    assert!(config.allow.is_empty());
}
