//! The dashboard's numbers on a real SQLite database: buckets by the time a trace was received,
//! percentiles by nearest rank, tools and models, and nothing from other projects or from
//! before the period.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agenttrace_core::ingest::IngestOptions;
use agenttrace_core::redact::Redactor;
use agenttrace_core::{Limits, Trace, prepare};
use agenttrace_store::sqlite::{DB_FILE, SqliteStore};
use agenttrace_store::{Dashboard, NewTrace, TraceStore};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

const HOUR: i64 = 3_600_000_000;
/// The start of the period the tests look at.
const SINCE: i64 = 1_700_000_000_000_000;

fn trace(doc: &Value) -> Arc<Trace> {
    let redactor = Redactor::with_defaults();
    let limits = Limits::default();
    let options = IngestOptions {
        limits: &limits,
        redactor: &redactor,
        name: None,
        fallback_name: None,
    };
    let bytes = serde_json::to_vec(doc).unwrap();
    Arc::new(prepare(&bytes, options).expect("valid trace").trace)
}

/// Stores `doc` in `project` and returns the trace's id.
async fn insert(store: &SqliteStore, project: &str, doc: &Value) -> String {
    store
        .insert_trace(NewTrace {
            trace: &trace(doc),
            project_id: project,
            created_by: None,
        })
        .await
        .expect("insert")
        .id
}

/// Sets when the traces were received (the store stamps them with the time of the insert).
async fn set_received(dir: &Path, times: &[(&str, i64)]) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join(DB_FILE).display()))
        .await
        .unwrap();
    for (id, at) in times {
        sqlx::query("UPDATE traces SET created_at_us = ? WHERE id = ?")
            .bind(*at)
            .bind(*id)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// A trace whose root LLM step takes `ms` milliseconds and calls the tools given as
/// `(name, ms, failed)`.
fn run(
    name: &str,
    ms: u64,
    model: &str,
    tokens: (u64, u64),
    cost: f64,
    tools: &[(&str, u64, bool)],
) -> Value {
    let mut steps = vec![json!({
        "id": "llm", "type": "llm", "name": "plan", "model": model, "duration_ms": ms,
        "usage": {"input_tokens": tokens.0, "output_tokens": tokens.1}, "cost": cost
    })];
    for (i, (tool, tool_ms, failed)) in tools.iter().enumerate() {
        let mut step = json!({
            "id": format!("tool-{i}"), "type": "tool", "name": tool, "parent_id": "llm",
            "duration_ms": tool_ms
        });
        if *failed {
            step["error"] = json!("timed out");
        }
        steps.push(step);
    }
    json!({"name": name, "steps": steps})
}

/// Builds the data folder every test reads: see the comments for what each trace is.
async fn fixture(dir: &Path) -> Dashboard {
    let store = SqliteStore::open(dir).await.unwrap();
    // Bucket 0: three traces, one failing, one without any timing.
    let a = insert(
        &store,
        "p1",
        &run(
            "a",
            1000,
            "gpt-4o",
            (10, 5),
            0.25,
            &[("search", 200, false)],
        ),
    )
    .await;
    let b = insert(
        &store,
        "p1",
        &run(
            "b",
            3000,
            "gpt-4o",
            (20, 10),
            0.5,
            &[("search", 400, true), ("calc", 10, false)],
        ),
    )
    .await;
    let c = insert(
        &store,
        "p2",
        &json!({"name": "c", "steps": [
            {"id": "l", "type": "llm", "model": "claude", "usage": {"total_tokens": 7}}
        ]}),
    )
    .await;
    // Bucket 2 (bucket 1 stays empty).
    let d = insert(
        &store,
        "p1",
        &json!({"name": "d", "steps": [
            {"id": "t", "type": "tool", "name": "search", "duration_ms": 2000}
        ]}),
    )
    .await;
    // Before the period, and in a project not asked for: both must count for nothing.
    let old = insert(
        &store,
        "p1",
        &run(
            "old",
            9000,
            "gpt-4o",
            (100, 100),
            9.0,
            &[("search", 9000, true)],
        ),
    )
    .await;
    let other = insert(
        &store,
        "elsewhere",
        &run(
            "other",
            9000,
            "gpt-4o",
            (100, 100),
            9.0,
            &[("search", 9000, true)],
        ),
    )
    .await;
    store.close().await;
    set_received(
        dir,
        &[
            (&a, SINCE),
            (&b, SINCE + 10 * 60 * 1_000_000),
            (&c, SINCE + HOUR - 1),
            (&d, SINCE + 2 * HOUR + 5),
            (&old, SINCE - 1),
            (&other, SINCE + 30),
        ],
    )
    .await;
    let store = SqliteStore::open(dir).await.unwrap();
    let dashboard = store
        .dashboard(&["p1".to_owned(), "p2".to_owned()], SINCE, HOUR)
        .await
        .unwrap();
    store.close().await;
    dashboard
}

#[tokio::test]
async fn traces_per_bucket_with_errors_percentiles_tokens_and_cost() {
    let dir = tempfile::tempdir().unwrap();
    let dashboard = fixture(dir.path()).await;
    assert_eq!(dashboard.since_us, SINCE);
    assert_eq!(dashboard.bucket_us, HOUR);
    assert_eq!(dashboard.buckets.len(), 2, "{:?}", dashboard.buckets);

    let first = &dashboard.buckets[0];
    assert_eq!(first.start_us, SINCE);
    assert_eq!(first.traces, 3);
    assert_eq!(first.error_traces, 1);
    // Durations 1 s and 3 s (the third trace has none): nearest rank gives 1 s and 3 s.
    assert_eq!(first.p50_duration_us, Some(1_000_000));
    assert_eq!(first.p95_duration_us, Some(3_000_000));
    assert_eq!(first.total_tokens, 15 + 30 + 7);
    assert!((first.cost - 0.75).abs() < 1e-9, "{}", first.cost);

    let third = &dashboard.buckets[1];
    assert_eq!(third.start_us, SINCE + 2 * HOUR);
    assert_eq!(third.traces, 1);
    assert_eq!(third.error_traces, 0);
    assert_eq!(third.p50_duration_us, Some(2_000_000));
    assert_eq!(third.p95_duration_us, Some(2_000_000));
    assert_eq!(third.total_tokens, 0);
    assert_eq!(third.cost, 0.0);

    let totals = &dashboard.totals;
    assert_eq!(totals.start_us, SINCE);
    assert_eq!(totals.traces, 4);
    assert_eq!(totals.error_traces, 1);
    assert_eq!(totals.p50_duration_us, Some(2_000_000));
    assert_eq!(totals.p95_duration_us, Some(3_000_000));
    assert_eq!(totals.total_tokens, 52);
    assert!((totals.cost - 0.75).abs() < 1e-9);
}

#[tokio::test]
async fn tools_by_calls_with_latency_and_error_rate() {
    let dir = tempfile::tempdir().unwrap();
    let dashboard = fixture(dir.path()).await;
    let names: Vec<&str> = dashboard.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["search", "calc"]);

    let search = &dashboard.tools[0];
    assert_eq!(search.calls, 3);
    assert_eq!(search.errors, 1);
    assert!((search.error_rate() - 1.0 / 3.0).abs() < 1e-9);
    // 200 ms, 400 ms and 2 s.
    let mean = search.mean_duration_us.unwrap();
    assert!((mean - 2_600_000.0 / 3.0).abs() < 1.0, "{mean}");
    assert_eq!(search.p95_duration_us, Some(2_000_000));

    let calc = &dashboard.tools[1];
    assert_eq!(calc.calls, 1);
    assert_eq!(calc.errors, 0);
    assert_eq!(calc.mean_duration_us, Some(10_000.0));
    assert_eq!(calc.p95_duration_us, Some(10_000));
}

