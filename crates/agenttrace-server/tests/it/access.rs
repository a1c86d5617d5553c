//! Who may do what: the access matrix of issue 4.

use crate::helpers::{
    OWNER, PASSWORD, TestApp, client_with, files_containing, get_json_with, send_json, spawn_app,
};
use agenttrace_core::timefmt::format_us;
use agenttrace_server::clock::Clock;
use reqwest::Client;
use serde_json::{Value, json};

/// A made-up trace id: what "no such trace" looks like.
const MISSING: &str = "01960000-0000-7000-8000-000000000000";

/// Everyone who knocks, in the column order of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Owner of P (the instance's first user).
    Owner,
    Admin,
    Member,
    Viewer,
    /// A signed-in user with a project of their own, not a member of P.
    Outsider,
    /// An `ingest` key of P.
    Ingest,
    /// A `read` key of P.
    Read,
    /// A key of P that has been revoked.
    Revoked,
    /// A key of P whose `expires_at` has passed.
    Expired,
    /// `Authorization: Bearer` with something that is no token at all.
    BadToken,
    /// No credentials.
    Nobody,
}

const WHO: [Who; 11] = [
    Who::Owner,
    Who::Admin,
    Who::Member,
    Who::Viewer,
    Who::Outsider,
    Who::Ingest,
    Who::Read,
    Who::Revoked,
    Who::Expired,
    Who::BadToken,
    Who::Nobody,
];

/// Every endpoint of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// POST /api/v1/traces?project_id=P
    Upload,
    /// GET /api/v1/traces
    List,
    /// GET /api/v1/traces/{T}
    Get,
    /// GET /api/v1/traces/{T}/steps/{step}
    Step,
    /// GET /api/v1/traces/{T}/export
    Export,
    /// DELETE /api/v1/traces/{id} (a fresh trace of P for each caller)
    Delete,
    /// POST /api/v1/traces/{T}/share
    Share,
    /// DELETE /api/v1/traces/{T}/share/{token} (a fresh link for each caller)
    Unshare,
    /// GET /api/v1/projects/{P}/members
    ListMembers,
    /// POST /api/v1/projects/{P}/members (a spare account as viewer)
    AddMember,
    /// PATCH /api/v1/projects/{P}/members/{spare} (viewer to member)
    ChangeMember,
    /// DELETE /api/v1/projects/{P}/members/{spare}
    RemoveMember,
    /// GET /api/v1/projects/{P}/api-keys
    ListKeys,
    /// POST /api/v1/projects/{P}/api-keys
    CreateKey,
    /// DELETE /api/v1/projects/{P}/api-keys/{key} (a fresh key for each caller)
    RevokeKey,
}

