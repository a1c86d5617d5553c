//! The trace list: order, cursor pagination, filters and search.

use crate::helpers::spawn_app;
use serde_json::{Value, json};

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn newest_first_with_cursor_pagination() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.upload_ok(&json!({"name": format!("run {i}"), "steps": [{"id": "s"}]}))
            .await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/traces?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/traces?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).rev().map(|i| format!("run {i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn items_carry_the_stats() {
    let app = spawn_app().await;
    app.upload_ok(&json!({"name": "with stats", "steps": [
        {"id": "a", "type": "llm", "usage": {"input_tokens": 10, "output_tokens": 5}, "cost": 0.25,
         "start_time": "2025-01-01T00:00:00Z", "end_time": "2025-01-01T00:00:02Z"},
        {"id": "b", "type": "tool", "error": "boom"}
    ]}))
    .await;
    let (_, page) = app.get_json("/api/v1/traces").await;
    let item = &page["items"][0];
    assert_eq!(item["status"], "error");
    assert_eq!(item["step_count"], 2);
    assert_eq!(item["error_count"], 1);
    assert_eq!(item["duration_ms"], 2000.0);
    assert_eq!(
        item["usage"],
        json!({"input_tokens": 10, "output_tokens": 5, "total_tokens": 15})
    );
    assert_eq!(item["cost"], 0.25);
    assert_eq!(item["start"], "2025-01-01T00:00:00.000000Z");
    assert!(item["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(item["url"].as_str().unwrap().starts_with("/traces/"));
}

#[tokio::test]
async fn filters_by_status_text_and_time() {
    let app = spawn_app().await;
    app.upload_ok(
        &json!({"name": "alpha weather", "steps": [{"id": "a", "output": "sunny in Lisbon"}]}),
    )
    .await;
    app.upload_ok(
        &json!({"name": "beta", "steps": [{"id": "a", "error": "Connection refused by upstream"}]}),
    )
    .await;
    app.upload_ok(&json!({"name": "gamma", "steps": [{"id": "a", "input": {"nested": ["deep mention of lisbon"]}}]})).await;

    let (_, page) = app.get_json("/api/v1/traces?status=error").await;
    assert_eq!(names(&page), ["beta"]);
    let (_, page) = app.get_json("/api/v1/traces?status=ok").await;
    assert_eq!(names(&page), ["gamma", "alpha weather"]);

    let (_, page) = app.get_json("/api/v1/traces?q=lisbon").await;
    assert_eq!(
        names(&page),
        ["gamma", "alpha weather"],
        "search reaches nested step text"
    );
    let (_, page) = app.get_json("/api/v1/traces?q=weath").await;
    assert_eq!(names(&page), ["alpha weather"], "words match by prefix");
    let (_, page) = app.get_json("/api/v1/traces?q=connection%20upstream").await;
    assert_eq!(names(&page), ["beta"], "all words must match");
    let (_, page) = app.get_json("/api/v1/traces?q=lisbon%20refused").await;
    assert_eq!(names(&page), Vec::<String>::new());
    // FTS syntax in a query is taken literally, never as an operator or an error.
    for hostile in [
        "%22",
        "NEAR(a%20b)",
        "*",
        "a%20OR%20b",
        "%27%3B%20DROP%20TABLE%20traces%3B--",
    ] {
        let (status, _) = app.get_json(&format!("/api/v1/traces?q={hostile}")).await;
        assert_eq!(status, 200, "q={hostile}");
    }
    assert_eq!(app.trace_count().await, 3);

    let (_, page) = app
        .get_json("/api/v1/traces?since=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(names(&page).len(), 3);
    let (_, page) = app
        .get_json("/api/v1/traces?until=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(names(&page).len(), 0);
    let (_, page) = app.get_json("/api/v1/traces?since=4102444800").await;
    assert_eq!(
        names(&page).len(),
        0,
        "Unix seconds are accepted (2100-01-01)"
    );
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
        ("status=broken", "status"),
        ("since=last%20week", "since"),
        ("until=tomorrow", "until"),
    ] {
        let (status, problem) = app.get_json(&format!("/api/v1/traces?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(problem["parameter"], parameter, "{query}: {problem}");
    }
}
