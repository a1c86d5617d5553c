//! Traces whose spans arrive over several requests, in any order and sometimes twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agenttrace_core::{Status, Step, StepError, StepKind};
use agenttrace_store::{MergeSteps, SqliteStore, TraceFilter, TraceStore};
use serde_json::{Map, json};

fn step(id: &str, parent: Option<&str>, kind: StepKind, name: &str, start_ms: i64) -> Step {
    let mut step = Step::new(id, 0, kind);
    step.parent_id = parent.map(str::to_owned);
    step.name = name.to_owned();
    step.start_us = Some(1_700_000_000_000_000 + start_ms * 1000);
    step.end_us = Some(1_700_000_000_000_000 + (start_ms + 100) * 1000);
    step.duration_us = Some(100_000);
    step
}

fn merge(steps: Vec<Step>, max_steps: u32) -> MergeSteps<'static> {
    let mut metadata = Map::new();
    metadata.insert("service.name".to_owned(), json!("weather-agent"));
    MergeSteps {
        project_id: "default",
        external_id: "0af7651916cd43dd8448eb211c80319c",
        source_format: "otlp",
        steps,
        session_id: Some("sess-1".to_owned()),
        metadata,
        redactions: 0,
        size_bytes: 100,
        created_by: None,
        max_steps,
    }
}

#[tokio::test]
async fn spans_from_several_requests_merge_into_one_trace_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    // Children first, as exporters send them.
    let mut tool = step("c", Some("a"), StepKind::Tool, "get_weather", 200);
    tool.error = Some(StepError {
        message: "404".to_owned(),
        error_type: None,
        stack: None,
    });
    tool.status = Status::Error;
    let first = store
        .merge_steps(merge(
            vec![
                step("b", Some("a"), StepKind::Llm, "chat", 10),
                tool.clone(),
            ],
            1000,
        ))
        .await
        .unwrap();
    assert_eq!(first.record.stats.step_count, 2);
    assert_eq!(first.refused, 0);
    // The root arrives, and the first request is sent again (a retry).
    let second = store
        .merge_steps(merge(
            vec![step("a", None, StepKind::Agent, "planner", 0)],
            1000,
        ))
        .await
        .unwrap();
    let third = store
        .merge_steps(merge(
            vec![step("b", Some("a"), StepKind::Llm, "chat", 10), tool],
            1000,
        ))
        .await
        .unwrap();
    assert_eq!(second.record.id, first.record.id, "one trace");
    assert_eq!(third.record.id, first.record.id);
    let record = store.get_trace(&first.record.id).await.unwrap().unwrap();
    assert_eq!(
        record.stats.step_count, 3,
        "a retried span is not stored twice"
    );
    assert_eq!(
        record.name, "planner",
        "named after its root once the root arrives"
    );
    assert_eq!(record.status, Status::Error);
    assert_eq!(record.stats.error_count, 1);
    assert_eq!(record.session_id.as_deref(), Some("sess-1"));
    assert_eq!(record.metadata["service.name"], "weather-agent");
    assert_eq!(record.source_format, "otlp");
    let steps = store.get_steps(&record.id).await.unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["b", "c", "a"],
        "kept in arrival order, linked by parent"
    );
    assert!(
        steps
            .iter()
            .filter(|s| s.id != "a")
            .all(|s| s.parent_id.as_deref() == Some("a"))
    );

    // The step limit holds across requests.
    let more: Vec<Step> = (0..5)
        .map(|i| {
            step(
                &format!("x{i}"),
                Some("a"),
                StepKind::Custom,
                "extra",
                300 + i,
            )
        })
        .collect();
    let capped = store.merge_steps(merge(more, 5)).await.unwrap();
    assert_eq!(capped.refused, 3);
    assert_eq!(capped.record.stats.step_count, 5);

    // The merged trace is found by search once its words are written.
    let page = store
        .list_traces(&TraceFilter {
            query: Some("get_weather".to_owned()),
            limit: 10,
            ..TraceFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    store.close().await;
}
