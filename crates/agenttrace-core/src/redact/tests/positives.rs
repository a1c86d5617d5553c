//! True positives, per rule. Each pattern rule's secrets are tried bare and embedded in several
//! contexts (prose, JSON inside a string, a URL query, a shell line, a multi-line log); rules that
//! need context (URLs, schemes, key names) have whole texts. Every built-in rule must appear here.

use super::super::rules::{GENERIC_RULES, KEY_FAMILIES, VALUE_RULES};
use super::redact;

/// Secrets recognised by their shape alone.
const PATTERN_CASES: &[(&str, &[&str])] = &[
    (
        "anthropic-key",
        &[
            "sk-ant-api03-PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA_2O76UMFxFkM_R5Kjp1vRt-1fjORS_6ilI8ihN5KXSc7Tvo_hBKqFYAA",
            "sk-ant-admin01-Y_kv5ZJr3J1TWDtkwtDDb-xHKas1VOqg6YYZYn9ZhyiA4uoRgnatmUdjAWtG",
        ],
    ),
    (
        "openai-key",
        &[
            "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",
            "sk-3fS2qHx6kwXoIIXGvOoNZYW2mZp0zVZomHFwUbbYrEqmSM9w",
            "sk-proj-5SUkCnD8zRA9a9SkpXz9w3QlY7Zkuvqdt7s8Stqcbnr3yBdGBLEPH1qhT61qtc4xatws8phP9nhFyJfm5di4PzJ59FHz5r1pY4OjE2jBMptUsGr7CmY-uCu3ZR1zTOlUcR64cXQLioDnkHIfxIq2HZt_PlJh",
            "sk-svcacct-x2jIclHkCiHp6bR1IqfEouHgxzNNAL5wIScGebcy8F5n3_YNBDRzrZSgqbjG3uhkWKFLf6xuI5",
            "sk-admin-aHUQPFeNBTxaQWk8JzFalHlsZfYcMMDktXP_tKsf",
            "sk-None-Qm1hXb2Lr7Yp0TzVw4Kc9Nd3Fg6Hs8Jt5",
        ],
    ),
    (
        "openrouter-key",
        &["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"],
    ),
    (
        "langfuse-key",
        &["sk-lf-2e8c6622-48b4-83b7-ffc0-50fec94dbca3"],
    ),
    (
        "aws-access-key-id",
        &[
            "AKIAVAUVZHMASQXEZYEX",
            "ASIA1RDRGDSJPR16UMX1",
            "AKIAIOSFODNN7EXAMPLE",
        ],
    ),
    (
        "aws-session-token",
        &[
            "FwoGZXIvYXdzwRlOEVHzc0X0AWIRh+JUqBlIFXZ53Ncqe28/ajY75FnCttn6kfaqDeMqG3omjMyXHCabM6JOF8EFd0Nhcy+1kGD2VD+eR1UYzaLiA+zNyD7CHLn+xC/1hsYgBds1ghxY5OokvQyx7eNWVQ4vnakJkS1pAWTN3lg8zV5yPU8d0FZfWe7ihGyiRUIQfHOJMaidDn87XG3+",
            "IQoJb3JpZ2luX2Vjq+xbMtEPO6UkzYuF0ie9Pu2njHkAm1+5wDr16EpLLJIVGHz4FxFEtKyPiYGFDm7ena8D5VfLDpgyyjVw5HanSBeVRsfAGeAbP0VxNjAe+9i0mYtluYI0KN1gNT11cUzYZAa3u2olZU6uqbgsYlVvsSKuvinX/zMqf9OgXluCZz8xBfZuXTptFyfePpX6N1NF2XV54wca/7E56w8ZniqT3Ul4ffqkOkgWrdioyq/KvCiSGuPJ6sG9AHEOVezxZuJPWvHogU5nGYVHWVsUQk4DwgLGNOaeCtL31Ugq/DfcgaTM",
        ],
    ),
    (
        "github-token",
        &[
            "ghp_gHwIoALtLinxN1Ekia7ZpTjCgeOj3QYrzZq9",
            "gho_adP0J5wMPLCM7HUFpk5acdIbzlpkd6XgaNJQ",
            "ghu_8mjAmHMPGPPA0NlGtetOd4UYETIay2BV6DfV",
            "ghs_PClogqoPchv5V7S82qTdrOJRBRY6HqsP795n",
            "ghr_f4Gakq5p1Vm8kV6um4yvMpy62O6SQ1IEE1HS",
            "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",
        ],
    ),
    (
        "gitlab-token",
        &[
            "glpat-9mqmALOR2HcSGKgVP8Kd",
            "gldt-0d3mS8gBlKv3azKgaS-m",
            "glrt-x_SHuKBD_vok-nPTmZY1",
            "GR1348941l2dVAMH2vWD6qeSPt5Pv",
            "glpat-Xb3kP9wQ2mR7tY4vN8zL1cF.01.0r03ak4yw",
        ],
    ),
    (
        "slack-token",
        &[
            "xoxb-774932573834-4922359852353-q9Ugk9QgmyjjYtUtBrmgO6gr",
            "xoxp-367006638470-249603699639-3217654163624-dfe0d5a0cf318656b3e6f0bade65c3b1",
            "xapp-1-AQRYZDAE00W-9413468367322-26f74bde94fb78c8d5f08b79affd2b49c12a4b0062983475eb46c5296f62e338",
            "xoxe.xoxp-1-Mi0yLTE2NDk4NjM0NjQ5OTMtMTY0OTg2MzQ2NDk5My0x",
        ],
    ),
    (
        "google-api-key",
        &["AIzaXt80nk8Btb2abplBpq8cJF5xgUskL_6Ggeb"],
    ),
    (
        "google-client-secret",
        &["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"],
    ),
    (
        "google-oauth-token",
        &[
            "ya29.btN2FWXWD5KaPHI2ufKssJ_Sk-WzDNhY7AGbX6lTiDYHP9zyBylxLUTZtFf_VnV7ktOdSJcmeA-BHJ2m5qGeRzxWkdgeV6",
        ],
    ),
    (
        "stripe-key",
        &[
            "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",
            "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",
            "sk_test_p0136uXT3yKW5ds3g9UFCGbH",
            "whsec_ZIibp9foNlkgtqJ09bbg7SVmqb1MOKDH",
        ],
    ),
    (
        "huggingface-token",
        &[
            "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",
            "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",
        ],
    ),
    (
        "groq-key",
        &["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"],
    ),
    (
        "xai-key",
        &["xai-PkhdM996G5rfDLI7jChGi4s6AKsrpVfVIs1DNSKoPymJTxD5JtNEE0tbpvomGIyLza7wk38puJuFrs4n"],
    ),
    (
        "perplexity-key",
        &["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"],
    ),
    (
        "replicate-token",
        &["r8_ErYOTO6TiA3gaAXJLhFz9KjA2Yr3NMhy2CSDs"],
    ),
    (
        "langsmith-key",
        &["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"],
    ),
    (
        "nvidia-key",
        &["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"],
    ),
    ("npm-token", &["npm_jTpwrkcrOg258LewmCNybdo4zLW9cCdNppoc"]),
    (
        "pypi-token",
        &[
            "pypi-AgEIcHlwaS5vcmcuwOa6M1G_iFXC0NZ-cFlwvTWxaLYUoQXQZip2SFXy7KSE3eJdRtEqlzIq47EuVTBZWAM8A",
        ],
    ),
    (
        "sendgrid-key",
        &["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"],
    ),
    (
        "digitalocean-token",
        &["dop_v1_4c1957f8db03911731a6b2dc782bdeae16d4f6185578715bbd26944ff770e4b9"],
    ),
    ("shopify-token", &["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"]),
    (
        "databricks-token",
        &["dapi5210ef2a83fdf6a0b29872400c49b553"],
    ),
    (
        "linear-key",
        &["lin_api_YU1tVNuylP0wuoxiJ6x11qpdcgKZO60Tz5d8nFBF"],
    ),
    (
        "atlassian-token",
        &[
            "ATATT3uMksDur4Zlf49yBVae2sKjh1Ri4bwvWLa4Sz8kP62tZkhQM1V9rMRdyC5ksV1UE4YHoDxzoCGmyG-D6Cok0j4ron6Yvy8lrVhZEgVfbB6Mpr2lzoTvURbGpEVT-fTmTPoeFGTy5c4oc-ojHxtLWsGI4bdRt-9eejxY8u5YDjUQBNqfBvU7Q7=CBA0AFA7",
        ],
    ),
    (
        "postman-key",
        &["PMAK-07e1448c828b4136d3b97429-ab7bca1aafb77b4460ecec9524998a2625"],
    ),
    (
        "sentry-token",
        &[
            "sntrys_eyJpYXQiOjE3MDAwMDAwMDAuMCwidXJsIjoiaHR0cHM6Ly9zZW50cnkuaW8ifQ_tLwDwXSBU37e1Fu5lr5qIbWkOrpTbndzCm5Ms3GPgmp",
            "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",
        ],
    ),
    (
        "doppler-token",
        &["dp.pt.PZXxjOozWf7bNihdIGnJXlq8MxVj5l3V26XkHbwXTpC"],
    ),
    (
        "square-token",
        &[
            "sq0atp-_BSX6BPdnbiZShDW0WCdGc",
            "sq0csp-H3EDTAP2JM_Bu9IrMKlQa-FuO5BgAUf4x3rMdotbrMt",
        ],
    ),
    (
        "telegram-bot-token",
        &["8512761656:AAQeEzberD3ncgOiop-r2awCsoT_jSBCjIw"],
    ),
    ("mailgun-key", &["key-eee65f53e9421ce50211670eae679f02"]),
    (
        "vault-token",
        &[
            "hvs.6J0kGODKdinZnLXicaBAg8WY1jzIRlNQb0prFmbh7_wy5yq1XoY1BaIMcAxYmfsB4HbQLXjjlAFbVV6q9rXxtNDFyu",
            "hvs.CAESIVO8JmR8y4EMfAdggcG9qpVTzqA05MFsHl7UeioEJ",
        ],
    ),
    ("newrelic-key", &["NRAK-ERNNBER02PDCLSX7IFXI2V7ICB4"]),
    (
        "grafana-token",
        &[
            "glc_TNecj9iNOrjj5VfqRTk8j1d/bWWbjkloG1QX647kdNl9cDo/+GbVMszvR4/E==",
            "glsa_uzQqmOBZZW6m4nyoL6uniiFw152cTe8r_53ef86dc",
        ],
    ),
    (
        "age-secret-key",
        &["AGE-SECRET-KEY-1AQRECM6D09XRAUC38S9V0RZ1U80YJYY0JAP6QYPMHFCDZ9U29U3A446V8Y"],
    ),
    (
        "jwt",
        &[
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTg4NDEiLCJpYXQiOjE3MTgwMDAwMDAsImV4cCI6MTcxODAwMzYwMH0.EWTiYIPjCHH8S9CsiUAvUEwt6wfPWU2p0tGWnUTM5lJ",
            "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS50ZXN0IiwiYXVkIjoiYWdlbnRzIn0.YL5o59wtaqU-EVRWGczaHhwNJPGEH4l_lzq2LVf4WUfL03GTEXqyViAQjk5WY1_dn77318wi4Y-rbDzZfLQX6plCjbn_lB6hzQ9h1r0gsPQyaxJHlOXGMY1gNMFW3GNzqgAV7",
            // Unsigned (`alg: none`): the signature segment is empty.
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZ2VudC03In0.",
        ],
    ),
];

