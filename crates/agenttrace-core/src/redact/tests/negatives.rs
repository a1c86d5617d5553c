//! True negatives: text and documents that must come out byte for byte unchanged, with nothing
//! counted. A trace viewer that eats token counts, ids or hashes is useless.

use serde_json::json;

use super::{redact, redact_json};

const UNCHANGED: &[&str] = &[
    // Token counts and limits.
    "max_tokens: 4096",
    r#""max_tokens": 4096"#,
    "tokens_used=1532",
    "input_tokens: 812, output_tokens: 96, total_tokens: 908",
    "token_count=77 prompt_tokens=12 completion_tokens=30 num_tokens: 4096",
    "usage: {prompt_tokens: 12, completion_tokens: 30}",
    "token: 4096",
    "Token usage: 1234 tokens",
    "the token limit was reached",
    "tokenizer: cl100k_base",
    // Identifiers and hashes.
    "trace 3f2b8c1e-9d4a-4e7b-8c2f-1a6d5e9b0c37 step 0192f3a4-5b6c-7d8e-9f00-112233445566",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "aws-cli at commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "md5 d41d8cd98f00b204e9800998ecf8427e",
    "x-request-id: 7d0f6c1e2b3a4958",
    "run_01HZX3K9V8Q7W6E5R4T3Y2U1I0",
    // Model names.
    "gpt-4o-mini",
    "claude-3-5-sonnet-20241022",
    "o1-preview text-embedding-3-large gemini-1.5-pro-002 mistral-large-2407",
    "meta-llama/Llama-3.1-70B-Instruct",
    // Prose.
    "reset your password here",
    "Please enter your password to continue.",
    "The API key is stored in the vault.",
    "The secret to good prompts is iteration.",
    "password reset link sent",
    "ValidationError: password: field required",
    "the token: it expired",
    "Bearer of bad news",
    "bearer bonds are risky",
    "Use a bearer token in the Authorization header.",
    "token-based authentication",
    "Basic usage: run the tool",
    "Basic authentication is disabled",
    "Basic configuration steps follow",
    "sk-learn-compatible-estimator-wrapper",
    "the task-1234567890abcdefghijklmnopqrs finished",
    "ghp_short",
    "eyJhbGciOiJIUzI1NiJ9",
    // Source code, which coding agents put in traces a lot.
    "let api_key = process.env.API_KEY;",
    "api_key = os.environ[\"OPENAI_API_KEY\"]",
    "api_key=os.getenv('X')",
    "headers = {\"Authorization\": f\"Bearer {token}\"}",
    "if password == confirm_password:",
    "password: str = Field(...)",
    "def login(username: str, password: str) -> Token:",
    "self.token = token",
    "token = get_token()",
    "const token = await getToken();",
    "const apiKey = await loadKey();",
    "secret = secrets.token_hex(32)",
    "--token-file /tmp/x",
    "secret: {{ .Values.secret }}",
    "$ pwd\n/home/user",
    "ssh://git@github.com:org/repo",
    // Placeholders and variable references.
    "password: ${DB_PASS:-default}",
    "token: null",
    "token: expired yesterday",
    "Password: Enter your password",
    "password: ********",
    "api_key=${OPENAI_API_KEY}",
    r#"{"api_key": "<YOUR_API_KEY>"}"#,
    "token=$GITHUB_TOKEN",
    "Authorization: Bearer $TOKEN",
    "Authorization: Bearer {{token}}",
    "password=[REDACTED:password]",
    // Paths, URLs without credentials, emails, times.
    "/home/agent/.config/app/settings.json",
    r"C:\Users\agent\AppData\Local\token_cache.json",
    "/var/lib/secrets/README.md",
    "https://api.openai.com/v1/chat/completions",
    "https://user@github.com/org/repo.git",
    "postgres://db.internal:5432/traces",
    "http://localhost:8080/api?page=2&limit=50",
    "https://example.com/reset-password?step=2",
    "https://example.com/stats?token_count=5&max_tokens=100",
    "agent.smith@example.com",
    "Contact: support+billing@example.org",
    "2024-06-10T12:34:56.789Z",
    "Error: connection refused at 10.0.0.5:5432",
    "PWD=/home/agent/project OLDPWD=/home/agent",
    "password_reset_at: 2024-01-01",
];

#[test]
fn clean_text_survives_unchanged() {
    for text in UNCHANGED {
        let (out, report) = redact(text);
        assert_eq!(&out, text, "changed: {report:?}");
        assert!(report.is_empty(), "`{text}` counted: {report:?}");
    }
}

/// Deterministic pseudo-random bytes (xorshift), so the image is the same on every run.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn base64_image_data_survives() {
    for seed in 1..=8 {
        let image = format!(
            "data:image/png;base64,{}",
            super::base64(&noise(60_000, seed))
        );
        let (out, report) = redact(&image);
        assert!(out == image, "image {seed} changed: {report:?}");
    }
}

#[test]
fn base64_runs_near_aws_words_survive() {
    let blob = super::base64(&noise(30_000, 99));
    for text in [
        format!("AWS upload of data:image/png;base64,{blob} done"),
        format!("{blob} uploaded to AWS"),
        format!("aws s3 cp photo.png - | base64\n{blob}\nAWS"),
    ] {
        let (out, report) = redact(&text);
        assert!(out == text, "changed: {report:?}");
    }
}

#[test]
fn a_data_uri_with_something_that_is_not_base64_is_still_scanned() {
    let text = format!(
        "data:image/png;base64,{} ghp_gHwIoALtLinxN1Ekia7ZpTjCgeOj3QYrzZq9 ",
        super::base64(&noise(3_000, 5))
    );
    let (out, report) = redact(&text);
    assert!(out.ends_with("[REDACTED:github-token] "), "{report:?}");
}

#[test]
fn clean_documents_survive_unchanged() {
    let doc = json!({
        "id": "3f2b8c1e-9d4a-4e7b-8c2f-1a6d5e9b0c37",
        "model": "claude-3-5-sonnet-20241022",
        "usage": {
            "max_tokens": 4096, "input_tokens": 812, "output_tokens": 96, "total_tokens": 908,
            "token_count": 77, "tokens_used": 1532, "prompt_tokens": 12, "completion_tokens": 30,
            "num_tokens": 4096, "maxTokens": 1, "inputTokenCount": 2, "cached_tokens": 0
        },
        "token_usage": {"input": 1, "output": 2},
        "tokenizer": "cl100k_base",
        "token_type": "Bearer",
        "token_url": "https://auth.example.test/oauth/token",
        "tokens": ["Hello", " world", "!"],
        "eos_token": "</s>",
        "pad_token": "<pad>",
        "next_page_token": "CAESBggBEAEYAQ",
        "password_policy": "min 12 characters",
        "has_password": true,
        "secret_name": "prod/db",
        "api_key_id": "key_01HZX3",
        "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFake agent@host",
        "session_id": "sess-42",
        "PWD": "/home/agent/project",
        "commit": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        "digest": "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
        "messages": [
            {"role": "user", "content": "reset your password here"},
            {"role": "assistant", "content": "the token limit was reached"}
        ],
        "events": [{"name": "new_token", "kwargs": {"token": " world"}}, {"token": "Hi"}],
        "headers": [["Content-Type", "application/json"], ["X-Request-Id", "7d0f6c1e"]],
        "params": [{"name": "limit", "value": "50"}, {"key": "page", "value": "2"}],
        "password": null,
        "token": false,
        "api_key": ""
    });
    let (out, report) = redact_json(&doc);
    assert_eq!(out, doc);
    assert!(report.is_empty(), "{report:?}");
}
