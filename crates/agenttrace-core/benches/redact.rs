//! Throughput of the secret redactor on a 5 MB agent trace, clean and full of secrets.
//!
//! The trace is generated here, deterministically: LLM steps with chat prompts and answers, code
//! in tool arguments, tool outputs (file listings, git logs with commit SHAs, sha256 digests, UUIDs,
//! URLs, JSON inside strings, stack traces), token usage objects and a few large base64 images, so
//! the literal pre-filter sees the words it must look at (`token`, `password`, `key`, `://`) at a
//! realistic rate. The secret-heavy variant plants fabricated secrets of many shapes in every step.
//! Fabricated secrets are assembled at run time, so no secret-shaped literal sits in this file.
//!
//! Run: `cargo bench -p agenttrace-core --bench redact`.

use std::hint::black_box;

use agenttrace_core::redact::{RedactionReport, Redactor};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

const TARGET_BYTES: usize = 5 * 1024 * 1024;

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chars(&mut self, alphabet: &str, len: usize) -> String {
        let bytes = alphabet.as_bytes();
        (0..len)
            .map(|_| char::from(bytes[self.below(bytes.len())]))
            .collect()
    }
    fn hex(&mut self, len: usize) -> String {
        self.chars("0123456789abcdef", len)
    }
    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-a{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Everyday words of prompts and answers.
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "it",
    "you",
    "that",
    "for",
    "on",
    "with",
    "as",
    "this",
    "be",
    "at",
    "by",
    "from",
    "or",
    "have",
    "an",
    "not",
    "are",
    "we",
    "can",
    "will",
    "if",
    "all",
    "would",
    "there",
    "their",
    "what",
    "so",
    "up",
    "out",
    "about",
    "which",
    "when",
    "make",
    "like",
    "time",
    "just",
    "know",
    "take",
    "into",
    "year",
    "your",
    "good",
    "some",
    "could",
    "them",
    "see",
    "other",
    "than",
    "then",
    "now",
    "look",
    "only",
    "come",
    "its",
    "over",
    "think",
    "also",
    "back",
    "after",
    "use",
    "two",
    "how",
    "our",
    "work",
    "first",
    "well",
    "way",
    "even",
    "new",
    "want",
    "because",
    "any",
    "these",
    "give",
    "day",
    "most",
    "us",
    "agent",
    "tool",
    "call",
    "search",
    "result",
    "results",
    "user",
    "asked",
    "summary",
    "document",
    "retrieval",
    "context",
    "window",
    "model",
    "answer",
    "history",
    "retry",
    "chunks",
    "cache",
    "latency",
    "embedding",
    "session",
    "plan",
    "step",
    "observation",
    "response",
    "citation",
    "request",
    "failed",
    "succeeded",
    "file",
    "function",
    "error",
    "query",
    "index",
    "vector",
    "config",
    "deploy",
    "build",
    "test",
    "server",
    "client",
    "data",
    "schema",
    "field",
    "value",
    "output",
    "input",
    "prompt",
    "tokens",
    "API",
];

/// Words that make the pre-filter look closer, at roughly their rate in real agent traces
/// (`token` is common around LLMs; `password`, `secret`, `bearer` are rare), per 100,000 words.
const RARE_WORDS: &[(&str, usize)] = &[
    ("token", 300),
    ("key", 100),
    ("basic", 50),
    ("password", 20),
    ("secret", 20),
    ("credentials", 20),
    ("authorization", 10),
    ("cookie", 10),
    ("bearer", 5),
    ("AWS", 10),
];

/// Sentences that trip the pre-filter and must survive, one every few dozen messages.
const TRICKY: &[&str] = &[
    "The token limit was reached, so the history was truncated.",
    "Reset your password here: https://example.test/reset-password?step=2",
    "Set max_tokens: 4096 and temperature: 0.2 for this run.",
    "The API key is read from the environment, never hard-coded.",
    "Basic usage: pass the file path and the tool returns a summary.",
];

fn prose(rng: &mut Rng, words: usize) -> String {
    let mut out = String::with_capacity(words * 7);
    for i in 0..words {
        if i > 0 {
            out.push(if rng.below(14) == 0 { '\n' } else { ' ' });
        }
        let roll = rng.below(100_000);
        let mut threshold = 0;
        let rare = RARE_WORDS.iter().find(|(_, per_100k)| {
            threshold += per_100k;
            roll < threshold
        });
        out.push_str(rare.map_or_else(|| rng.pick(WORDS), |(word, _)| *word));
        if rng.below(12) == 0 {
            out.push('.');
        }
    }
    if rng.below(40) == 0 {
        out.push(' ');
        out.push_str(rng.pick(TRICKY));
    }
    out
}

