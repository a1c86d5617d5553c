//! Health, the schema, the OpenAPI document and the answers for unknown paths.

use crate::helpers::spawn_app;
use serde_json::Value;

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/health").await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn the_trace_schema_is_published_and_matches_the_docs() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/schema/trace.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    let on_disk: Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/trace.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(served, on_disk);
    let step_properties = served["$defs"]["step"]["properties"].as_object().unwrap();
    for group in agenttrace_core::native::STEP_FIELDS {
        for field in *group {
            assert!(
                step_properties.contains_key(*field),
                "schema lacks step field {field}"
            );
        }
    }
    let trace_properties = served["$defs"]["trace"]["properties"].as_object().unwrap();
    for field in agenttrace_core::native::TRACE_FIELDS {
        assert!(
            trace_properties.contains_key(*field),
            "schema lacks trace field {field}"
        );
    }
}

/// Every route the server has, as (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/traces"),
    ("get", "/api/v1/traces"),
    ("get", "/api/v1/traces/{id}"),
    ("delete", "/api/v1/traces/{id}"),
    ("get", "/api/v1/traces/{id}/steps/{step_id}"),
    ("get", "/api/v1/traces/{id}/export"),
    ("get", "/api/v1/schema/trace.json"),
    ("get", "/health"),
    ("get", "/health/ready"),
    ("post", "/api/v1/traces/{id}/share"),
    ("delete", "/api/v1/traces/{id}/share/{token}"),
    ("delete", "/api/v1/traces/{id}/shares/{share_id}"),
    ("get", "/api/v1/share/{token}"),
    ("get", "/api/v1/share/{token}/steps/{step_id}"),
    ("get", "/api/v1/share/{token}/search"),
    ("get", "/api/v1/traces/{id}/search"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/password"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/auth/session"),
    ("delete", "/api/v1/auth/session"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/projects"),
    ("post", "/api/v1/projects"),
    ("get", "/api/v1/projects/{id}/members"),
    ("post", "/api/v1/projects/{id}/members"),
    ("patch", "/api/v1/projects/{id}/members/{user_id}"),
    ("delete", "/api/v1/projects/{id}/members/{user_id}"),
    ("get", "/api/v1/projects/{id}/api-keys"),
    ("post", "/api/v1/projects/{id}/api-keys"),
    ("delete", "/api/v1/projects/{id}/api-keys/{key_id}"),
];

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Each documented route exists: it answers something other than "no such path/method".
    for (method, path) in &expected {
        let concrete = path
            .replace("{id}", "missing")
            .replace("{step_id}", "missing");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{method} {path}");
        assert_ne!(body["detail"], "no such path", "{method} {path}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app
        .client
        .put(app.url("/api/v1/traces"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn the_openapi_document_says_which_operations_need_credentials() {
    let app = spawn_app().await;
    let (_, doc) = app.get_json("/api/openapi.json").await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let public = operation["security"] == serde_json::json!([{}]);
            let concrete = path
                .replace("{id}", "missing")
                .replace("{step_id}", "missing")
                .replace("{token}", "missing")
                .replace("{user_id}", "missing")
                .replace("{key_id}", "missing");
            let response = app
                .anonymous
                .request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    app.url(&concrete),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if public {
                assert_ne!(status, 401, "{method} {path} is documented as public");
            } else {
                assert_eq!(
                    status, 401,
                    "{method} {path} is documented as needing credentials"
                );
                assert!(
                    operation["responses"].get("401").is_some(),
                    "{method} {path} does not document its 401"
                );
            }
        }
    }
}