/// What each caller must get, endpoint by endpoint: 401 without (valid) credentials, 404 for
/// whoever has nothing to do with P (never 403), 403 for insiders whose role or key scope lacks
/// the right, 2xx otherwise.
#[rustfmt::skip]
const MATRIX: [(Op, [u16; 11]); 15] = [
    //                    Owner Admin Member Viewer Outsdr Ingest Read Revokd Expird BadTok Nobody
    (Op::Upload,         [201,  201,  201,   403,   404,   201,   403, 401,   401,   401,   401]),
    (Op::List,           [200,  200,  200,   200,   200,   403,   200, 401,   401,   401,   401]),
    (Op::Get,            [200,  200,  200,   200,   404,   403,   200, 401,   401,   401,   401]),
    (Op::Step,           [200,  200,  200,   200,   404,   403,   200, 401,   401,   401,   401]),
    (Op::Export,         [200,  200,  200,   200,   404,   403,   200, 401,   401,   401,   401]),
    (Op::Delete,         [204,  204,  204,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::Share,          [201,  201,  201,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::Unshare,        [204,  204,  204,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::ListMembers,    [200,  200,  200,   200,   404,   403,   403, 401,   401,   401,   401]),
    (Op::AddMember,      [201,  201,  403,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::ChangeMember,   [204,  204,  403,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::RemoveMember,   [204,  204,  403,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::ListKeys,       [200,  200,  403,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::CreateKey,      [201,  201,  403,   403,   404,   403,   403, 401,   401,   401,   401]),
    (Op::RevokeKey,      [204,  204,  403,   403,   404,   403,   403, 401,   401,   401,   401]),
];

/// Whose `GET /api/v1/traces` lists the trace of P (the callers it answers 200).
#[rustfmt::skip]
const SEES_TRACE_OF_P: [(Who, bool); 6] = [
    (Who::Owner, true), (Who::Admin, true), (Who::Member, true), (Who::Viewer, true),
    (Who::Read, true), (Who::Outsider, false),
];

/// A project P owned by OWNER with one member of each role, an outsider with a project and
/// a trace of their own, keys of P in every state, and a trace T of P.
struct World {
    app: TestApp,
    clients: Vec<(Who, Client)>,
    /// P.
    project: String,
    /// T, a trace of P with one step.
    trace: String,
    step: String,
    /// The outsider's personal project and a trace in it.
    outsider_project: String,
    outsider_trace: String,
    /// An account outside P that member operations add, change and remove.
    spare_email: String,
    spare_id: String,
}

impl World {
    async fn new() -> World {
        let app = spawn_app().await;
        let project = app.project_id.clone();
        let mut clients = vec![(Who::Owner, app.client.clone())];
        let mut outsider_project = String::new();
        for (who, email, role) in [
            (Who::Admin, "admin@example.com", Some("admin")),
            (Who::Member, "member@example.com", Some("member")),
            (Who::Viewer, "viewer@example.com", Some("viewer")),
            (Who::Outsider, "outsider@example.com", None),
        ] {
            let (_, personal) = app.register(email).await;
            if who == Who::Outsider {
                outsider_project = personal;
            }
            if let Some(role) = role {
                let (status, body) = send_json(
                    app.client
                        .post(app.url(&format!("/api/v1/projects/{project}/members")))
                        .json(&json!({"email": email, "role": role})),
                )
                .await;
                assert_eq!(status, 201, "add {email} as {role}: {body}");
            }
            clients.push((who, app.client_for(email).await));
        }
        let spare_email = "spare@example.com".to_owned();
        let (spare_id, _) = app.register(&spare_email).await;

        let trace_body = app
            .upload_ok(&json!({"name": "trace of P", "steps": [{"id": "s1", "name": "first"}]}))
            .await;
        let trace = trace_body["id"].as_str().unwrap().to_owned();
        let step = app.trace(&trace).await["steps"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        let outsider = client_of(&clients, Who::Outsider);
        let (status, body) = send_json(
            outsider
                .post(app.url("/api/v1/traces"))
                .json(&json!({"name": "outsider's own", "steps": [{"id": "x"}]})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let outsider_trace = body["id"].as_str().unwrap().to_owned();

        let ingest = create_key(&app, &project, "ingest", None).await;
        let read = create_key(&app, &project, "read", None).await;
        let revoked = create_key(&app, &project, "read", None).await;
        let in_a_minute = format_us(app.clock.now_us() + 60_000_000);
        let expired = create_key(&app, &project, "read", Some(&in_a_minute)).await;
        // Both worked before; afterwards only the revocation and the clock differ.
        for key in [&revoked, &expired] {
            let (status, body) = get_json_with(
                &client_with(key["key"].as_str().unwrap()),
                &app.url(&format!("/api/v1/traces/{trace}")),
            )
            .await;
            assert_eq!(status, 200, "a fresh read key reads: {body}");
        }
        let (status, body) = send_json(app.client.delete(app.url(&format!(
            "/api/v1/projects/{project}/api-keys/{}",
            revoked["id"].as_str().unwrap()
        ))))
        .await;
        assert_eq!(status, 204, "{body}");
        app.clock.advance_secs(61);

        for (who, key) in [
            (Who::Ingest, &ingest),
            (Who::Read, &read),
            (Who::Revoked, &revoked),
            (Who::Expired, &expired),
        ] {
            clients.push((who, client_with(key["key"].as_str().unwrap())));
        }
        clients.push((Who::BadToken, client_with("not-a-token")));
        clients.push((Who::Nobody, app.anonymous.clone()));

        World {
            app,
            clients,
            project,
            trace,
            step,
            outsider_project,
            outsider_trace,
            spare_email,
            spare_id,
        }
    }

    fn client(&self, who: Who) -> &Client {
        client_of(&self.clients, who)
    }

    fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    fn owner(&self) -> &Client {
        &self.app.client
    }

    async fn spare_role(&self) -> Option<String> {
        let (status, body) = get_json_with(
            self.owner(),
            &self.url(&format!("/api/v1/projects/{}/members", self.project)),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == self.spare_id.as_str())
            .map(|m| m["role"].as_str().unwrap().to_owned())
    }

    async fn owner_sets_spare(&self, role: &str) {
        let (status, body) = send_json(
            self.owner()
                .post(self.url(&format!("/api/v1/projects/{}/members", self.project)))
                .json(&json!({"email": self.spare_email, "role": role})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }

    async fn owner_removes_spare(&self) {
        let (status, body) = send_json(self.owner().delete(self.url(&format!(
            "/api/v1/projects/{}/members/{}",
            self.project, self.spare_id
        ))))
        .await;
        assert!(status == 204 || status == 404, "{status} {body}");
    }

    /// Performs `op` as `who`. Operations that change something check that the change happened
    /// exactly when the answer says it did.
    async fn call(&self, op: Op, who: Who) -> (u16, Value) {
        let client = self.client(who);
        let (p, t) = (&self.project, &self.trace);
        match op {
            Op::Upload => {
                send_json(
                    client
                        .post(self.url(&format!("/api/v1/traces?project_id={p}")))
                        .json(
                            &json!({"name": format!("upload by {who:?}"), "steps": [{"id": "a"}]}),
                        ),
                )
                .await
            }
            Op::List => get_json_with(client, &self.url("/api/v1/traces?limit=200")).await,
            Op::Get => get_json_with(client, &self.url(&format!("/api/v1/traces/{t}"))).await,
            Op::Step => {
                let path = format!("/api/v1/traces/{t}/steps/{}", self.step);
                get_json_with(client, &self.url(&path)).await
            }
            Op::Export => {
                get_json_with(client, &self.url(&format!("/api/v1/traces/{t}/export"))).await
            }
            Op::Delete => {
                let id = self
                    .app
                    .upload_id(&json!({"name": "to delete", "steps": [{"id": "a"}]}))
                    .await;
                let answer =
                    send_json(client.delete(self.url(&format!("/api/v1/traces/{id}")))).await;
                let (still, _) =
                    get_json_with(self.owner(), &self.url(&format!("/api/v1/traces/{id}"))).await;
                assert_eq!(
                    still == 404,
                    answer.0 == 204,
                    "{who:?} deleting: answer {answer:?}, trace afterwards {still}"
                );
                answer
            }
            Op::Share => {
                send_json(
                    client
                        .post(self.url(&format!("/api/v1/traces/{t}/share")))
                        .json(&json!({})),
                )
                .await
            }
            Op::Unshare => {
                let token = share(&self.app, t, None).await;
                let answer = send_json(
                    client.delete(self.url(&format!("/api/v1/traces/{t}/share/{token}"))),
                )
                .await;
                let (view, _) = get_json_with(
                    &self.app.anonymous,
                    &self.url(&format!("/api/v1/share/{token}")),
                )
                .await;
                assert_eq!(
                    view == 404,
                    answer.0 == 204,
                    "{who:?} revoking a link: answer {answer:?}, link afterwards {view}"
                );
                answer
            }
            Op::ListMembers => {
                get_json_with(client, &self.url(&format!("/api/v1/projects/{p}/members"))).await
            }
            Op::AddMember => {
                let answer = send_json(
                    client
                        .post(self.url(&format!("/api/v1/projects/{p}/members")))
                        .json(&json!({"email": self.spare_email, "role": "viewer"})),
                )
                .await;
                let role = self.spare_role().await;
                assert_eq!(
                    role.is_some(),
                    answer.0 == 201,
                    "{who:?} adding: answer {answer:?}, role afterwards {role:?}"
                );
                self.owner_removes_spare().await;
                answer
            }
            Op::ChangeMember => {
                self.owner_sets_spare("viewer").await;
                let answer = send_json(
                    client
                        .patch(self.url(&format!("/api/v1/projects/{p}/members/{}", self.spare_id)))
                        .json(&json!({"role": "member"})),
                )
                .await;
                let role = self.spare_role().await;
                assert_eq!(
                    role.as_deref() == Some("member"),
                    answer.0 == 204,
                    "{who:?} changing a role: answer {answer:?}, role afterwards {role:?}"
                );
                self.owner_removes_spare().await;
                answer
            }
            Op::RemoveMember => {
                self.owner_sets_spare("viewer").await;
                let answer =
                    send_json(client.delete(
                        self.url(&format!("/api/v1/projects/{p}/members/{}", self.spare_id)),
                    ))
                    .await;
                let role = self.spare_role().await;
                assert_eq!(
                    role.is_none(),
                    answer.0 == 204,
                    "{who:?} removing: answer {answer:?}, role afterwards {role:?}"
                );
                self.owner_removes_spare().await;
                answer
            }
            Op::ListKeys => {
                get_json_with(client, &self.url(&format!("/api/v1/projects/{p}/api-keys"))).await
            }
            Op::CreateKey => {
                send_json(
                    client
                        .post(self.url(&format!("/api/v1/projects/{p}/api-keys")))
                        .json(&json!({"name": format!("by {who:?}"), "scope": "read"})),
                )
                .await
            }
            Op::RevokeKey => {
                let key = create_key(&self.app, p, "read", None).await;
                let answer = send_json(client.delete(self.url(&format!(
                    "/api/v1/projects/{p}/api-keys/{}",
                    key["id"].as_str().unwrap()
                ))))
                .await;
                let (with_key, _) = get_json_with(
                    &client_with(key["key"].as_str().unwrap()),
                    &self.url(&format!("/api/v1/traces/{t}")),
                )
                .await;
                assert_eq!(
                    with_key == 401,
                    answer.0 == 204,
                    "{who:?} revoking a key: answer {answer:?}, key afterwards {with_key}"
                );
                answer
            }
        }
    }
}

fn client_of(clients: &[(Who, Client)], who: Who) -> &Client {
    &clients.iter().find(|(w, _)| *w == who).unwrap().1
}

/// Creates an API key of `project` as OWNER; returns the 201 body (with `key` and `id`).
async fn create_key(app: &TestApp, project: &str, scope: &str, expires_at: Option<&str>) -> Value {
    let mut body = json!({"name": format!("{scope} key"), "scope": scope});
    if let Some(at) = expires_at {
        body["expires_at"] = json!(at);
    }
    let (status, created) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/projects/{project}/api-keys")))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Shares a trace as OWNER; returns the token.
async fn share(app: &TestApp, trace: &str, expires_at: Option<&str>) -> String {
    let request = app
        .client
        .post(app.url(&format!("/api/v1/traces/{trace}/share")));
    // Without an expiry the body is optional: send none at all.
    let request = match expires_at {
        Some(at) => request.json(&json!({"expires_at": at})),
        None => request,
    };
    let (status, created) = send_json(request).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["url"], format!("/share/{token}"));
    token
}

/// The public view of a share link, without credentials.
async fn view_share(app: &TestApp, token: String) -> (u16, Value) {
    get_json_with(&app.anonymous, &app.url(&format!("/api/v1/share/{token}"))).await
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn access_matrix_endpoint_by_endpoint() {
    let world = World::new().await;
    let mut wrong = Vec::new();
    for (op, expected) in MATRIX {
        for (who, want) in WHO.into_iter().zip(expected) {
            let (got, body) = world.call(op, who).await;
            if got != want {
                wrong.push(format!(
                    "{op:?} as {who:?}: expected {want}, got {got}: {body}"
                ));
            }
            // Refusals are problem documents that say why.
            if got >= 400 {
                assert!(
                    body["detail"].is_string() && body["status"] == got,
                    "{op:?} as {who:?}: {got} without a problem body: {body}"
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cells of the matrix are wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn trace_list_shows_each_caller_what_it_may_read() {
    let world = World::new().await;
    for (who, sees) in SEES_TRACE_OF_P {
        let (status, list) = world.call(Op::List, who).await;
        assert_eq!(status, 200, "{who:?}: {list}");
        let ids = ids(&list);
        assert_eq!(ids.contains(&world.trace), sees, "{who:?} sees T: {list}");
        assert_eq!(
            ids.contains(&world.outsider_trace),
            who == Who::Outsider,
            "{who:?} and the outsider's trace: {list}"
        );
    }
    // Asking for P explicitly does not widen what an outsider sees.
    let (status, list) = get_json_with(
        world.client(Who::Outsider),
        &world.url(&format!("/api/v1/traces?project_id={}", world.project)),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), Vec::<String>::new());
    // A read key lists its own project only, whatever it asks for.
    let (status, list) = get_json_with(
        world.client(Who::Read),
        &world.url(&format!(
            "/api/v1/traces?project_id={}",
            world.outsider_project
        )),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert!(ids(&list).is_empty(), "{list}");
}

#[tokio::test]
async fn another_tenants_trace_answers_404_on_every_trace_endpoint_like_a_missing_one() {
    let app = spawn_app().await;
    let p = app.project_id.clone();
    let (_, q) = app.register("tenant@example.com").await;
    let tenant = app.client_for("tenant@example.com").await;
    // Keys of the other tenant's project, made by the tenant.
    let mut other_keys = Vec::new();
    for scope in ["ingest", "read"] {
        let (status, key) = send_json(
            tenant
                .post(app.url(&format!("/api/v1/projects/{q}/api-keys")))
                .json(&json!({"name": scope, "scope": scope})),
        )
        .await;
        assert_eq!(status, 201, "{key}");
        other_keys.push((scope, client_with(key["key"].as_str().unwrap())));
    }
    let trace = app
        .upload_id(&json!({"name": "private", "steps": [{"id": "s1"}]}))
        .await;
    let token = share(&app, &trace, None).await;

    let mut callers = vec![("tenant user", tenant.clone())];
    callers.extend(other_keys);
    for (name, client) in &callers {
        for (method, path) in [
            ("GET", "/api/v1/traces/{id}"),
            ("GET", "/api/v1/traces/{id}/steps/s1"),
            ("GET", "/api/v1/traces/{id}/export"),
            ("POST", "/api/v1/traces/{id}/share"),
            ("DELETE", "/api/v1/traces/{id}/share/{token}"),
            ("DELETE", "/api/v1/traces/{id}"),
        ] {
            let request = |id: &str| {
                let url = app.url(&path.replace("{id}", id).replace("{token}", &token));
                match method {
                    "GET" => client.get(url),
                    "POST" => client.post(url).json(&json!({})),
                    _ => client.delete(url),
                }
            };
            let (status, body) = send_json(request(&trace)).await;
            let (missing_status, missing_body) = send_json(request(MISSING)).await;
            assert_eq!(status, 404, "{name} {method} {path}: {body}");
            assert_eq!(
                (status, &body),
                (missing_status, &missing_body),
                "{name} {method} {path}: another tenant's trace must look like a missing one"
            );
        }
        // Uploading into P is refused the same way as into a project that does not exist.
        let upload = |project: &str| {
            client
                .post(app.url(&format!("/api/v1/traces?project_id={project}")))
                .json(&json!({"name": "intruder", "steps": [{"id": "a"}]}))
        };
        let (status, body) = send_json(upload(&p)).await;
        let (_, missing_body) = send_json(upload(MISSING)).await;
        assert_eq!(status, 404, "{name} uploading into P: {body}");
        assert_eq!(body, missing_body, "{name} uploading into P");
    }
    // It works both ways: the instance admin is no member of the tenant's project either.
    let (status, body) = send_json(
        tenant
            .post(app.url("/api/v1/traces"))
            .json(&json!({"name": "tenant's", "steps": [{"id": "s1"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let theirs = body["id"].as_str().unwrap();
    let (status, body) = app.get_json(&format!("/api/v1/traces/{theirs}")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = send_json(
        app.client
            .delete(app.url(&format!("/api/v1/traces/{theirs}"))),
    )
    .await;
    assert_eq!(status, 404, "{body}");

    // The tenant's attempts changed nothing.
    assert_eq!(app.trace(&trace).await["name"], "private");
    let (status, _) =
        get_json_with(&app.anonymous, &app.url(&format!("/api/v1/share/{token}"))).await;
    assert_eq!(status, 200);
    let (_, list) = app.get_json("/api/v1/traces?limit=200").await;
    assert!(
        !list.to_string().contains("intruder"),
        "an outsider uploaded into P: {list}"
    );
}

#[tokio::test]
async fn last_owner_stays_and_admins_cannot_touch_owners() {
    let app = spawn_app().await;
    let p = app.project_id.clone();
    let owner_id = app.get_json("/api/v1/me").await.1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (admin_id, _) = app.register("admin@example.com").await;
    let (member_id, _) = app.register("member@example.com").await;
    for (email, role) in [
        ("admin@example.com", "admin"),
        ("member@example.com", "member"),
    ] {
        let (status, body) = send_json(
            app.client
                .post(app.url(&format!("/api/v1/projects/{p}/members")))
                .json(&json!({"email": email, "role": role})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let admin = app.client_for("admin@example.com").await;
    let member_url = |id: &str| app.url(&format!("/api/v1/projects/{p}/members/{id}"));
    let patch = |client: &Client, id: &str, role: &str| {
        client.patch(member_url(id)).json(&json!({"role": role}))
    };

    // The only owner can neither step down (whichever way) nor leave.
    for request in [
        patch(&app.client, &owner_id, "admin"),
        app.client
            .post(app.url(&format!("/api/v1/projects/{p}/members")))
            .json(&json!({"email": OWNER, "role": "member"})),
        app.client.delete(member_url(&owner_id)),
    ] {
        let (status, body) = send_json(request).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["type"], "urn:agenttrace:problem:last-owner");
    }

    // An admin manages members and viewers, but owners are out of reach.
    for (what, request) in [
        ("demote the owner", patch(&admin, &owner_id, "viewer")),
        ("remove the owner", admin.delete(member_url(&owner_id))),
        ("promote itself", patch(&admin, &admin_id, "owner")),
        ("promote a member", patch(&admin, &member_id, "owner")),
        (
            "add an owner",
            admin
                .post(app.url(&format!("/api/v1/projects/{p}/members")))
                .json(&json!({"email": "member@example.com", "role": "owner"})),
        ),
        (
            "demote the owner by adding them again",
            admin
                .post(app.url(&format!("/api/v1/projects/{p}/members")))
                .json(&json!({"email": OWNER, "role": "viewer"})),
        ),
    ] {
        let (status, body) = send_json(request).await;
        assert_eq!(status, 403, "an admin may not {what}: {body}");
    }
    let (status, body) = send_json(patch(&admin, &member_id, "viewer")).await;
    assert_eq!(status, 204, "an admin changes a member's role: {body}");

    let roles = |members: &Value| -> Vec<(String, String)> {
        let mut roles: Vec<_> = members["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["email"].as_str().unwrap().to_owned(),
                    m["role"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        roles.sort();
        roles
    };
    let members_path = format!("/api/v1/projects/{p}/members");
    let pair = |e: &str, r: &str| (e.to_owned(), r.to_owned());
    assert_eq!(
        roles(&app.get_json(&members_path).await.1),
        [
            pair("admin@example.com", "admin"),
            pair("member@example.com", "viewer"),
            pair(OWNER, "owner"),
        ]
    );

    // With a second owner the first may step down; then the new one is the last.
    let (status, body) = send_json(patch(&app.client, &admin_id, "owner")).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = send_json(patch(&app.client, &owner_id, "admin")).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = send_json(admin.delete(member_url(&admin_id))).await;
    assert_eq!(status, 409, "the new last owner cannot leave: {body}");
    let (status, body) = send_json(patch(&app.client, &admin_id, "member")).await;
    assert_eq!(
        status, 403,
        "the former owner, now admin, cannot demote the owner: {body}"
    );
    assert_eq!(
        roles(&app.get_json(&members_path).await.1),
        [
            pair("admin@example.com", "owner"),
            pair("member@example.com", "viewer"),
            pair(OWNER, "admin"),
        ]
    );

    // Unknown members and roles.
    let (status, body) = send_json(patch(&admin, MISSING, "viewer")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = send_json(patch(&admin, &member_id, "superuser")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["parameter"], "role");
}

#[tokio::test]
async fn api_keys_are_shown_once_stored_hashed_and_record_their_last_use() {
    let app = spawn_app().await;
    let p = app.project_id.clone();
    let created = create_key(&app, &p, "ingest", None).await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("atk_") && key.len() > 40, "{key}");
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["scope"], "ingest");
    assert_eq!(created["last_used_at"], Value::Null);

    let keys_path = format!("/api/v1/projects/{p}/api-keys");
    let (status, list) = app.get_json(&keys_path).await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert!(
        items[0].get("key").is_none(),
        "the list shows a key: {list}"
    );
    assert!(items[0].get("key_hash").is_none(), "{list}");
    assert!(!list.to_string().contains(&key), "{list}");
    assert_eq!(items[0]["id"], created["id"]);
    assert_eq!(items[0]["prefix"], created["prefix"]);
    assert_eq!(items[0]["last_used_at"], Value::Null);

    // Nowhere on disk: not in the database, its log or anything else in the data folder.
    let found = files_containing(&app.data_dir, key.as_bytes());
    assert!(found.is_empty(), "the key is stored in clear in {found:?}");
    // The search does find what is there (the prefix is kept to recognise the key).
    assert!(
        !files_containing(
            &app.data_dir,
            created["prefix"].as_str().unwrap().as_bytes()
        )
        .is_empty()
    );

    app.clock.advance_secs(600);
    let (status, body) = send_json(
        client_with(&key)
            .post(app.url("/api/v1/traces"))
            .json(&json!({"name": "from an agent", "steps": [{"id": "a"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, list) = app.get_json(&keys_path).await;
    let used = list["items"][0]["last_used_at"]
        .as_str()
        .unwrap_or_else(|| {
            panic!("last_used_at not set after use: {list}");
        });
    assert_eq!(used, format_us(app.clock.now_us()));
    // Without project_id the key's upload went to its own project.
    assert_eq!(
        ids(&app
            .get_json(&format!("/api/v1/traces?project_id={p}"))
            .await
            .1),
        [body["id"].as_str().unwrap()]
    );

    let (status, body) = send_json(
        app.client
            .post(app.url(&keys_path))
            .json(&json!({"name": "x", "scope": "admin"})),
    )
    .await;
    assert_eq!(
        (status, &body["parameter"]),
        (400, &json!("scope")),
        "{body}"
    );
    let (status, body) = send_json(app.client.post(app.url(&keys_path)).json(
        &json!({"name": "x", "scope": "read", "expires_at": format_us(app.clock.now_us() - 1)}),
    ))
    .await;
    assert_eq!(
        (status, &body["parameter"]),
        (400, &json!("expires_at")),
        "{body}"
    );
}

#[tokio::test]
async fn x_api_key_header_works_like_bearer() {
    let app = spawn_app().await;
    let p = app.project_id.clone();
    let trace = app
        .upload_id(&json!({"name": "t", "steps": [{"id": "a"}]}))
        .await;
    let ingest = create_key(&app, &p, "ingest", None).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = create_key(&app, &p, "read", None).await;
    let read_key = read["key"].as_str().unwrap().to_owned();
    let plain = Client::new();
    let get_trace = |key: &str| {
        plain
            .get(app.url(&format!("/api/v1/traces/{trace}")))
            .header("x-api-key", key)
    };

    let (status, body) = send_json(
        plain
            .post(app.url("/api/v1/traces"))
            .header("x-api-key", &ingest)
            .json(&json!({"name": "via header", "steps": [{"id": "a"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        app.trace(body["id"].as_str().unwrap()).await["name"],
        "via header"
    );
    let (status, body) = send_json(get_trace(&read_key)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], trace.as_str());
    let (status, body) = send_json(get_trace(&ingest)).await;
    assert_eq!(status, 403, "an ingest key reads nothing: {body}");
    // Behind a reverse proxy with basic auth the client also sends `Authorization: Basic`;
    // that is not ours to read, and the key still counts.
    let (status, body) = send_json(
        get_trace(&read_key).header("authorization", "Basic dXNlcjpwcm94eS1wYXNzd29yZA=="),
    )
    .await;
    assert_eq!(
        status, 200,
        "x-api-key next to a Basic Authorization: {body}"
    );
    let (status, body) = send_json(get_trace("atk_not-a-key")).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = send_json(get_trace("")).await;
    assert_eq!(status, 401, "{body}");

    let (status, _) = send_json(app.client.delete(app.url(&format!(
        "/api/v1/projects/{p}/api-keys/{}",
        read["id"].as_str().unwrap()
    ))))
    .await;
    assert_eq!(status, 204);
    let (status, body) = send_json(get_trace(&read_key)).await;
    assert_eq!(status, 401, "a revoked key via x-api-key: {body}");
}

#[tokio::test]
async fn a_share_link_shows_the_trace_to_anyone_and_nothing_else() {
    let app = spawn_app().await;
    let (outsider_id, _) = app.register("other@example.com").await;
    let me = app.get_json("/api/v1/me").await.1;
    let owner_id = me["id"].as_str().unwrap().to_owned();
    let trace = app
        .upload_id(&json!({"name": "the shared run", "steps": [
            {"id": "s1", "name": "think", "output": "forty-two"}
        ]}))
        .await;
    app.upload_ok(&json!({"name": "a neighbouring run", "steps": [{"id": "a"}]}))
        .await;
    let token = share(&app, &trace, None).await;
    assert!(token.starts_with("ats_"), "{token}");

    let (status, body) =
        get_json_with(&app.anonymous, &app.url(&format!("/api/v1/share/{token}"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], trace.as_str());
    assert_eq!(body["name"], "the shared run");
    assert_eq!(body["steps"][0]["output"], "forty-two");

    let text = body.to_string();
    let mut secrets = vec![
        OWNER.to_owned(),
        "other@example.com".to_owned(),
        "'s traces".to_owned(),
        "a neighbouring run".to_owned(),
        owner_id,
        outsider_id,
    ];
    for project in me["projects"].as_array().unwrap() {
        // ("default", the id of the instance's first project, is too common a word to search.)
        if project["id"] != "default" {
            secrets.push(project["id"].as_str().unwrap().to_owned());
        }
        secrets.push(project["name"].as_str().unwrap().to_owned());
    }
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the shared view shows {secret:?}: {text}"
        );
    }

    // The token is stored hashed, and a made-up one finds nothing.
    assert_eq!(
        files_containing(&app.data_dir, token.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
    let (status, _) = get_json_with(&app.anonymous, &app.url("/api/v1/share/ats_madeup")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn revoking_a_share_ends_it_at_once() {
    let app = spawn_app().await;
    let trace = app
        .upload_id(&json!({"name": "t", "steps": [{"id": "a"}]}))
        .await;
    let other = app
        .upload_id(&json!({"name": "u", "steps": [{"id": "a"}]}))
        .await;
    let first = share(&app, &trace, None).await;
    let second = share(&app, &trace, None).await;
    let view = |token: &str| view_share(&app, token.to_owned());
    assert_eq!(view(&first).await.0, 200);

    // A link is revoked through its own trace only.
    let (status, _) = send_json(
        app.client
            .delete(app.url(&format!("/api/v1/traces/{other}/share/{first}"))),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(view(&first).await.0, 200);

    let (status, body) = send_json(
        app.client
            .delete(app.url(&format!("/api/v1/traces/{trace}/share/{first}"))),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = view(&first).await;
    assert_eq!(status, 404, "a revoked link still works: {body}");
    assert_eq!(
        view(&second).await.0,
        200,
        "revoking one link ends the others"
    );
}

#[tokio::test]
async fn an_expired_share_answers_404() {
    let app = spawn_app().await;
    let trace = app
        .upload_id(&json!({"name": "t", "steps": [{"id": "a"}]}))
        .await;
    let at = format_us(app.clock.now_us() + 60_000_000);
    let token = share(&app, &trace, Some(&at)).await;
    let url = app.url(&format!("/api/v1/share/{token}"));
    assert_eq!(get_json_with(&app.anonymous, &url).await.0, 200);
    app.clock.advance_secs(59);
    assert_eq!(get_json_with(&app.anonymous, &url).await.0, 200);
    app.clock.advance_secs(2);
    let (status, body) = get_json_with(&app.anonymous, &url).await;
    assert_eq!(status, 404, "an expired link still works: {body}");

    // An expiry in the past is refused up front.
    let (status, body) = send_json(
        app.client
            .post(app.url(&format!("/api/v1/traces/{trace}/share")))
            .json(&json!({"expires_at": format_us(app.clock.now_us() - 1_000_000)})),
    )
    .await;
    assert_eq!(
        (status, &body["parameter"]),
        (400, &json!("expires_at")),
        "{body}"
    );
}

#[tokio::test]
async fn a_share_of_a_deleted_trace_answers_404() {
    let app = spawn_app().await;
    let trace = app
        .upload_id(&json!({"name": "t", "steps": [{"id": "a"}]}))
        .await;
    let token = share(&app, &trace, None).await;
    let url = app.url(&format!("/api/v1/share/{token}"));
    assert_eq!(get_json_with(&app.anonymous, &url).await.0, 200);
    let (status, _) = send_json(
        app.client
            .delete(app.url(&format!("/api/v1/traces/{trace}"))),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = get_json_with(&app.anonymous, &url).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn every_endpoint_but_the_public_ones_needs_credentials() {
    let app = spawn_app().await;
    let p = &app.project_id;
    let anonymous = &app.anonymous;
    let json_body =
        json!({"name": "x", "email": "x@example.com", "password": "x", "role": "viewer"});
    for (method, path) in [
        ("GET", "/api/v1/me".to_owned()),
        ("GET", "/api/v1/projects".to_owned()),
        ("POST", "/api/v1/projects".to_owned()),
        ("POST", "/api/v1/users".to_owned()),
        ("POST", "/api/v1/auth/logout".to_owned()),
        ("POST", "/api/v1/auth/password".to_owned()),
        ("DELETE", "/api/v1/auth/session".to_owned()),
        ("GET", format!("/api/v1/traces/{MISSING}")),
        ("GET", format!("/api/v1/projects/{p}/members")),
        ("GET", format!("/api/v1/projects/{MISSING}/members")),
        ("PATCH", format!("/api/v1/projects/{p}/members/{MISSING}")),
        ("GET", format!("/api/v1/projects/{MISSING}/api-keys")),
    ] {
        let url = app.url(&path);
        let request = match method {
            "GET" => anonymous.get(url),
            "POST" => anonymous.post(url).json(&json_body),
            "PATCH" => anonymous.patch(url).json(&json_body),
            _ => anonymous.delete(url),
        };
        let (status, body) = send_json(request).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(
            body["type"], "urn:agenttrace:problem:unauthorized",
            "{body}"
        );
    }
    // The public ones.
    assert_eq!(get_json_with(anonymous, &app.url("/health")).await.0, 200);
    for (path, body, want) in [
        (
            "/api/v1/auth/login",
            json!({"email": OWNER, "password": PASSWORD}),
            200,
        ),
        (
            "/api/v1/auth/refresh",
            json!({"refresh_token": "atr_made-up"}),
            401,
        ),
        (
            "/api/v1/auth/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
            201,
        ),
    ] {
        let (status, answer) = send_json(anonymous.post(app.url(path)).json(&body)).await;
        assert_eq!(status, want, "{path}: {answer}");
    }
}