fn code(rng: &mut Rng) -> String {
    let name = rng.pick(&["orders", "weather", "users", "docs"]);
    let page = rng.below(50);
    match rng.below(4) {
        0 => format!(
            "import os\nimport json\n\ndef fetch_{name}(client, max_tokens={max}):\n    \"\"\"Fetch and summarise.\"\"\"\n    \
             api_key = os.environ[\"SERVICE_API_KEY\"]\n    resp = client.get(\"https://api.example.test/v1/{name}?page={page}\", timeout=30)\n    \
             data = json.loads(resp.text)\n    return {{\"items\": data[\"items\"][:{page}], \"token_count\": len(data)}}\n",
            max = 256 * (1 + rng.below(16)),
        ),
        1 => format!(
            "fn parse_{name}(input: &str) -> Result<Vec<Item>, Error> {{\n    let mut items = Vec::new();\n    \
             for line in input.lines().skip({page}) {{\n        items.push(Item::from_str(line)?);\n    }}\n    Ok(items)\n}}\n"
        ),
        2 => format!(
            "SELECT id, name, created_at FROM {name} WHERE page = {page} ORDER BY created_at DESC LIMIT 50;"
        ),
        _ => format!(
            "git log --oneline -n {page} -- src/{name}/ && cargo test -p {name} -- --nocapture"
        ),
    }
}

fn tool_output(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => (0..30)
            .map(|_| {
                format!(
                    "commit {}\nAuthor: Dev <dev@example.test>\n\n    fix {}\n",
                    rng.hex(40),
                    prose(rng, 6)
                )
            })
            .collect(),
        1 => (0..40)
            .map(|i| {
                format!(
                    "-rw-r--r-- 1 agent staff {} /home/agent/project/src/module_{i}/file_{}.rs\n",
                    rng.below(90_000),
                    rng.hex(6)
                )
            })
            .collect(),
        2 => {
            let items: Vec<Value> = (0..12)
                .map(|_| {
                    json!({
                        "id": rng.uuid(),
                        "sha256": rng.hex(64),
                        "url": format!("https://cdn.example.test/assets/{}.json", rng.hex(12)),
                        "title": prose(rng, 8),
                        "tokens_used": rng.below(5000),
                    })
                })
                .collect();
            json!({"items": items, "next_page_token": rng.chars(ALNUM, 16), "max_tokens": 4096})
                .to_string()
        }
        3 => format!(
            "Traceback (most recent call last):\n  File \"/srv/app/agent/tools.py\", line {}, in run\n    result = call(args)\n  \
             File \"/srv/app/agent/http.py\", line 88, in call\n    raise HTTPError(f\"{{status}}: {{body}}\")\nHTTPError: 429: {}\n",
            rng.below(900),
            prose(rng, 20)
        ),
        _ => prose(rng, 120),
    }
}

fn step(rng: &mut Rng, index: usize) -> Value {
    let id = rng.uuid();
    let mut messages = vec![json!({"role": "system", "content": prose(rng, 60)})];
    for _ in 0..rng.below(4) + 1 {
        let (asked, answered) = (40 + rng.below(80), 30 + rng.below(60));
        messages.push(json!({"role": "user", "content": prose(rng, asked)}));
        messages.push(json!({"role": "assistant", "content": prose(rng, answered)}));
    }
    json!({
        "id": id,
        "parent_id": if index == 0 { Value::Null } else { Value::String(rng.uuid()) },
        "kind": rng.pick(&["llm", "tool", "retrieval", "agent"]),
        "name": format!("{}_{}", rng.pick(&["search", "fetch", "plan", "summarise"]), index),
        "start": "2024-06-10T12:34:56.789Z",
        "model": rng.pick(&["gpt-4o-mini", "claude-3-5-sonnet-20241022", "gemini-1.5-pro-002"]),
        "input": {"messages": messages, "tool_args": {"code": code(rng), "path": "/home/agent/project/README.md"}},
        "output": {"content": tool_output(rng), "finish_reason": "stop"},
        "usage": {"input_tokens": rng.below(9000), "output_tokens": rng.below(2000), "total_tokens": rng.below(11000)},
        "metadata": {"session_id": rng.uuid(), "git_sha": rng.hex(40), "region": "eu-west-1", "retries": rng.below(3)},
    })
}

/// A deterministic agent trace of about `TARGET_BYTES`, with a few large base64 images.
fn clean_trace(rng: &mut Rng) -> Value {
    let mut steps = Vec::new();
    let mut size = 0;
    for image in 0..4 {
        let data = rng.chars(B64, 150_000);
        size += data.len();
        steps.push(
            json!({"id": rng.uuid(), "kind": "tool", "name": format!("screenshot_{image}"),
            "output": {"image_url": format!("data:image/png;base64,{data}")}}),
        );
    }
    let mut index = 0;
    while size < TARGET_BYTES {
        let step = step(rng, index);
        size += step.to_string().len();
        steps.push(step);
        index += 1;
    }
    json!({"id": rng.uuid(), "name": "research agent run", "tags": ["bench"], "steps": steps})
}

