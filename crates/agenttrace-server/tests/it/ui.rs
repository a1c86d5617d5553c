//! The web UI's pages as the server renders them: sign-in, the trace list, a trace, the shared
//! view, settings, the static files; escaping of trace content and the CSP on every page.
//! (What the scripts then do is tested in a real browser: `crates/agenttrace/tests/browser`.)

use crate::helpers::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
const XSS_SCRIPT: &str = "</script><script>alert(1)</script>";

/// Text as the templates escape it.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// A client that does not follow redirects, so tests see them.
fn browser() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the form; returns the session cookie (`name=value`).
async fn sign_in(app: &TestApp, email: &str) -> String {
    let response = browser()
        .post(app.url("/login"))
        .form(&[("email", email), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(response.headers()[LOCATION], "/");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(
    app: &TestApp,
    cookie: &str,
    path: &str,
) -> (u16, String, reqwest::header::HeaderMap) {
    let response = browser()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.text().await.unwrap(), headers)
}

/// No inline script: every `<script>` either loads a file or holds JSON data.
fn assert_no_inline_script(html: &str) {
    for (i, _) in html.match_indices("<script") {
        let tag_end = html[i..].find('>').unwrap() + i;
        let tag = &html[i..=tag_end];
        assert!(
            tag.contains(" src=\"/static/") || tag.contains("type=\"application/json\""),
            "inline script: {tag}"
        );
    }
    assert!(!html.contains(" style=\""), "inline style in the page");
    assert!(
        !html.contains("onerror=alert(1)>"),
        "an unescaped trace name"
    );
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_back() {
    let app = spawn_app().await;
    let response = browser().get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/login");
    let response = browser()
        .get(app.url("/traces/abc?step=s1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=/traces/abc%3Fstep%3Ds1"
    );
    let (status, html, headers) = page(&app, "", "/login?next=/traces/abc").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("name=\"next\" value=\"/traces/abc\""),
        "{html}"
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_no_inline_script(&html);

    // A wrong password shows the problem on the form, not a JSON error.
    let response = browser()
        .post(app.url("/login"))
        .form(&[("email", OWNER), ("password", "not-the-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let html = response.text().await.unwrap();
    assert!(html.contains("class=\"alert\""), "{html}");
    // A `next` that leaves the site is ignored.
    let response = browser()
        .post(app.url("/login"))
        .form(&[
            ("email", OWNER),
            ("password", PASSWORD),
            ("next", "//evil.example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[LOCATION], "/");
    // Nor one that a browser would turn into another site (it drops tabs and line breaks).
    for next in ["/\t/evil.example", "/\\evil.example", "/\n/evil.example"] {
        let response = browser()
            .post(app.url("/login"))
            .form(&[("email", OWNER), ("password", PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[LOCATION], "/", "{next:?}");
    }
    // A form posted from another site is refused (login CSRF).
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let response = browser()
            .post(app.url("/login"))
            .header(name, value)
            .form(&[("email", OWNER), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name}");
        assert!(!response.headers().contains_key(SET_COOKIE));
    }
}

#[tokio::test]
async fn a_fresh_instance_asks_for_the_first_account() {
    let temp = tempfile::tempdir().unwrap();
    let config =
        agenttrace_server::Config::new("127.0.0.1:0".parse().unwrap(), temp.path().join("data"));
    let server = agenttrace_server::Server::bind(&config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let url = |path: &str| format!("http://{addr}{path}");
    let response = browser().get(url("/")).send().await.unwrap();
    assert_eq!(response.headers()[LOCATION], "/register");
    let html = browser()
        .get(url("/register"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("becomes this instance's admin"), "{html}");
    let response = browser()
        .post(url("/register"))
        .form(&[("email", "first@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(response.headers().contains_key(SET_COOKIE));
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn closed_registration_says_so() {
    let app = spawn_app_with_config(|c| c.auth.allow_registration = Some(false)).await;
    let (status, html, _) = page(&app, "", "/register").await;
    assert_eq!(status, 403);
    assert!(html.contains("Registration is closed"), "{html}");
}

#[tokio::test]
async fn the_trace_list_shows_traces_escaped_and_filters_them() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, OWNER).await;
    app.upload_id(&json!({"name": XSS_NAME, "tags": ["nightly"], "steps": [{"id": "a"}]}))
        .await;
    app.upload_id(
        &json!({"name": "weather run", "steps": [{"id": "a", "type": "error", "error": "boom"}]}),
    )
    .await;
    let (status, html, headers) = page(&app, &cookie, "/").await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(html.contains(&escaped(XSS_NAME)), "{html}");
    assert!(html.contains("weather run"));
    assert_no_inline_script(&html);
    let csrf = html
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert_eq!(csrf.len(), 64);

    let (_, html, _) = page(&app, &cookie, "/?status=error").await;
    assert!(
        html.contains("weather run") && !html.contains("onerror"),
        "{html}"
    );
    let (_, html, _) = page(&app, &cookie, "/?tag=nightly").await;
    assert!(
        !html.contains("weather run") && html.contains(&escaped(XSS_NAME)),
        "{html}"
    );
    let (_, html, _) = page(&app, &cookie, "/?q=weather").await;
    assert!(
        html.contains("weather run") && !html.contains("onerror"),
        "{html}"
    );
    let (_, html, _) = page(&app, &cookie, "/?errors=1").await;
    assert!(
        html.contains("weather run") && !html.contains("onerror"),
        "{html}"
    );
    let (_, html, _) = page(&app, &cookie, "/?q=nothing-matches-this").await;
    assert!(html.contains("No trace matches"), "{html}");
}

#[tokio::test]
async fn an_empty_list_teaches_the_three_ways_in() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, OWNER).await;
    let (_, html, _) = page(&app, &cookie, "/").await;
    assert!(html.contains("No traces yet"), "{html}");
    assert!(html.contains("/api/v1/traces") && html.contains("/upload"));
    assert!(html.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && html.contains("Bearer%20"));
}

/// The JSON data of a trace page.
fn trace_data(html: &str) -> Value {
    let start = html
        .find("<script type=\"application/json\" id=\"trace-data\">")
        .unwrap();
    let rest = &html[start..];
    let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    assert!(!body.contains('<'), "raw < in the data block");
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn the_trace_page_carries_the_outline_safely_and_no_payloads() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, OWNER).await;
    let id = app
        .upload_id(&json!({"name": XSS_SCRIPT, "steps": [
            {"id": "root", "type": "agent", "name": "planner", "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-01T00:00:02Z"},
            {"id": "llm", "parent_id": "root", "type": "llm", "name": XSS_NAME, "model": "gpt-4o",
             "start_time": "2026-01-01T00:00:00.500Z", "duration_ms": 800, "tokens_used": 1284,
             "input": {"prompt": "payload-marker-text"}},
            {"id": "tool", "parent_id": "root", "type": "tool", "name": "search", "error": "404 from upstream"}
        ]}))
        .await;
    let (status, html, _) = page(&app, &cookie, &format!("/traces/{id}")).await;
    assert_eq!(status, 200);
    assert_no_inline_script(&html);
    assert!(html.contains(&escaped(XSS_SCRIPT)));
    assert!(
        !html.contains("payload-marker-text"),
        "payloads are fetched on demand"
    );
    assert!(html.contains(&format!("data-api-base=\"/api/v1/traces/{id}\"")));
    let data = trace_data(&html);
    assert_eq!(data["name"], XSS_SCRIPT);
    let steps = data["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert_eq!(
        steps[0],
        json!([
            "root", -1, "agent", "planner", 0.0, 2000.0, 0, null, null, null
        ])
    );
    assert_eq!(
        steps[1],
        json!([
            "llm", 0, "llm", XSS_NAME, 500.0, 800.0, 0, "gpt-4o", 1284, null
        ])
    );
    assert_eq!(steps[2][1], 0);
    assert_eq!(steps[2][6], 1, "the error flag");

    // Another user cannot open it: a 404 page, not the trace.
    app.register("other@example.com").await;
    let other = sign_in(&app, "other@example.com").await;
    let (status, html, _) = page(&app, &other, &format!("/traces/{id}")).await;
    assert_eq!(status, 404);
    assert!(html.contains("Trace not found") && !html.contains("planner"));
}

#[tokio::test]
async fn steps_are_found_by_their_content_within_a_trace() {
    let app = spawn_app().await;
    let id = app
        .upload_id(&json!({"steps": [
            {"id": "a", "name": "first", "input": {"q": "Weather in PARIS"}},
            {"id": "b", "name": "second", "output": "sunny 100% of the time"},
            {"id": "c", "name": "third"}
        ]}))
        .await;
    let (status, body) = app
        .get_json(&format!("/api/v1/traces/{id}/search?q=paris"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["step_ids"], json!(["a"]));
    // Wildcards are text, not patterns.
    let (_, body) = app
        .get_json(&format!("/api/v1/traces/{id}/search?q=100%25"))
        .await;
    assert_eq!(body["step_ids"], json!(["b"]));
    let (_, body) = app
        .get_json(&format!("/api/v1/traces/{id}/search?q=_"))
        .await;
    assert_eq!(body["step_ids"], json!([]));
    // Values, not keys: `q` is a key of the first step's input.
    let (_, body) = app
        .get_json(&format!("/api/v1/traces/{id}/search?q=q"))
        .await;
    assert_eq!(body["step_ids"], json!([]));
    let (_, body) = app
        .get_json(&format!("/api/v1/traces/{id}/search?q=third"))
        .await;
    assert_eq!(body["step_ids"], json!(["c"]));
    let (status, _) = get_json_with(
        &app.anonymous,
        &app.url(&format!("/api/v1/traces/{id}/search?q=paris")),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_shared_trace_opens_signed_out_read_only_and_leaks_nothing_else() {
    let app = spawn_app().await;
    let id = app
        .upload_id(&json!({"name": "shared run", "steps": [{"id": "a", "name": "step one", "input": "hello"}]}))
        .await;
    let (status, created) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/traces/{id}/share"))),
    )
    .await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap();
    let (status, html, headers) = page(&app, "", &format!("/share/{token}")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(html.contains("Read-only shared view"));
    assert!(html.contains("data-readonly=\"true\""));
    assert!(!html.contains("href=\"/settings\"") && !html.contains("href=\"/upload\""));
    assert!(!html.contains("delete-trace") && !html.contains("csrf-token"));
    assert_no_inline_script(&html);
    assert_eq!(trace_data(&html)["steps"][0][3], "step one");
    // The page's calls work without an account, for this trace only.
    let (status, step) = get_json_with(
        &app.anonymous,
        &app.url(&format!("/api/v1/share/{token}/steps/a")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(step["input"], "hello");
    let (_, found) = get_json_with(
        &app.anonymous,
        &app.url(&format!("/api/v1/share/{token}/search?q=hello")),
    )
    .await;
    assert_eq!(found["step_ids"], json!(["a"]));
    let (status, html, _) = page(&app, "", "/share/ats_not-a-real-token").await;
    assert_eq!(status, 404);
    assert!(html.contains("Link not available"));
}

#[tokio::test]
async fn signing_out_needs_the_pages_token_and_ends_the_session() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, OWNER).await;
    let (_, html, _) = page(&app, &cookie, "/upload").await;
    assert!(html.contains("id=\"dropzone\""));
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let forged = browser()
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (status, _, _) = page(&app, &cookie, "/").await;
    assert_eq!(status, 200, "a forged sign-out must not end the session");
    let out = browser()
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _, _) = page(&app, &cookie, "/").await;
    assert_eq!(status, 303, "the session ended");
}

#[tokio::test]
async fn settings_show_projects_members_and_keys() {
    let app = spawn_app().await;
    let (status, key) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/projects/{}/api-keys", app.project_id)))
            .json(&json!({"name": XSS_NAME, "scope": "ingest"})),
    )
    .await;
    assert_eq!(status, 201);
    let cookie = sign_in(&app, OWNER).await;
    let (status, html, _) = page(&app, &cookie, "/settings").await;
    assert_eq!(status, 200);
    assert_no_inline_script(&html);
    assert!(html.contains(OWNER));
    assert!(html.contains(&escaped(XSS_NAME)));
    assert!(html.contains(key["prefix"].as_str().unwrap()));
    assert!(
        !html.contains(key["key"].as_str().unwrap()),
        "the key is shown once only"
    );
    // Live share links are listed, and one can be revoked by its id.
    let id = app
        .upload_id(&json!({"name": "linked run", "steps": [{"id": "a"}]}))
        .await;
    let (_, created) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/traces/{id}/share"))),
    )
    .await;
    let token = created["token"].as_str().unwrap();
    let (_, html, _) = page(&app, &cookie, "/settings").await;
    assert!(
        html.contains("linked run") && html.contains("share-revoke"),
        "{html}"
    );
    assert!(!html.contains(token), "the token is never shown again");
    let share_id = html
        .split("data-share-id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let (status, _) = send_json(
        app.client
            .delete(app.url(&format!("/api/v1/traces/{id}/shares/{share_id}"))),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) =
        get_json_with(&app.anonymous, &app.url(&format!("/api/v1/share/{token}"))).await;
    assert_eq!(status, 404);
    let (_, html, _) = page(&app, &cookie, "/settings").await;
    assert!(!html.contains("linked run"));
}

#[tokio::test]
async fn static_files_are_served_with_their_types_and_kept_by_browsers() {
    let app = spawn_app().await;
    for (file, kind) in [
        ("app.css", "text/css"),
        ("trace.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let response = app
            .anonymous
            .get(app.url(&format!("/static/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{file}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    let (status, _) = get_json_with(&app.anonymous, &app.url("/static/..%2FCargo.toml")).await;
    assert_eq!(status, 404);
    let (status, _) = get_json_with(&app.anonymous, &app.url("/static/nope.js")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn compare_aligns_steps_by_kind_and_name_and_shows_deltas() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, OWNER).await;
    let a = app
        .upload_id(&json!({"name": "run A", "steps": [
            {"id": "p", "type": "agent", "name": "plan", "duration_ms": 1000},
            {"id": "c", "type": "llm", "name": XSS_NAME, "duration_ms": 400, "tokens_used": 100},
            {"id": "s", "type": "tool", "name": "search", "duration_ms": 300}
        ]}))
        .await;
    let b = app
        .upload_id(&json!({"name": "run B", "steps": [
            {"id": "p", "type": "agent", "name": "plan", "duration_ms": 900},
            {"id": "r", "type": "tool", "name": "retry", "duration_ms": 50},
            {"id": "c", "type": "llm", "name": XSS_NAME, "duration_ms": 600, "tokens_used": 80},
            {"id": "s", "type": "tool", "name": "search", "duration_ms": 300}
        ]}))
        .await;
    let (status, html, _) = page(&app, &cookie, &format!("/compare?a={a}&b={b}")).await;
    assert_eq!(status, 200);
    assert_no_inline_script(&html);
    assert!(html.contains(&escaped(XSS_NAME)));
    assert!(html.contains("3 steps in both"), "{html}");
    assert!(
        html.contains("1 only in B") && html.contains("0 only in A"),
        "{html}"
    );
    // The inserted step is marked added; the pairs after it still pair up.
    let added = html.matches("class=\"crow added\"").count();
    assert_eq!(added, 1);
    assert!(
        html.contains("data-a-step=\"c\" data-b-step=\"c\""),
        "{html}"
    );
    // Deltas: the llm step took 200 ms longer (worse) and used 20 tokens fewer (better).
    assert!(
        html.contains("class=\"chip worse\" title=\"duration 400 ms → 600 ms\">+200 ms"),
        "{html}"
    );
    assert!(
        html.contains("class=\"chip better\" title=\"tokens 100 → 80\">−20"),
        "{html}"
    );

    // Without `b`, the page offers the other traces.
    let (status, html, _) = page(&app, &cookie, &format!("/compare?a={a}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!("/compare?a={a}&amp;b={b}")),
        "{html}"
    );

    app.register("other@example.com").await;
    let other = sign_in(&app, "other@example.com").await;
    let (status, html, _) = page(&app, &other, &format!("/compare?a={a}&b={b}")).await;
    assert_eq!(status, 404);
    assert!(!html.contains("run A"));
}

#[tokio::test]
async fn viewers_see_a_trace_without_share_or_delete() {
    let app = spawn_app().await;
    let id = app
        .upload_id(&json!({"name": "team run", "steps": [{"id": "a"}]}))
        .await;
    app.register("viewer@example.com").await;
    let (status, body) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/projects/{}/members", app.project_id)))
            .json(&json!({"email": "viewer@example.com", "role": "viewer"})),
    )
    .await;
    assert!(status == 200 || status == 201, "{body}");
    let viewer = sign_in(&app, "viewer@example.com").await;
    let (status, html, _) = page(&app, &viewer, &format!("/traces/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("team run"));
    assert!(!html.contains("id=\"share-trace\"") && !html.contains("id=\"delete-trace\""));
    let owner = sign_in(&app, OWNER).await;
    let (_, html, _) = page(&app, &owner, &format!("/traces/{id}")).await;
    assert!(html.contains("id=\"share-trace\"") && html.contains("id=\"delete-trace\""));
}

#[tokio::test]
async fn the_list_sorts_by_a_column_on_the_server() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, OWNER).await;
    for (name, ms) in [("medium run", 200), ("slow run", 300), ("quick run", 100)] {
        app.upload_id(&json!({"name": name, "steps": [{"id": "a", "duration_ms": ms}]}))
            .await;
    }
    let order = |html: &str| -> Vec<String> {
        html.split("data-name=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_owned())
            .collect()
    };
    let (_, html, _) = page(&app, &cookie, "/?sort=duration").await;
    assert_eq!(order(&html), ["slow run", "medium run", "quick run"]);
    assert!(html.contains("aria-sort=\"descending\""), "{html}");
    // The header link flips the direction.
    assert!(
        html.contains("href=\"/?sort=duration&#38;dir=asc\""),
        "{html}"
    );
    let (_, html, _) = page(&app, &cookie, "/?sort=duration&dir=asc").await;
    assert_eq!(order(&html), ["quick run", "medium run", "slow run"]);
    let (_, html, _) = page(&app, &cookie, "/?sort=name").await;
    assert_eq!(order(&html), ["medium run", "quick run", "slow run"]);
    let (_, html, _) = page(&app, &cookie, "/").await;
    assert_eq!(
        order(&html),
        ["quick run", "slow run", "medium run"],
        "newest first"
    );
}

#[tokio::test]
async fn the_outline_counts_tokens_given_only_as_input_and_output() {
    let app = spawn_app().await;
    let cookie = sign_in(&app, OWNER).await;
    let id = app
        .upload_id(&json!({"steps": [
            {"id": "a", "type": "llm", "usage": {"input_tokens": 30, "output_tokens": 12}},
            {"id": "b", "type": "tool"}
        ]}))
        .await;
    let (_, html, _) = page(&app, &cookie, &format!("/traces/{id}")).await;
    let data = trace_data(&html);
    assert_eq!(data["steps"][0][8], 42);
    assert_eq!(data["steps"][1][8], Value::Null);
}
