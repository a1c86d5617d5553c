//! Property tests over random documents with generated secrets of every rule's shape embedded in
//! random strings at random depths:
//! - no generated secret survives anywhere in the output;
//! - redaction is idempotent (a second pass changes nothing and counts nothing);
//! - the shape is kept: same keys, same array lengths, same JSON types (a number may become a
//!   marker string only under a password-like key).

use proptest::prelude::*;
use proptest::string::string_regex;
use serde_json::{Map, Value};

use super::{base64, redact_json};

/// A secret as it appears in text, and the part that must not survive.
#[derive(Debug, Clone)]
struct Planted {
    text: String,
    secret: String,
}

fn shape(pattern: &str) -> BoxedStrategy<Planted> {
    string_regex(pattern)
        .unwrap()
        .prop_map(|secret| Planted {
            text: secret.clone(),
            secret,
        })
        .boxed()
}

fn framed(pattern: &str, before: &'static str, after: &'static str) -> BoxedStrategy<Planted> {
    string_regex(pattern)
        .unwrap()
        .prop_map(move |secret| Planted {
            text: format!("{before}{secret}{after}"),
            secret,
        })
        .boxed()
}

/// One generated secret of some rule's shape (every built-in rule has at least one entry).
fn planted() -> impl Strategy<Value = Planted> {
    let shapes = vec![
        shape("sk-ant-api03-[A-Za-z0-9_-]{20,95}"),
        shape("sk-or-v1-[0-9a-f]{64}"),
        shape("sk-lf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        shape("sk-(proj|svcacct|admin)-[A-Za-z0-9_-]{20,80}"),
        shape("sk-[A-Za-z0-9]{32,51}"),
        shape("sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"),
        shape("(AKIA|ASIA)[A-Z0-9]{16}"),
        shape("(FwoGZXIvYXdz|IQoJb3JpZ2luX2Vj)[A-Za-z0-9/+]{100,200}"),
        shape("gh[pousr]_[A-Za-z0-9]{36}"),
        shape("github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"),
        shape("gl(pat|dt|rt)-[A-Za-z0-9_-]{20,30}"),
        shape("xox[bpa]-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}"),
        framed(
            "T[A-Z0-9]{8}/B[A-Z0-9]{10}/[A-Za-z0-9]{24}",
            "https://hooks.slack.com/services/",
            "",
        ),
        framed(
            "[0-9]{18}/[A-Za-z0-9_-]{68}",
            "https://discord.com/api/webhooks/",
            "",
        ),
        shape("AIza[0-9A-Za-z_-]{35}"),
        shape("GOCSPX-[A-Za-z0-9_-]{28}"),
        shape("ya29\\.[0-9A-Za-z_-]{30,150}"),
        shape("(sk|rk)_(live|test)_[0-9A-Za-z]{24,99}"),
        shape("hf_[A-Za-z]{34}"),
        shape("gsk_[A-Za-z0-9]{52}"),
        shape("xai-[A-Za-z0-9]{80}"),
        shape("pplx-[A-Za-z0-9]{48}"),
        shape("r8_[A-Za-z0-9]{37}"),
        shape("lsv2_(pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}"),
        shape("nvapi-[A-Za-z0-9_-]{64}"),
        shape("npm_[A-Za-z0-9]{36}"),
        shape("pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,120}"),
        shape("SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}"),
        shape("do[opr]_v1_[a-f0-9]{64}"),
        shape("shp(at|ca|pa|ss)_[a-fA-F0-9]{32}"),
        shape("dapi[a-f0-9]{32}"),
        shape("lin_api_[A-Za-z0-9]{40}"),
        shape("ATATT3[A-Za-z0-9_=-]{180,190}"),
        shape("PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
        shape("sntryu_[a-f0-9]{64}"),
        shape("dp\\.pt\\.[A-Za-z0-9]{43}"),
        shape("sq0(atp|csp)-[0-9A-Za-z_-]{22,43}"),
        shape("[0-9]{8,10}:AA[0-9A-Za-z_-]{33}"),
        shape("AGE-SECRET-KEY-1[0-9A-Z]{58}"),
        shape("key-[0-9a-f]{32}"),
        shape("hv[sbr]\\.[A-Za-z0-9_-]{24,90}"),
        shape("NRAK-[A-Z0-9]{27}"),
        shape("glc_[A-Za-z0-9+/_]{32,80}"),
        shape("glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}"),
        shape("eyJ[A-Za-z0-9_-]{10,40}\\.eyJ[A-Za-z0-9_-]{10,80}\\.[A-Za-z0-9_-]{20,86}"),
        framed(
            "[A-Za-z0-9+/]{64}",
            "-----BEGIN RSA PRIVATE KEY-----\n",
            "\n-----END RSA PRIVATE KEY-----",
        ),
        framed(
            "[A-Za-z0-9][A-Za-z0-9!$%^*&]{7,19}",
            "postgres://app:",
            "@db.example.test:5432/x",
        ),
        framed(
            "[A-Z][a-z][0-9][A-Za-z0-9/+]{37}",
            "aws secret access key ",
            "",
        ),
        framed(
            "[A-Za-z0-9_~+/-]{0,10}[0-9][A-Za-z0-9._~+/-]{8,30}[A-Za-z0-9]",
            "Bearer ",
            "",
        ),
        framed("[A-Za-z][A-Za-z0-9!#%]{7,19}", "password=", ""),
        framed(
            "[A-Za-z][A-Za-z0-9 !#%]{7,19}[A-Za-z0-9]",
            "\"api_key\": \"",
            "\"",
        ),
        framed("[A-Za-z][A-Za-z0-9]{11,30}", "client_secret: ", ""),
        framed("[A-Za-z][A-Za-z0-9]{11,30}", "refresh_token=", ""),
        framed("[A-Za-z][A-Za-z0-9]{11,30}", "Cookie: sid=", ""),
        framed("[A-Za-z][A-Za-z0-9]{11,30}", "Authorization: Token ", ""),
        framed("[A-Za-z][A-Za-z0-9]{11,30}", " --password ", ""),
    ];
    let basic = ("[a-z]{3,10}", "[A-Za-z0-9!#]{6,16}").prop_map(|(user, pass)| {
        let secret = base64(format!("{user}:{pass}").as_bytes());
        Planted {
            text: format!("Basic {secret}"),
            secret,
        }
    });
    let mut all = shapes;
    all.push(basic.boxed());
    proptest::strategy::Union::new(all)
}

/// Filler text: no characters that join onto a secret or open a `key: value` pair.
fn filler() -> impl Strategy<Value = String> {
    string_regex("[a-zA-Z0-9 .,!?]{0,40}").unwrap()
}

/// Characters placed on both sides of an embedded secret.
const SEPARATORS: &[&str] = &[" ", "\n", "\t", " \"", "' ", " (", ") "];

const KEYS: &[&str] = &[
    "input",
    "output",
    "content",
    "role",
    "name",
    "metadata",
    "args",
    "password",
    "api_key",
    "Authorization",
    "token",
    "max_tokens",
    "input_tokens",
    "token_count",
    "headers",
    "credentials",
    "value",
    "key",
    "x-api-key",
    "session_id",
    "tokens_used",
    "cookie",
    "eos_token",
    "items",
];

fn document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        filler().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// Mutable references to every string leaf, in document order.
fn string_leaves(value: &mut Value) -> Vec<&mut String> {
    match value {
        Value::String(text) => vec![text],
        Value::Array(items) => items.iter_mut().flat_map(string_leaves).collect(),
        Value::Object(map) => map.values_mut().flat_map(string_leaves).collect(),
        _ => Vec::new(),
    }
}

/// Every string of `value`, keys included, for searching.
fn all_text(value: &Value, out: &mut String) {
    match value {
        Value::String(text) => {
            out.push_str(text);
            out.push('\u{0}');
        }
        Value::Array(items) => items.iter().for_each(|item| all_text(item, out)),
        Value::Object(map) => {
            for (key, item) in map {
                out.push_str(key);
                out.push('\u{0}');
                all_text(item, out);
            }
        }
        _ => {}
    }
}

fn is_marker(text: &str) -> bool {
    text.starts_with("[REDACTED:") && text.ends_with(']') && !text[1..].contains('[')
}

/// Same keys, same lengths, same types; a number may only turn into a marker string.
fn same_shape(before: &Value, after: &Value) -> Result<(), String> {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            if !a.keys().eq(b.keys()) {
                return Err(format!("keys differ: {a:?} vs {b:?}"));
            }
            a.values()
                .zip(b.values())
                .try_for_each(|(x, y)| same_shape(x, y))
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Err(format!("lengths differ: {} vs {}", a.len(), b.len()));
            }
            a.iter().zip(b).try_for_each(|(x, y)| same_shape(x, y))
        }
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(()),
        (Value::Number(_), Value::Number(_)) => Ok(()),
        (Value::Number(_), Value::String(text)) if is_marker(text) => Ok(()),
        (x, y) => Err(format!("type changed: {x:?} -> {y:?}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_generated_secret_survives_and_redaction_is_idempotent_and_shape_preserving(
        body in document(),
        lead in filler(),
        plants in prop::collection::vec((planted(), any::<usize>(), any::<usize>(), filler()), 1..6),
    ) {
        // A root object so there is always a string leaf to plant into.
        let mut doc = serde_json::json!({"input": lead, "steps": body});
        let mut secrets = Vec::new();
        {
            let mut leaves = string_leaves(&mut doc);
            for (plant, leaf_pick, sep_pick, tail) in plants {
                let count = leaves.len();
                let leaf = &mut leaves[leaf_pick % count];
                let sep = SEPARATORS[sep_pick % SEPARATORS.len()];
                leaf.push_str(sep);
                leaf.push_str(&plant.text);
                leaf.push_str(sep);
                leaf.push_str(&tail);
                secrets.push(plant.secret);
            }
        }

        let (once, first) = redact_json(&doc);
        let mut text = String::new();
        all_text(&once, &mut text);
        for secret in &secrets {
            prop_assert!(!text.contains(secret.as_str()), "secret `{}` survived in {}", secret, once);
        }
        prop_assert!(first.total >= 1);

        let (twice, second) = redact_json(&once);
        prop_assert_eq!(&twice, &once);
        prop_assert!(second.is_empty(), "second pass redacted: {:?}", second);

        if let Err(problem) = same_shape(&doc, &once) {
            prop_assert!(false, "{}", problem);
        }
    }

    #[test]
    fn shape_is_kept_for_documents_without_planted_secrets(doc in document()) {
        let (once, _) = redact_json(&doc);
        if let Err(problem) = same_shape(&doc, &once) {
            prop_assert!(false, "{}", problem);
        }
        let (twice, second) = redact_json(&once);
        prop_assert_eq!(&twice, &once);
        prop_assert!(second.is_empty());
    }
}
