//! Upload → read back → export → re-import, the native format's aliases, trees, stats,
//! persistence and concurrency.

use crate::helpers::{example, spawn_app, spawn_app_in};
use agenttrace_core::Limits;
use serde_json::{Value, json};

/// The parts of a trace that must survive an export and a re-import unchanged.
fn comparable(trace: &Value) -> Value {
    let mut trace = trace.clone();
    let object = trace.as_object_mut().unwrap();
    for volatile in ["id", "url", "created_at", "size_bytes"] {
        object.remove(volatile);
    }
    trace
}

#[tokio::test]
async fn upload_read_export_reimport_round_trip() {
    let app = spawn_app().await;
    let response = app.upload_json(example("weather-agent.json")).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/traces/{id}"));
    assert_eq!(created["name"], "weather-agent: plan a picnic in Paris");
    assert_eq!(created["steps"], 6);
    assert_eq!(created["errors"], 0);
    assert_eq!(created["redactions"], 0);
    assert_eq!(created["url"], format!("/traces/{id}"));

    let trace = app.trace(&id).await;
    assert_eq!(trace["status"], "ok");
    assert_eq!(trace["step_count"], 6);
    assert_eq!(trace["session_id"], "session-42");
    assert_eq!(trace["tags"], json!(["example", "weather"]));
    let steps = trace["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "run",
            "plan",
            "forecast",
            "forecast-http",
            "parks",
            "answer"
        ]
    );
    let plan = &steps[1];
    for field in [
        "id",
        "parent_id",
        "kind",
        "name",
        "start",
        "end",
        "duration_ms",
        "status",
        "input",
        "output",
        "error",
        "model",
        "usage",
        "cost",
        "metadata",
    ] {
        assert!(plan.get(field).is_some(), "step lacks {field}: {plan}");
    }
    assert_eq!(plan["kind"], "llm");
    assert_eq!(plan["model"], "gpt-4o-mini");
    assert_eq!(
        plan["usage"],
        json!({"input_tokens": 412, "output_tokens": 61, "total_tokens": 473})
    );
    assert_eq!(plan["start"], "2025-06-01T09:00:00.050000Z");
    assert_eq!(plan["end"], "2025-06-01T09:00:00.870000Z");
    assert_eq!(plan["duration_ms"], 820.0);
    assert_eq!(
        plan["input"][1]["content"],
        "Is Saturday a good day for a picnic in Paris?"
    );

    let (status, step) = app
        .get_json(&format!("/api/v1/traces/{id}/steps/forecast"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(step["output"]["high_c"], 24);
    assert_eq!(step["parent_id"], "run");

    let export = app
        .client
        .get(app.url(&format!("/api/v1/traces/{id}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let exported = export.bytes().await.unwrap();
    let again = app.upload_json(exported.to_vec()).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    let reimported = app.trace(again["id"].as_str().unwrap()).await;
    assert_ne!(again["id"], created["id"]);
    assert_eq!(comparable(&reimported), comparable(&trace));
}

#[tokio::test]
async fn every_alias_of_the_native_format() {
    let app = spawn_app().await;
    let doc = json!({
        "name": "aliases",
        "description": "every alias",
        "metadata": {"team": "core"},
        "tags": "single-tag",
        "extra_top_level": 7,
        "steps": [
            {"step_id": 1, "step_type": "thought", "message": "thinking", "time": 1_700_000_000,
             "duration": 250, "tokens": 12, "error_message": null},
            {"id": "b", "parent": 1, "type": "action", "content": {"tool": "search"},
             "start_time": "2023-11-14T22:13:20.500Z", "end_time": "2023-11-14T22:13:21Z",
             "inputs": {"q": "x"}, "outputs": ["y"], "custom_field": true},
            {"id": "c", "parent_id": "b", "type": "observation", "timestamp": 1_700_000_001_000_i64,
             "usage": {"prompt_tokens": 3, "completion_tokens": 4}, "cost": 0.5, "model": "m-1"},
            {"id": "d", "type": "generation", "tokens_used": 9,
             "usage": {"input_tokens": 5, "output_tokens": 4}},
            {"id": "e", "type": "tool", "error": {"type": "ValueError", "message": "bad", "stack": "line 1"}},
            {"id": "f", "type": "error", "error": "plain message"},
            {"id": "g", "kind": "handoff", "type": "transfer_to_agent", "status": "failed"}
        ]
    });
    let created = app.upload_ok(&doc).await;
    assert_eq!(created["steps"], 7);
    assert_eq!(created["errors"], 3);
    let trace = app.trace(created["id"].as_str().unwrap()).await;
    assert_eq!(trace["status"], "error");
    assert_eq!(trace["description"], "every alias");
    assert_eq!(trace["tags"], json!(["single-tag"]));
    assert_eq!(
        trace["metadata"],
        json!({"team": "core", "extra_top_level": 7})
    );
    let s = trace["steps"].as_array().unwrap();

    assert_eq!(s[0]["id"], "1");
    assert_eq!(s[0]["kind"], "thought");
    assert_eq!(s[0]["name"], "thought");
    assert_eq!(s[0]["output"], "thinking");
    assert_eq!(s[0]["start"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(s[0]["duration_ms"], 250.0);
    assert_eq!(s[0]["usage"]["total_tokens"], 12);
    assert_eq!(s[0]["error"], Value::Null);

    assert_eq!(s[1]["parent_id"], "1");
    assert_eq!(s[1]["kind"], "action");
    assert_eq!(s[1]["duration_ms"], 500.0);
    assert_eq!(s[1]["input"], json!({"q": "x"}));
    assert_eq!(s[1]["output"], json!(["y"]));
    assert_eq!(s[1]["metadata"]["content"], json!({"tool": "search"}));
    assert_eq!(s[1]["metadata"]["custom_field"], true);

    assert_eq!(s[2]["parent_id"], "b");
    assert_eq!(s[2]["start"], "2023-11-14T22:13:21.000000Z");
    assert_eq!(
        s[2]["usage"],
        json!({"input_tokens": 3, "output_tokens": 4, "total_tokens": 7})
    );
    assert_eq!(s[2]["cost"], 0.5);
    assert_eq!(s[2]["model"], "m-1");

    assert_eq!(s[3]["kind"], "llm");
    assert_eq!(s[3]["metadata"]["source_type"], "generation");
    assert_eq!(
        s[3]["usage"],
        json!({"input_tokens": 5, "output_tokens": 4, "total_tokens": 9})
    );

    assert_eq!(s[4]["status"], "error");
    assert_eq!(
        s[4]["error"],
        json!({"message": "bad", "type": "ValueError", "stack": "line 1"})
    );
    assert_eq!(s[5]["kind"], "error");
    assert_eq!(s[5]["error"]["message"], "plain message");
    assert_eq!(s[6]["kind"], "handoff");
    assert_eq!(s[6]["status"], "error");
    assert_eq!(s[6]["metadata"]["source_type"], "transfer_to_agent");
}

#[tokio::test]
async fn trees_from_parent_id_and_from_children_agree() {
    let app = spawn_app().await;
    let flat = json!({"name": "flat", "steps": [
        {"id": "a", "type": "agent"},
        {"id": "b", "parent_id": "a", "type": "llm"},
        {"id": "c", "parent_id": "b", "type": "tool"},
        {"id": "d", "parent_id": "a", "type": "tool"}
    ]});
    let nested = json!({"name": "nested", "steps": [
        {"id": "a", "type": "agent", "children": [
            {"id": "b", "type": "llm", "children": [{"id": "c", "type": "tool"}]},
            {"id": "d", "type": "tool"}
        ]}
    ]});
    let shape = |trace: &Value| -> Vec<(String, Value)> {
        trace["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].as_str().unwrap().to_owned(), s["parent_id"].clone()))
            .collect()
    };
    let flat = app
        .trace(app.upload_ok(&flat).await["id"].as_str().unwrap())
        .await;
    let nested = app
        .trace(app.upload_ok(&nested).await["id"].as_str().unwrap())
        .await;
    let expected = vec![
        ("a".to_owned(), Value::Null),
        ("b".to_owned(), json!("a")),
        ("c".to_owned(), json!("b")),
        ("d".to_owned(), json!("a")),
    ];
    assert_eq!(shape(&flat), expected);
    assert_eq!(shape(&nested), expected);
}

#[tokio::test]
async fn unknown_parents_and_cycles_become_roots_with_warnings() {
    let app = spawn_app().await;
    let created = app
        .upload_ok(&json!([
            {"id": "a", "parent_id": "nowhere"},
            {"id": "b", "parent_id": "c"},
            {"id": "c", "parent_id": "b"}
        ]))
        .await;
    let warnings = created["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let trace = app.trace(created["id"].as_str().unwrap()).await;
    let roots = trace["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["parent_id"].is_null())
        .count();
    assert_eq!(roots, 2, "the unknown parent and one cycle edge are cut");
}

#[tokio::test]
async fn stats_are_computed_at_ingest() {
    let app = spawn_app().await;
    let created: Value = app
        .upload_json(example("failing-run.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["errors"], 2);
    let trace = app.trace(created["id"].as_str().unwrap()).await;
    assert_eq!(trace["status"], "error");
    assert_eq!(trace["step_count"], 6);
    assert_eq!(trace["error_count"], 2);
    assert_eq!(trace["usage"]["total_tokens"], 530);
    // The root starts at ...400.0 and lasts 3.1 s; nothing ends later.
    assert_eq!(trace["duration_ms"], 3100.0);
    assert_eq!(
        trace["stats"]["kinds"],
        json!({"agent": 1, "error": 1, "llm": 1, "observation": 1, "thought": 1, "tool": 1})
    );
    assert_eq!(
        trace["stats"]["models"],
        json!({"claude-3-5-haiku-20241022": 1})
    );
    let slowest: Vec<&str> = trace["stats"]["slowest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(slowest, ["1", "4", "3"]);
    let tool = &trace["steps"][3];
    assert_eq!(tool["error"]["type"], "HTTPError");
    assert!(
        tool["error"]["stack"]
            .as_str()
            .unwrap()
            .contains("raise_for_status")
    );

    let weather: Value = app
        .upload_json(example("weather-agent.json"))
        .await
        .json()
        .await
        .unwrap();
    let weather = app.trace(weather["id"].as_str().unwrap()).await;
    assert_eq!(
        weather["usage"],
        json!({"input_tokens": 1067, "output_tokens": 109, "total_tokens": 1176})
    );
    assert!((weather["cost"].as_f64().unwrap() - 0.000225).abs() < 1e-12);
    assert_eq!(weather["duration_ms"], 4200.0);
}

#[tokio::test]
async fn multipart_upload_with_name_and_file_name() {
    let app = spawn_app().await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(example("legacy-steps.json"))
            .file_name("../../etc/my-run.json"),
    );
    let response = app
        .client
        .post(app.url("/api/v1/traces"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        created["name"], "my-run",
        "the file name, without path or extension"
    );
    assert_eq!(created["steps"], 4);

    let form = reqwest::multipart::Form::new()
        .text("name", "renamed run")
        .part(
            "file",
            reqwest::multipart::Part::bytes(example("legacy-steps.json")).file_name("x.txt"),
        );
    let created: Value = app
        .client
        .post(app.url("/api/v1/traces"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["name"], "renamed run");
    let trace = app.trace(created["id"].as_str().unwrap()).await;
    assert_eq!(trace["steps"][1]["kind"], "action");
    assert_eq!(
        trace["steps"][1]["output"],
        "search('capital of Australia')"
    );
    assert_eq!(trace["steps"][0]["start"], "2023-11-14T22:13:20.000000Z");
}

#[tokio::test]
async fn restart_keeps_the_data() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let app = spawn_app_in(&data, Limits::default()).await;
    let id = app.upload_id(&json!([{"id": "x", "type": "llm"}])).await;
    app.stop().await;
    let app = spawn_app_in(&data, Limits::default()).await;
    let trace = app.trace(&id).await;
    assert_eq!(trace["steps"][0]["id"], "x");
    assert_eq!(app.trace_count().await, 1);
}

#[tokio::test]
async fn concurrent_uploads_all_land() {
    let app = spawn_app().await;
    let mut uploads = tokio::task::JoinSet::new();
    for i in 0..8 {
        let client = app.client.clone();
        let url = app.url("/api/v1/traces");
        let body = serde_json::to_vec(&json!({"name": format!("run {i}"), "steps": [{"id": "s"}]}))
            .unwrap();
        uploads.spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = uploads.join_next().await {
        assert_eq!(status.unwrap(), 201);
    }
    assert_eq!(app.trace_count().await, 8);
}

#[tokio::test]
async fn delete_removes_the_trace_and_its_steps() {
    let app = spawn_app().await;
    let id = app
        .upload_id(&json!([{"id": "a"}, {"id": "b", "parent_id": "a"}]))
        .await;
    let response = app
        .client
        .delete(app.url(&format!("/api/v1/traces/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (status, body) = app.get_json(&format!("/api/v1/traces/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "urn:agenttrace:problem:not-found");
    let (status, _) = app.get_json(&format!("/api/v1/traces/{id}/steps/a")).await;
    assert_eq!(status, 404);
    let again = app
        .client
        .delete(app.url(&format!("/api/v1/traces/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}
