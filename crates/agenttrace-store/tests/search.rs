//! Search words are written after a trace commits; these tests hold the promises that makes:
//! a search never misses a trace already stored, and a stop before the words are written is
//! repaired at the next start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agenttrace_core::ingest::IngestOptions;
use agenttrace_core::redact::Redactor;
use agenttrace_core::{Limits, Trace, prepare};
use agenttrace_store::sqlite::{DB_FILE, SqliteStore};
use agenttrace_store::{NewTrace, TraceFilter, TraceStore};
use std::sync::Arc;

fn trace(name: &str, word: &str) -> Arc<Trace> {
    let doc = format!(
        r#"{{"name": "{name}", "steps": [
            {{"id": "a", "type": "llm", "input": "plan the trip"}},
            {{"id": "b", "type": "tool", "parent_id": "a", "output": {{"found": "{word} lighthouse"}}}}
        ]}}"#
    );
    let redactor = Redactor::with_defaults();
    let limits = Limits::default();
    let options = IngestOptions {
        limits: &limits,
        redactor: &redactor,
        name: None,
        fallback_name: None,
    };
    Arc::new(prepare(doc.as_bytes(), options).expect("valid trace").trace)
}

fn search(query: &str) -> TraceFilter {
    TraceFilter {
        query: Some(query.to_owned()),
        limit: 50,
        ..TraceFilter::default()
    }
}

async fn names(store: &SqliteStore, query: &str) -> Vec<String> {
    let page = store.list_traces(&search(query)).await.expect("search");
    let mut names: Vec<String> = page.items.into_iter().map(|t| t.name).collect();
    names.sort();
    names
}

async fn insert(store: &SqliteStore, trace: &Arc<Trace>) -> String {
    store
        .insert_trace(NewTrace {
            trace,
            project_id: "default",
            created_by: None,
        })
        .await
        .expect("insert")
        .id
}

#[tokio::test]
async fn a_search_right_after_uploads_finds_every_one_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    // More traces than the indexing queue holds, so some uploads wait for room.
    for i in 0..12 {
        insert(&store, &trace(&format!("run-{i:02}"), "amber")).await;
    }
    insert(&store, &trace("other", "violet")).await;
    let found = names(&store, "amber lighthouse").await;
    assert_eq!(found.len(), 12, "{found:?}");
    assert_eq!(names(&store, "violet").await, vec!["other".to_owned()]);
    assert_eq!(store.search_backlog(), 0);
    store.close().await;
}

#[tokio::test]
async fn words_left_unwritten_by_a_stopped_run_are_written_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    insert(&store, &trace("interrupted", "saffron")).await;
    store.close().await;

    // What a crash between the commit and the words leaves behind.
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join(DB_FILE).display()))
            .await
            .unwrap();
    sqlx::query("DELETE FROM trace_search")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE traces SET search_indexed = 0")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(
        names(&store, "saffron").await,
        vec!["interrupted".to_owned()]
    );
    store.close().await;
}

#[tokio::test]
async fn a_trace_deleted_before_its_words_are_written_leaves_nothing_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let id = insert(&store, &trace("short-lived", "cobalt")).await;
    assert!(store.delete_trace(&id).await.unwrap());
    assert!(names(&store, "cobalt").await.is_empty());
    store.close().await;

    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join(DB_FILE).display()))
            .await
            .unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM trace_search")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 0, "no words may outlive their trace");
    pool.close().await;
}

#[tokio::test]
async fn a_listing_sorted_by_a_column_pages_by_offset() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    for name in ["beta", "Alpha", "gamma"] {
        insert(&store, &trace(name, "word")).await;
    }
    let sorted = |descending: bool, offset: u32| TraceFilter {
        limit: 2,
        sort: Some((agenttrace_store::TraceSort::Name, descending)),
        offset,
        ..TraceFilter::default()
    };
    let page = store.list_traces(&sorted(false, 0)).await.unwrap();
    let names: Vec<String> = page.items.iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, ["Alpha", "beta"], "case-insensitive, ascending");
    assert!(page.more && page.next_cursor.is_none());
    let page = store.list_traces(&sorted(false, 2)).await.unwrap();
    let names: Vec<String> = page.items.iter().map(|t| t.name.clone()).collect();
    assert_eq!(names, ["gamma"]);
    assert!(!page.more);
    let page = store.list_traces(&sorted(true, 0)).await.unwrap();
    assert_eq!(page.items[0].name, "gamma");
    store.close().await;
}