/// Contexts each pattern secret is embedded in; `{}` is the secret.
const CONTEXTS: &[&str] = &[
    "{}",
    "here is the key {} for prod, keep it safe",
    r#"{"cfg": {"value": "{}"}, "retries": 3}"#,
    "GET https://api.example.test/v1/items?limit=5&x={}&page=2",
    "export SERVICE_CONFIG='{}'",
    "line one\n  at step 3: {}\nline three",
    "(see {})",
];

#[test]
fn every_pattern_secret_is_removed_in_every_context() {
    for (rule, secrets) in PATTERN_CASES {
        for secret in *secrets {
            for context in CONTEXTS {
                let text = context.replace("{}", secret);
                let (out, report) = redact(&text);
                assert!(
                    !out.contains(secret),
                    "{rule}: `{secret}` survived in `{out}`"
                );
                let marker = format!("[REDACTED:{rule}]");
                assert!(out.contains(&marker), "{rule}: no {marker} in `{out}`");
                assert!(
                    report.by_rule.get(*rule).copied().unwrap_or(0) >= 1,
                    "{rule}: {report:?}"
                );
                // Only the secret goes: the surrounding text is intact.
                assert_eq!(
                    out,
                    context.replace("{}", &marker),
                    "{rule}: context changed"
                );
            }
        }
    }
}

