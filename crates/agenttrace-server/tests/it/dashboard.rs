//! The dashboard page: server-drawn SVG charts of the signed-in user's projects, names from
//! traces escaped, other users' projects out of reach, and signed-out visitors sent to sign in.

use crate::helpers::{OWNER, PASSWORD, TestApp, spawn_app};
use reqwest::Client;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const EVIL: &str = "<script>alert(1)</script>";

/// A client that shows redirects instead of following them.
fn browser() -> Client {
    crate::helpers::install_tls_provider();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs a browser in as `email`; returns the `Cookie` header value to send.
async fn session_cookie(app: &TestApp, email: &str) -> String {
    let response = browser()
        .post(app.url("/api/v1/auth/session"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

/// GETs a page with the cookie; returns the status and the HTML.
async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let response = browser()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn run(name: &str, tool: &str, failed: bool) -> Value {
    let mut call = json!({"id": "t", "type": "tool", "name": tool, "parent_id": "l",
                          "duration_ms": 120});
    if failed {
        call["error"] = json!("tool crashed");
    }
    json!({"name": name, "steps": [
        {"id": "l", "type": "llm", "name": "plan", "model": "gpt-4o-mini", "duration_ms": 800,
         "usage": {"input_tokens": 100, "output_tokens": 20}, "cost": 0.002},
        call
    ]})
}

#[tokio::test]
async fn dashboard_draws_the_users_traces_as_svg() {
    let app = spawn_app().await;
    app.upload_id(&run("first", "search", false)).await;
    app.upload_id(&run("second", "search", true)).await;
    app.upload_id(&run("third", EVIL, false)).await;
    let cookie = session_cookie(&app, OWNER).await;

    for path in ["/dashboard", "/dashboard?range=24h", "/dashboard?range=30d"] {
        let (status, html) = page(&app, &cookie, path).await;
        assert_eq!(status, 200, "{path}: {html}");
        assert!(html.contains(r#"<svg class="chart""#), "{path}");
        // The bucket that holds today's traces says how many there are, on hover.
        assert!(
            html.contains(": 3 traces, 1 with errors</title>"),
            "{path}: {html}"
        );
        assert!(html.contains(r#"data-page="dashboard""#));
        assert!(html.contains("/static/dashboard.css?v="));
        // The strict CSP allows no inline style or script.
        assert!(!html.contains("style="), "{path}");
        assert!(!html.contains("<script>"), "{path}");
        assert!(!html.contains("<style"), "{path}");
    }

    let (_, html) = page(&app, &cookie, "/dashboard").await;
    // The defaults are named on the page: all readable projects, the last 7 days.
    assert!(html.contains("All 2 projects you can read"), "{html}");
    assert!(html.contains("last 7 days"));
    // Tools and models, with the tool whose name is markup shown as text.
    assert!(!html.contains(EVIL), "the tool name came through unescaped");
    assert!(html.contains("alert(1)"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("gpt-4o-mini"));
    assert!(html.contains("search"));
    // Of the two calls of `search`, one failed.
    assert!(html.contains("search: 2 calls, 1 failed (50%)"), "{html}");

    // One project at a time, chosen in the URL.
    let (status, html) = page(
        &app,
        &cookie,
        &format!("/dashboard?range=24h&project_id={}", app.project_id),
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Project owner@example.com"), "{html}");
    assert!(html.contains(": 3 traces, 1 with errors</title>"));

    // The default project of the instance holds none of them: the empty state.
    let (status, html) = page(&app, &cookie, "/dashboard?project_id=default").await;
    assert_eq!(status, 200);
    assert!(html.contains("No traces in the last 7 days"), "{html}");
    assert!(!html.contains(r#"<svg class="chart""#));
}

#[tokio::test]
async fn another_users_project_is_not_shown() {
    let app = spawn_app().await;
    let (_, other_project) = app.register("other@example.com").await;
    let other = app.client_for("other@example.com").await;
    let response = other
        .post(app.url("/api/v1/traces"))
        .json(&run("theirs", "secret-tool-of-other", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    app.upload_id(&run("mine", "search", false)).await;
    let cookie = session_cookie(&app, OWNER).await;

    let (status, html) = page(&app, &cookie, "/dashboard").await;
    assert_eq!(status, 200);
    assert!(!html.contains(&other_project), "{html}");
    assert!(!html.contains("secret-tool-of-other"));
    assert!(!html.contains("other@example.com"));
    assert!(html.contains(": 1 trace, 0 with errors</title>"), "{html}");

    // Asking for it by id shows nothing of it.
    let (status, html) = page(
        &app,
        &cookie,
        &format!("/dashboard?project_id={other_project}"),
    )
    .await;
    assert_eq!(status, 404);
    assert!(!html.contains("secret-tool-of-other"));
    assert!(!html.contains(r#"<svg class="chart""#));
    assert!(html.contains("no such project"), "{html}");

    // Its owner sees it.
    let cookie = session_cookie(&app, "other@example.com").await;
    let (status, html) = page(&app, &cookie, "/dashboard").await;
    assert_eq!(status, 200);
    assert!(html.contains("secret-tool-of-other"));
    assert!(!html.contains(">search<"));
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let app = spawn_app().await;
    let response = browser()
        .get(app.url("/dashboard?range=24h"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers().get(LOCATION).unwrap().to_str().unwrap();
    assert!(location.starts_with("/login?next="), "{location}");
    assert!(location.contains("dashboard"), "{location}");

    // A bad range falls back to 7 days and says so.
    let cookie = session_cookie(&app, OWNER).await;
    let (status, html) = page(&app, &cookie, "/dashboard?range=1y").await;
    assert_eq!(status, 200);
    assert!(html.contains("Unknown time range"), "{html}");
    assert!(html.contains("No traces in the last 7 days"));
}
