//! End to end: a trace full of secrets goes in; no secret value is in the database files, the API
//! output or the export, while the structure and the token counts survive.

use crate::helpers::spawn_app;
use serde_json::{Value, json};

/// Fabricated secrets of real shapes (none of them is live).
fn secrets() -> Vec<String> {
    vec![
        format!("sk-proj-{}", "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7dEf0hIj3k"),
        format!(
            "sk-ant-api03-{}-{}AA",
            "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7Zx6Yw5Vu4Ts3Rq2Po1Nm0Lk9Ji8Hg7Fe6Dc5Ba4Zx3Yw2V",
            "u1Ts0Rq9Po8Nm7Lk6"
        ),
        "AKIAQX3EXAMPLE7KZP4D".to_owned(),
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY".to_owned(),
        format!("ghp_{}", "R2d2C3poBb8Ll9Kk0Jj1Hh2Gg3Ff4Dd5Ss6Aa7"),
        format!(
            "xoxb-{}-{}-{}",
            "263594206564", "2966837553425", "Xk9Lm2Np4Qr6St8Uv0Wx1Yz3"
        ),
        format!("sk_live_{}", "51HqLyjWDarjtT1zdp7dcXYZ0aBcDeFgHiJk"),
        format!(
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
            "eyJzdWIiOiJ1c2VyLTQyIiwibmFtZSI6IkphbmUgRG9lIiwiaWF0IjoxNzAwMDAwMDAwfQ",
            "dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk4"
        ),
        "Tr0ub4dor-and-3-horses".to_owned(),
        "bearer-token-value-9f8e7d6c5b4a".to_owned(),
        "S3cr3tDbPassw0rd".to_owned(),
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7".to_owned(),
    ]
}

fn leaky_trace(s: &[String]) -> Value {
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\nVGhpcyBpcyBub3QgYSByZWFsIGtleSBqdXN0IHRlc3QgZGF0YQ==\n-----END PRIVATE KEY-----",
        s[11]
    );
    json!({
        "name": "leaky run",
        "description": format!("started with key {}", s[0]),
        "metadata": {"deploy": {"aws_access_key_id": s[2], "aws_secret_access_key": s[3]}},
        "steps": [
            {"id": "llm", "type": "llm", "model": "gpt-4o-mini",
             "input": [{"role": "user", "content": format!("my anthropic key is {} please use it", s[1])}],
             "output": {"content": format!("I will call GitHub with token {}", s[4])},
             "usage": {"input_tokens": 120, "output_tokens": 30},
             "metadata": {"max_tokens": 4096, "token_count": 150, "request_id": "5f0c9d3e-8d1a-4c4e-9a63-1c2b3d4e5f60"}},
            {"id": "http", "parent_id": "llm", "type": "tool", "name": "http_get",
             "input": {"url": "https://api.example.com/v1/items",
                       "headers": {"Authorization": format!("Bearer {}", s[9]), "X-Api-Key": s[6]},
                       "webhook": format!("posted with {}", s[5])},
             "output": format!("{{\"session\": \"{}\", \"ok\": true}}", s[7])},
            {"id": "db", "parent_id": "llm", "type": "tool", "name": "query",
             "input": {"dsn": format!("postgres://app_user:{}@db.internal:5432/orders", s[10]), "password": s[8]},
             "error": {"type": "OperationalError",
                       "message": format!("could not connect to postgres://app_user:{}@db.internal:5432/orders", s[10]),
                       "stack": format!("Traceback:\n  File \"db.py\", line 9\n    key = \"\"\"{pem}\"\"\"")}}
        ]
    })
}

#[tokio::test]
async fn no_secret_reaches_disk_api_or_export() {
    let app = spawn_app().await;
    let secrets = secrets();
    let created = app.upload_ok(&leaky_trace(&secrets)).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created["redactions"].as_u64().unwrap() >= 12, "{created}");

    let (_, trace) = app.get_json(&format!("/api/v1/traces/{id}")).await;
    let api_text = trace.to_string();
    let export = app
        .client
        .get(app.url(&format!("/api/v1/traces/{id}/export")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, list) = app.get_json("/api/v1/traces").await;
    let list_text = list.to_string();

    // Search the raw bytes of every database file, the write-ahead log included.
    let mut disk = Vec::new();
    for entry in std::fs::read_dir(&app.data_dir).unwrap() {
        disk.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(disk.len() > 10_000);
    for secret in &secrets {
        for (where_, haystack) in [
            ("api", api_text.as_bytes()),
            ("export", export.as_bytes()),
            ("list", list_text.as_bytes()),
            ("disk", &disk),
        ] {
            assert!(
                !haystack
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "secret {secret:?} found in {where_}"
            );
        }
    }

    // What was not secret survives, and the markers say what was removed.
    let steps = &trace["steps"];
    assert_eq!(steps[0]["usage"]["input_tokens"], 120);
    assert_eq!(steps[0]["metadata"]["max_tokens"], 4096);
    assert_eq!(steps[0]["metadata"]["token_count"], 150);
    assert_eq!(
        steps[0]["metadata"]["request_id"],
        "5f0c9d3e-8d1a-4c4e-9a63-1c2b3d4e5f60"
    );
    assert_eq!(steps[0]["model"], "gpt-4o-mini");
    assert_eq!(steps[1]["input"]["url"], "https://api.example.com/v1/items");
    assert!(
        steps[1]["input"]["headers"]
            .as_object()
            .unwrap()
            .contains_key("Authorization")
    );
    let dsn = steps[2]["input"]["dsn"].as_str().unwrap();
    assert!(
        dsn.starts_with("postgres://app_user:") && dsn.ends_with("@db.internal:5432/orders"),
        "{dsn}"
    );
    assert!(api_text.contains("[REDACTED:"), "{api_text}");
    assert!(
        steps[0]["input"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("my anthropic key is [REDACTED:")
    );
    assert_eq!(trace["redactions"], created["redactions"]);
}