#[tokio::test]
async fn models_by_calls_with_tokens_and_cost() {
    let dir = tempfile::tempdir().unwrap();
    let dashboard = fixture(dir.path()).await;
    let names: Vec<&str> = dashboard.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["gpt-4o", "claude"]);

    let gpt = &dashboard.models[0];
    assert_eq!(gpt.calls, 2);
    assert_eq!(gpt.input_tokens, 30);
    assert_eq!(gpt.output_tokens, 15);
    assert_eq!(gpt.total_tokens, 45);
    assert!((gpt.cost - 0.75).abs() < 1e-9);

    let claude = &dashboard.models[1];
    assert_eq!(claude.calls, 1);
    assert_eq!(claude.input_tokens, 0);
    assert_eq!(claude.total_tokens, 7);
    assert_eq!(claude.cost, 0.0);
}

#[tokio::test]
async fn one_project_only_and_no_project_no_numbers() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path()).await;
    let store = SqliteStore::open(dir.path()).await.unwrap();

    let p2 = store
        .dashboard(&["p2".to_owned()], SINCE, HOUR)
        .await
        .unwrap();
    assert_eq!(p2.totals.traces, 1);
    assert_eq!(p2.buckets.len(), 1);
    assert_eq!(p2.buckets[0].p50_duration_us, None);
    assert!(p2.tools.is_empty());
    assert_eq!(p2.models.len(), 1);

    let none = store.dashboard(&[], SINCE, HOUR).await.unwrap();
    assert!(none.buckets.is_empty());
    assert_eq!(none.totals.traces, 0);
    assert!(none.tools.is_empty() && none.models.is_empty());

    // Daily buckets hold every trace of the period in one.
    let daily = store
        .dashboard(&["p1".to_owned(), "p2".to_owned()], SINCE, 24 * HOUR)
        .await
        .unwrap();
    assert_eq!(daily.buckets.len(), 1);
    assert_eq!(daily.buckets[0].traces, 4);
    store.close().await;
}

#[tokio::test]
async fn the_top_twenty_tools_by_calls() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    // Tool i is called i + 1 times.
    let steps: Vec<Value> = (0..25)
        .flat_map(|i| {
            (0..=i).map(move |j| {
                json!({"id": format!("t{i}-{j}"), "type": "tool", "name": format!("tool-{i:02}"),
                       "duration_ms": 1})
            })
        })
        .collect();
    insert(&store, "p1", &json!({"name": "many", "steps": steps})).await;
    let dashboard = store.dashboard(&["p1".to_owned()], 0, HOUR).await.unwrap();
    assert_eq!(dashboard.tools.len(), 20);
    assert_eq!(dashboard.tools[0].name, "tool-24");
    assert_eq!(dashboard.tools[0].calls, 25);
    assert_eq!(dashboard.tools[19].name, "tool-05");
    store.close().await;
}