/// Fabricated secrets of many shapes, built at run time.
fn fabricated_secret(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => format!("{}-proj-{}", "sk", rng.chars(ALNUM, 120)),
        1 => format!("{}-ant-api03-{}", "sk", rng.chars(ALNUM, 90)),
        2 => format!(
            "{}{}",
            ["AK", "IA"].concat(),
            rng.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        ),
        3 => format!("{}_{}", "ghp", rng.chars(ALNUM, 36)),
        4 => format!("Authorization: Bearer {}", rng.chars(ALNUM, 40)),
        5 => format!(
            "postgres://app:{}@db.internal:5432/traces",
            rng.chars(ALNUM, 14)
        ),
        6 => format!(
            "eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}",
            rng.chars(ALNUM, 60),
            rng.chars(ALNUM, 43)
        ),
        7 => format!(
            "{{\"api_key\": \"{}\", \"max_tokens\": 512}}",
            rng.chars(ALNUM, 32)
        ),
        8 => format!("password={}&user=bob", rng.chars(ALNUM, 12)),
        9 => format!("{}{}", "AIza", rng.chars(ALNUM, 35)),
        10 => format!(
            "-----BEGIN {} KEY-----\n{}\n-----END {} KEY-----",
            "RSA PRIVATE",
            rng.chars(B64, 256),
            "RSA PRIVATE"
        ),
        _ => format!(
            "{}-{}-{}-{}",
            "xoxb",
            rng.below(1 << 30),
            rng.below(1 << 30),
            rng.chars(ALNUM, 24)
        ),
    }
}

/// The clean trace with secrets planted in every step: in prompts, tool code, outputs, and under
/// secret keys in headers.
fn secret_trace(rng: &mut Rng) -> Value {
    let mut trace = clean_trace(rng);
    if let Some(Value::Array(steps)) = trace.get_mut("steps") {
        for step in steps.iter_mut() {
            let secrets: Vec<String> = (0..6).map(|_| fabricated_secret(rng)).collect();
            if let Some(input) = step.get_mut("input") {
                input["headers"] = json!({"Authorization": format!("Bearer {}", rng.chars(ALNUM, 40)), "x-api-key": rng.chars(ALNUM, 32)});
                if let Some(Value::Array(messages)) = input.get_mut("messages")
                    && let Some(Value::Object(last)) = messages.last_mut()
                {
                    last.insert(
                        "content".into(),
                        Value::String(format!("use {} and {} please", secrets[0], secrets[1])),
                    );
                }
            }
            if let Some(output) = step.get_mut("output") {
                let text = output
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let text = format!("{}\n{}\n{}\n{}", secrets[2], text, secrets[3], secrets[4]);
                output["content"] = Value::String(text);
                output["error"] = json!({"message": format!("connect failed: {}", secrets[5])});
            }
        }
    }
    trace
}

fn bench_redact(c: &mut Criterion) {
    let redactor = Redactor::with_defaults();
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let clean = clean_trace(&mut rng);
    let secrets = secret_trace(&mut rng);
    let clean_text = clean.to_string();

    // Sanity checks, printed once, so a figure is never taken on a trace that is not what it says.
    let mut check = clean.clone();
    let mut report = RedactionReport::default();
    redactor.redact_value(&mut check, "", &mut report);
    println!(
        "clean trace: {} bytes, {} redactions",
        clean_text.len(),
        report.total
    );
    let mut check = secrets.clone();
    let mut report = RedactionReport::default();
    redactor.redact_value(&mut check, "", &mut report);
    println!(
        "secret trace: {} bytes, {} redactions {:?}",
        secrets.to_string().len(),
        report.total,
        report.by_rule
    );

    let mut group = c.benchmark_group("redact");
    group.sample_size(20);

    group.throughput(Throughput::Bytes(clean_text.len() as u64));
    group.bench_function("value/clean_5mb", |b| {
        b.iter_batched(
            || clean.clone(),
            |mut doc| {
                let mut report = RedactionReport::default();
                redactor.redact_value(&mut doc, "", &mut report);
                black_box((doc, report))
            },
            BatchSize::LargeInput,
        )
    });

    group.bench_function("str/clean_5mb_as_one_string", |b| {
        b.iter_batched(
            || clean_text.clone(),
            |mut text| {
                let mut report = RedactionReport::default();
                redactor.redact_str(&mut text, "", &mut report);
                black_box((text, report))
            },
            BatchSize::LargeInput,
        )
    });

    group.throughput(Throughput::Bytes(secrets.to_string().len() as u64));
    group.bench_function("value/secrets_5mb", |b| {
        b.iter_batched(
            || secrets.clone(),
            |mut doc| {
                let mut report = RedactionReport::default();
                redactor.redact_value(&mut doc, "", &mut report);
                black_box((doc, report))
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    c.bench_function("redactor/build_with_defaults", |b| {
        b.iter(|| black_box(Redactor::with_defaults()))
    });
}

criterion_group!(benches, bench_redact);
criterion_main!(benches);