/// `(rule, text, secret)`: the secret must vanish, the marker must appear, and for the listed
/// `kept` fragments the surrounding text must survive.
struct Case {
    rule: &'static str,
    text: &'static str,
    secret: &'static str,
    kept: &'static [&'static str],
}

const CONTEXT_CASES: &[Case] = &[
    Case {
        rule: "private-key",
        text: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----",
        secret: "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
        kept: &[],
    },
    Case {
        rule: "private-key",
        text: "key file:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\nloaded",
        secret: "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
        kept: &["key file:\n", "\nloaded"],
    },
    Case {
        rule: "private-key",
        text: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----",
        secret: "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
        kept: &[],
    },
    Case {
        rule: "private-key",
        text: "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oQ8MlbXuAp4ToAoGCCqGSM49\n-----END EC PRIVATE KEY-----",
        secret: "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oQ8MlbXuAp4ToAoGCCqGSM49",
        kept: &[],
    },
    Case {
        rule: "private-key",
        text: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI3+FrUBMHiJ8CAggA\n-----END ENCRYPTED PRIVATE KEY-----",
        secret: "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI3+FrUBMHiJ8CAggA",
        kept: &[],
    },
    Case {
        rule: "private-key",
        text: "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGXk3aEBCADJ8mQ0rW2uN1bT5Z7yK9pL4vC6xH3nJ0gF8dS2aQ1wE5rT7yU9\n-----END PGP PRIVATE KEY BLOCK-----",
        secret: "lQOYBGXk3aEBCADJ8mQ0rW2uN1bT5Z7yK9pL4vC6xH3nJ0gF8dS2aQ1wE5rT7yU9",
        kept: &[],
    },
    Case {
        // Truncated by a log line limit: no END line. Half a key is still a key.
        rule: "private-key",
        text: "loaded -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8Q2Jb7Bz5Tq1f",
        secret: "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8Q2Jb7Bz5Tq1f",
        kept: &["loaded "],
    },
    Case {
        // A PEM block inside JSON inside a string: the newlines are `\n` escapes.
        rule: "private-key",
        text: r#"{"pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEogIBAAKCAQEAq7BFUpkGp3+LQmlQYx2eqzDV+xeG8kx/sQFV18S5JhzGeIJN\n-----END RSA PRIVATE KEY-----\n", "ok": true}"#,
        secret: "MIIEogIBAAKCAQEAq7BFUpkGp3+LQmlQYx2eqzDV+xeG8kx/sQFV18S5JhzGeIJN",
        kept: &[r#"{"pem": ""#, r#"\n", "ok": true}"#],
    },
    Case {
        rule: "slack-webhook",
        text: "POST https://hooks.slack.com/services/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 failed: 404",
        secret: "T0OI459D4/B3J5P5K8AKU/DSKFQs1DxBA9RelOxOPbbNcR",
        kept: &["POST https://hooks.slack.com/services/", " failed: 404"],
    },
    Case {
        rule: "discord-webhook",
        text: "notify via https://discord.com/api/webhooks/518772036251557883/K3R2GgLLT_ZQISA_pQyOMqlfZZgZMnafy8hWskBf6wmxe1mbVrNHMx1eOc3g_fp1Z5ib now",
        secret: "K3R2GgLLT_ZQISA_pQyOMqlfZZgZMnafy8hWskBf6wmxe1mbVrNHMx1eOc3g_fp1Z5ib",
        kept: &["notify via https://discord.com/api/webhooks/", " now"],
    },
    Case {
        rule: "aws-secret-key",
        text: "Configured the AWS CLI with AKIAVAUVZHMASQXEZYEX / dZAkg05rK/gqv81RKMGHZEM9YpvujA+C5Q52ryFl in us-east-1",
        secret: "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",
        kept: &["Configured the AWS CLI with ", " in us-east-1"],
    },
    Case {
        rule: "aws-secret-key",
        text: "[default]\naws_access_key_id = ASIA1RDRGDSJPR16UMX1\n\nwJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY1\n",
        secret: "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY1",
        kept: &["[default]\n"],
    },
    Case {
        // Next to a long base64 run (a screenshot), which is not a candidate itself.
        rule: "aws-secret-key",
        text: "AWS pair dZAkg05rK/gqv81RKMGHZEM9YpvujA+C5Q52ryFl then data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        secret: "dZAkg05rK/gqv81RKMGHZEM9YpvujA+C5Q52ryFl",
        kept: &[
            "AWS pair ",
            " then data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
        ],
    },
    Case {
        rule: "url-password",
        text: "could not connect to postgres://agent:S3cr3t-pw@db.internal:5432/traces",
        secret: "S3cr3t-pw",
        kept: &["postgres://agent:", "@db.internal:5432/traces"],
    },
    Case {
        rule: "url-password",
        text: "MONGO_URL=mongodb+srv://svc:p%40ss%2Fw0rd@cluster0.example.net/db?retryWrites=true",
        secret: "p%40ss%2Fw0rd",
        kept: &[
            "mongodb+srv://svc:",
            "@cluster0.example.net/db?retryWrites=true",
        ],
    },
    Case {
        rule: "url-password",
        text: "redis://:hunter22@cache:6379/0",
        secret: "hunter22",
        kept: &["redis://:", "@cache:6379/0"],
    },
    Case {
        // An unencoded `@` in the password: the last `@` before the host ends it.
        rule: "url-password",
        text: "mysql://root:p@ss@word@localhost/app",
        secret: "p@ss@word",
        kept: &["mysql://root:", "@localhost/app"],
    },
    Case {
        rule: "url-password",
        text: "sqlalchemy.exc.OperationalError: connection failed: postgresql+psycopg2://app:Tr0ub4dor&3@10.0.0.5/app (Background on this error at: https://sqlalche.me/e/20/e3q8)",
        secret: "Tr0ub4dor&3",
        kept: &["postgresql+psycopg2://app:", "@10.0.0.5/app (Background"],
    },
    Case {
        rule: "url-password",
        text: "git clone https://deploy:gh0stR1der@git.example.com/org/repo.git",
        secret: "gh0stR1der",
        kept: &["https://deploy:", "@git.example.com/org/repo.git"],
    },
    Case {
        rule: "url-password",
        text: "jdbc:sqlserver://sa:Passw0rd!@sql.local:1433;databaseName=x",
        secret: "Passw0rd!",
        kept: &["jdbc:sqlserver://sa:", "@sql.local:1433"],
    },
    Case {
        rule: "bearer-token",
        text: "curl -H 'Authorization: Bearer bO00elFs~vtSrAzCQia9e.QiizgU0lSu..rHMg7v' https://api.example.test",
        secret: "bO00elFs~vtSrAzCQia9e.QiizgU0lSu..rHMg7v",
        kept: &[
            "curl -H 'Authorization: Bearer ",
            "' https://api.example.test",
        ],
    },
    Case {
        rule: "bearer-token",
        text: "sent header bearer 7f3c9a1e5b2d4f6a8c0e and got 401",
        secret: "7f3c9a1e5b2d4f6a8c0e",
        kept: &["sent header bearer ", " and got 401"],
    },
    Case {
        rule: "bearer-token",
        text: "token type Bearer, value: Bearer AbCdEfGhIjKlMnOpQrStUv",
        secret: "AbCdEfGhIjKlMnOpQrStUv",
        kept: &["token type Bearer, value: Bearer "],
    },
    Case {
        rule: "basic-auth",
        text: "Authorization: Basic c3ZjLWFnZW50OldxOCNwTDIhenI=",
        secret: "c3ZjLWFnZW50OldxOCNwTDIhenI=",
        kept: &["Authorization: Basic "],
    },
    Case {
        rule: "basic-auth",
        text: "proxy said: basic dXNlcjpwYXNz.",
        secret: "dXNlcjpwYXNz",
        kept: &["proxy said: basic ", "."],
    },
];

/// Key names in text: `key=value`, `key: value`, `"key": "value"`, `--flag value`.
const KEY_VALUE_CASES: &[Case] = &[
    Case {
        rule: "password",
        text: "connecting with db.password=zLcciTA1bHTuOT host=db1",
        secret: "zLcciTA1bHTuOT",
        kept: &["db.password=", " host=db1"],
    },
    Case {
        rule: "password",
        text: r#"{"user": "bob", "password": "correct horse battery staple"}"#,
        secret: "correct horse battery staple",
        kept: &[r#"{"user": "bob", "password": ""#, r#""}"#],
    },
    Case {
        rule: "password",
        text: "database:\n  host: db\n  password: hunter2\n  port: 5432",
        secret: "hunter2",
        kept: &["  password: ", "\n  port: 5432"],
    },
    Case {
        rule: "password",
        text: "ADO: Server=tcp:sql.local,1433;User ID=app;Password=Zq9!vR2#x;Encrypt=True",
        secret: "Zq9!vR2#x",
        kept: &["Password=", ";Encrypt=True"],
    },
    Case {
        rule: "password",
        text: "mysql --user root --password S3cr3tPw! mydb",
        secret: "S3cr3tPw!",
        kept: &["--password ", " mydb"],
    },
    Case {
        rule: "password",
        text: "{'username': 'svc', 'passwd': 'Kx81-rd0'}",
        secret: "Kx81-rd0",
        kept: &["'passwd': '", "'}"],
    },
    Case {
        rule: "password",
        text: "login(pin=1234, PassPhrase=\"red fox 42\")",
        secret: "red fox 42",
        kept: &["PassPhrase=\""],
    },
    Case {
        rule: "api-key",
        text: "OPENAI_API_KEY=3f9a8b7c6d5e4f3a2b1c python run.py",
        secret: "3f9a8b7c6d5e4f3a2b1c",
        kept: &["OPENAI_API_KEY=", " python run.py"],
    },
    Case {
        rule: "api-key",
        text: "x-api-key: 8d1f0c2e9b7a6d5c4b3a2f1e0d9c8b7a\r\naccept: */*",
        secret: "8d1f0c2e9b7a6d5c4b3a2f1e0d9c8b7a",
        kept: &["x-api-key: ", "\r\naccept: */*"],
    },
    Case {
        rule: "api-key",
        text: "My API key: qwerty-998877-zz, please use it",
        secret: "qwerty-998877-zz",
        kept: &["My API key: ", ", please use it"],
    },
    Case {
        rule: "api-key",
        text: "tool --api-key 'k_live_44d2c91e' --verbose",
        secret: "k_live_44d2c91e",
        kept: &["--api-key '", "' --verbose"],
    },
    Case {
        rule: "api-key",
        text: "DefaultEndpointsProtocol=https;AccountName=traces;AccountKey=q1W2e3R4t5Y6u7I8o9P0aSdFgHjKl==;EndpointSuffix=core.windows.net",
        secret: "q1W2e3R4t5Y6u7I8o9P0aSdFgHjKl==",
        kept: &[
            "AccountName=traces;AccountKey=",
            ";EndpointSuffix=core.windows.net",
        ],
    },
    Case {
        rule: "secret",
        text: "client_secret='q8Zr2LmN5vX1cT7w'",
        secret: "q8Zr2LmN5vX1cT7w",
        kept: &["client_secret='", "'"],
    },
    Case {
        // The AWS rule runs before the key-name rule, so the marker names the precise kind.
        rule: "aws-secret-key",
        text: "aws_secret_access_key = Zx9/Yw8+Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa98",
        secret: "Zx9/Yw8+Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa98",
        kept: &["aws_secret_access_key = "],
    },
    Case {
        rule: "secret",
        text: "JWT_SECRET=Zq8w7e6r5t4y3u2i1o0p node server.js",
        secret: "Zq8w7e6r5t4y3u2i1o0p",
        kept: &["JWT_SECRET=", " node server.js"],
    },
    Case {
        rule: "secret",
        text: "webhook secret: whk-7Hq2LpX9",
        secret: "whk-7Hq2LpX9",
        kept: &["webhook secret: "],
    },
    Case {
        rule: "token",
        text: "GET /callback?code=abc&refresh_token=rt_9f8e7d6c5b4a3f2e1d0c&state=xyz",
        secret: "rt_9f8e7d6c5b4a3f2e1d0c",
        kept: &["refresh_token=", "&state=xyz"],
    },
    Case {
        // JSON inside a JSON string inside a string: quotes are escaped.
        rule: "token",
        text: r#"{\"access_token\": \"at-6b5a4c3d2e1f\", \"expires_in\": 3600}"#,
        secret: "at-6b5a4c3d2e1f",
        kept: &[r#"\"access_token\": \""#, r#"\", \"expires_in\": 3600}"#],
    },
    Case {
        rule: "token",
        text: "X-Auth-Token: 5a4b3c2d1e0f9a8b",
        secret: "5a4b3c2d1e0f9a8b",
        kept: &["X-Auth-Token: "],
    },
    Case {
        rule: "cookie",
        text: "Cookie: theme=dark; sessionid=8c7b6a5d4e3f2a1b; csrftoken=ZZ9y8x7w6v\r\nHost: example.test",
        secret: "sessionid=8c7b6a5d4e3f2a1b",
        kept: &["Cookie: ", "\r\nHost: example.test"],
    },
    Case {
        rule: "cookie",
        text: "curl -H 'Set-Cookie: sid=Qm9vdHN0cmFw42; HttpOnly; Secure' https://x.test",
        secret: "sid=Qm9vdHN0cmFw42",
        kept: &["'Set-Cookie: ", "' https://x.test"],
    },
    Case {
        rule: "authorization",
        text: "Authorization: Digest username=\"bob\", realm=\"api\", response=\"6629fae49393a05397450978507c4ef1\"",
        secret: "6629fae49393a05397450978507c4ef1",
        kept: &["Authorization: Digest "],
    },
    Case {
        rule: "authorization",
        text: "Proxy-Authorization: Bearer shortone",
        secret: "shortone",
        kept: &["Proxy-Authorization: Bearer "],
    },
    Case {
        rule: "credentials",
        text: "GOOGLE_CREDENTIALS=eyJ0eXBlIjoic2VydmljZV9hY2NvdW50In0 next",
        secret: "eyJ0eXBlIjoic2VydmljZV9hY2NvdW50In0",
        kept: &["GOOGLE_CREDENTIALS=", " next"],
    },
    Case {
        rule: "private-key",
        text: "private_key: 4f8a2c6e0b9d1f3a5c7e9b0d2f4a6c8e",
        secret: "4f8a2c6e0b9d1f3a5c7e9b0d2f4a6c8e",
        kept: &["private_key: "],
    },
    Case {
        rule: "signature",
        text: "https://bucket.s3.amazonaws.com/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240101T000000Z&X-Amz-Signature=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08&X-Amz-Expires=900",
        secret: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        kept: &["X-Amz-Signature=", "&X-Amz-Expires=900"],
    },
    Case {
        rule: "signature",
        text: "https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&sig=q8Zr2LmN5vX1cT7wPp%2BaB3%3D",
        secret: "q8Zr2LmN5vX1cT7wPp%2BaB3%3D",
        kept: &["&sp=r&sig="],
    },
];

fn check_cases(cases: &[Case]) {
    for case in cases {
        let (out, report) = redact(case.text);
        assert!(
            !out.contains(case.secret),
            "{}: `{}` survived in `{out}`",
            case.rule,
            case.secret
        );
        let marker = format!("[REDACTED:{}]", case.rule);
        assert!(
            out.contains(&marker),
            "{}: no {marker} in `{out}`",
            case.rule
        );
        assert!(
            report.by_rule.contains_key(case.rule),
            "{}: {report:?}",
            case.rule
        );
        for kept in case.kept {
            assert!(
                out.contains(kept),
                "{}: `{kept}` lost in `{out}`",
                case.rule
            );
        }
    }
}

#[test]
fn context_rules_remove_only_the_secret() {
    check_cases(CONTEXT_CASES);
}

#[test]
fn key_names_in_text_remove_only_the_value() {
    check_cases(KEY_VALUE_CASES);
}

#[test]
fn a_pem_block_goes_whole() {
    let (out, _) = redact(CONTEXT_CASES[0].text);
    assert_eq!(out, "[REDACTED:private-key]");
    let (out, _) = redact(CONTEXT_CASES[1].text);
    assert_eq!(out, "key file:\n[REDACTED:private-key]\nloaded");
}

#[test]
fn a_connection_url_keeps_user_and_host() {
    let (out, report) = redact("postgres://agent:S3cr3t-pw@db.internal:5432/traces");
    assert_eq!(
        out,
        "postgres://agent:[REDACTED:url-password]@db.internal:5432/traces"
    );
    assert_eq!(report.total, 1);
}

#[test]
fn the_auth_scheme_stays_in_front_of_the_credential() {
    let (out, _) = redact("Authorization: Bearer bO00elFs~vtSrAzCQia9e.QiizgU0lSu..rHMg7v");
    assert_eq!(out, "Authorization: Bearer [REDACTED:bearer-token]");
    let (out, _) = redact("Authorization: token ghp_gHwIoALtLinxN1Ekia7ZpTjCgeOj3QYrzZq9");
    assert_eq!(out, "Authorization: token [REDACTED:github-token]");
}

#[test]
fn the_most_specific_rule_names_the_secret() {
    let (out, report) = redact("api_key=sk-3fS2qHx6kwXoIIXGvOoNZYW2mZp0zVZomHFwUbbYrEqmSM9w");
    assert_eq!(out, "api_key=[REDACTED:openai-key]");
    assert_eq!(report.total, 1);
    assert_eq!(report.by_rule.get("openai-key"), Some(&1));
}

#[test]
fn several_secrets_in_one_string_are_each_counted() {
    let text = "a ghp_gHwIoALtLinxN1Ekia7ZpTjCgeOj3QYrzZq9 b AKIAVAUVZHMASQXEZYEX c ghs_PClogqoPchv5V7S82qTdrOJRBRY6HqsP795n";
    let (out, report) = redact(text);
    assert_eq!(
        out,
        "a [REDACTED:github-token] b [REDACTED:aws-access-key-id] c [REDACTED:github-token]"
    );
    assert_eq!(report.total, 3);
    assert_eq!(report.by_rule.get("github-token"), Some(&2));
    assert_eq!(report.paths.len(), 3);
}

#[test]
fn every_built_in_rule_has_true_positives_here() {
    let mut covered: Vec<&str> = PATTERN_CASES.iter().map(|(rule, _)| *rule).collect();
    covered.extend(CONTEXT_CASES.iter().map(|case| case.rule));
    covered.extend(KEY_VALUE_CASES.iter().map(|case| case.rule));
    for rule in VALUE_RULES.iter().chain(GENERIC_RULES) {
        assert!(
            covered.contains(&rule.name),
            "rule {} has no test case",
            rule.name
        );
    }
    for family in KEY_FAMILIES {
        assert!(
            covered.contains(&family.name),
            "key family {} has no test case",
            family.name
        );
    }
}
