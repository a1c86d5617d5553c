//! Accounts and tokens: registration, sign-in, refresh rotation, reuse detection, logout,
//! password change, lockout, browser sessions and CSRF.

use crate::helpers::{
    OWNER, PASSWORD, TestApp, client_with, files_containing, get_json_with, send_json, spawn_app,
    spawn_app_with_config,
};
use agenttrace_store::{AccountStore, SqliteStore, TraceStore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Client;
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "copper-lantern-meadow-77";

async fn login_with(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    send_json(
        app.anonymous
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

async fn refresh(app: &TestApp, refresh_token: &Value) -> (u16, Value) {
    send_json(
        app.anonymous
            .post(app.url("/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh_token})),
    )
    .await
}

/// The status of `GET /api/v1/me` with `Authorization: Bearer <token>`.
async fn me_status(app: &TestApp, token: &str) -> u16 {
    get_json_with(&client_with(token), &app.url("/api/v1/me"))
        .await
        .0
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Registration

#[tokio::test]
async fn registration_first_user_is_admin_then_validated_accounts() {
    let app = spawn_app().await;
    let (status, me) = app.get_json("/api/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], OWNER);
    assert_eq!(
        me["is_admin"], true,
        "the first account is the instance admin"
    );

    // Registration is open in development: anyone may register, and may not make themselves
    // an admin.
    let register = |body: Value| {
        send_json(
            app.anonymous
                .post(app.url("/api/v1/auth/register"))
                .json(&body),
        )
    };
    let (status, body) =
        register(json!({"email": "  Second@Example.COM ", "password": PASSWORD, "is_admin": true}))
            .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "second@example.com");
    assert_eq!(body["is_admin"], false);
    assert!(
        body["id"].is_string() && body["created_at"].is_string(),
        "{body}"
    );
    assert!(body.get("password_hash").is_none(), "{body}");
    let personal = body["personal_project_id"].as_str().unwrap().to_owned();

    let pair = app.login("second@example.com").await;
    let (status, me) = get_json_with(&client_with(access(&pair)), &app.url("/api/v1/me")).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["is_admin"], false);
    assert_eq!(me["id"], body["id"]);
    assert_eq!(
        me["projects"],
        json!([{"id": personal, "name": "second@example.com's traces", "role": "owner", "personal": true}])
    );

    // The same address again, in any case, is taken.
    for email in ["second@example.com", "SECOND@example.com"] {
        let (status, body) = register(json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(status, 409, "{email}: {body}");
        assert_eq!(body["type"], "urn:agenttrace:problem:email-taken");
    }

    for (password, why) in [
        ("short-pw", "too short"),
        ("sunshine2024!", "common"),
        ("password1234", "common"),
        ("aaaaaaaaaaaaaaaa", "repetitive"),
        ("third-third-third", "contains the email"),
    ] {
        let (status, body) =
            register(json!({"email": "third@example.com", "password": password})).await;
        assert_eq!(status, 400, "{why} password {password:?}: {body}");
        assert_eq!(body["parameter"], "password", "{body}");
    }
    for email in [
        "not-an-email",
        "@example.com",
        "a@localhost",
        "two@@example.com",
        "sp ace@example.com",
        "",
    ] {
        let (status, body) = register(json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(status, 400, "{email:?}: {body}");
        assert_eq!(body["parameter"], "email", "{body}");
    }
    // None of the refused attempts created an account.
    let (status, _) = login_with(&app, "third@example.com", "third-third-third").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn registration_closed_leaves_account_creation_to_admins() {
    let app = spawn_app_with_config(|config| config.auth.allow_registration = Some(false)).await;
    // (The first account registered anonymously: the harness did it.)
    let register = |client: &Client, email: &str| {
        send_json(
            client
                .post(app.url("/api/v1/auth/register"))
                .json(&json!({"email": email, "password": PASSWORD})),
        )
    };
    let (status, body) = register(&app.anonymous, "walk-in@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["type"], "urn:agenttrace:problem:registration-closed");

    // The admin creates accounts, through register or /users.
    app.register("staff@example.com").await;
    let staff = app.client_for("staff@example.com").await;
    let (status, body) = register(&staff, "friend@example.com").await;
    assert_eq!(status, 403, "a non-admin cannot register others: {body}");
    let create_user = |client: &Client, email: &str, is_admin: bool| {
        send_json(
            client
                .post(app.url("/api/v1/users"))
                .json(&json!({"email": email, "password": PASSWORD, "is_admin": is_admin})),
        )
    };
    let (status, body) = create_user(&staff, "friend@example.com", false).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = create_user(&app.anonymous, "friend@example.com", false).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = create_user(&app.client, "deputy@example.com", true).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["is_admin"], true);

    for (email, exists) in [
        ("walk-in@example.com", false),
        ("friend@example.com", false),
        ("staff@example.com", true),
        ("deputy@example.com", true),
    ] {
        let (status, _) = login_with(&app, email, PASSWORD).await;
        assert_eq!(status == 200, exists, "{email}");
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in

#[tokio::test]
async fn login_returns_a_bearer_pair_and_me_shows_the_account() {
    let app = spawn_app().await;
    let (status, pair) = login_with(&app, " Owner@Example.com ", PASSWORD).await;
    assert_eq!(status, 200, "{pair}");
    let mut keys: Vec<_> = pair.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    assert_eq!(pair["token_type"], "bearer");
    assert_eq!(pair["expires_in"], 1800);
    assert_eq!(access(&pair).split('.').count(), 3, "a JWT: {pair}");
    assert!(pair["refresh_token"].as_str().unwrap().starts_with("atr_"));

    let (status, me) = get_json_with(&client_with(access(&pair)), &app.url("/api/v1/me")).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], OWNER);
    let projects = me["projects"].as_array().unwrap();
    let personal: Vec<_> = projects.iter().filter(|p| p["personal"] == true).collect();
    assert_eq!(personal.len(), 1, "{me}");
    assert_eq!(personal[0]["id"], app.project_id.as_str());
    assert_eq!(personal[0]["role"], "owner");
    assert!(me.get("password_hash").is_none() && me.get("security_stamp").is_none());

    let (status, body) = get_json_with(&app.anonymous, &app.url("/api/v1/me")).await;
    assert_eq!(status, 401, "{body}");

    // Neither the refresh token nor the password is kept in clear.
    for secret in [pair["refresh_token"].as_str().unwrap(), PASSWORD] {
        let found = files_containing(&app.data_dir, secret.as_bytes());
        assert!(found.is_empty(), "stored in clear in {found:?}");
    }
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let (unknown_status, unknown) = login_with(&app, "nobody@example.com", PASSWORD).await;
    let (wrong_status, wrong) = login_with(&app, OWNER, "not-the-password-at-all").await;
    assert_eq!(unknown_status, 401, "{unknown}");
    assert_eq!((wrong_status, &wrong), (unknown_status, &unknown));
    assert!(!wrong.to_string().contains(OWNER), "{wrong}");
    // The browser sign-in answers the same way.
    let (status, body) = send_json(
        app.anonymous
            .post(app.url("/api/v1/auth/session"))
            .json(&json!({"email": "nobody@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!((status, &body), (401, &unknown));
}

// ---------------------------------------------------------------------------------------------
// Access tokens

/// Builds `header.payload.signature` from JSON parts signed with HMAC under `alg`.
fn sign(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn payload_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Flips one character of the signature (the first: the last may only carry padding bits).
fn flip_signature(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let mut chars: Vec<char> = signature.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    format!("{rest}.{}", chars.into_iter().collect::<String>())
}

#[tokio::test]
async fn tampered_access_tokens_are_refused() {
    let app = spawn_app().await;
    let (other_id, _) = app.register("other@example.com").await;
    let pair = app.login(OWNER).await;
    let token = access(&pair).to_owned();
    let claims = payload_of(&token);
    // The development secret lives in the data folder; with it we can sign anything, which
    // shows each refusal below is about the claim or algorithm, not a bad signature.
    let secret = std::fs::read(app.data_dir.join("jwt-secret")).unwrap();
    let resigned = sign(Algorithm::HS256, &claims, &secret);
    assert_eq!(
        me_status(&app, &resigned).await,
        200,
        "control: re-signed as issued"
    );

    let mut parts = token.split('.');
    let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
    let with = |field: &str, value: Value| {
        let mut changed = claims.clone();
        changed[field] = value;
        changed
    };
    let now = claims["iat"].as_i64().unwrap();
    let mut without_stamp = claims.clone();
    without_stamp.as_object_mut().unwrap().remove("stamp");

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none, no signature",
            format!("{}.{payload}.", b64(&json!({"alg": "none", "typ": "JWT"}))),
        ),
        (
            "alg none, original signature",
            format!(
                "{}.{payload}.{}",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                token.rsplit('.').next().unwrap()
            ),
        ),
        (
            "HS512 with the real secret",
            sign(Algorithm::HS512, &claims, &secret),
        ),
        (
            "HS384 with the real secret",
            sign(Algorithm::HS384, &claims, &secret),
        ),
        ("flipped signature byte", flip_signature(&token)),
        (
            "payload changed to another user, signature kept",
            format!(
                "{header}.{}.{}",
                b64(&with("sub", json!(other_id))),
                token.rsplit('.').next().unwrap()
            ),
        ),
        (
            "exp pushed back, signature kept",
            format!(
                "{header}.{}.{}",
                b64(&with("exp", json!(now + 86_400 * 365))),
                token.rsplit('.').next().unwrap()
            ),
        ),
        (
            "signed with another secret",
            sign(
                Algorithm::HS256,
                &claims,
                b"another-secret-of-enough-length-0123456789",
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                &with("iss", json!("someone-else")),
                &secret,
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                &with("aud", json!("another-api")),
                &secret,
            ),
        ),
        (
            "web purpose",
            sign(Algorithm::HS256, &with("purpose", json!("web")), &secret),
        ),
        (
            "unknown purpose",
            sign(
                Algorithm::HS256,
                &with("purpose", json!("refresh")),
                &secret,
            ),
        ),
        (
            "stale security stamp",
            sign(
                Algorithm::HS256,
                &with("stamp", json!("old-stamp")),
                &secret,
            ),
        ),
        (
            "no security stamp",
            sign(Algorithm::HS256, &without_stamp, &secret),
        ),
        (
            "not yet valid",
            sign(Algorithm::HS256, &with("nbf", json!(now + 3600)), &secret),
        ),
        (
            "already expired",
            sign(Algorithm::HS256, &with("exp", json!(now - 1)), &secret),
        ),
        (
            "unknown user",
            sign(
                Algorithm::HS256,
                &with("sub", json!("no-such-user")),
                &secret,
            ),
        ),
        ("garbage", "garbage".to_owned()),
        ("three garbage parts", "a.b.c".to_owned()),
        ("header and payload only", format!("{header}.{payload}")),
        (
            "refresh token as access token",
            pair["refresh_token"].as_str().unwrap().to_owned(),
        ),
    ];
    for (what, forged) in &cases {
        let (status, body) = get_json_with(&client_with(forged), &app.url("/api/v1/me")).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(
            body["type"], "urn:agenttrace:problem:unauthorized",
            "{what}: {body}"
        );
    }
    // A `Bearer` with nothing after it is no credential either.
    let (status, _) = send_json(
        Client::new()
            .get(app.url("/api/v1/me"))
            .header("authorization", "Bearer "),
    )
    .await;
    assert_eq!(status, 401);

    // The genuine token still works, until 30 minutes have passed.
    assert_eq!(me_status(&app, &token).await, 200);
    app.clock.advance_secs(29 * 60);
    assert_eq!(me_status(&app, &token).await, 200);
    app.clock.advance_secs(2 * 60);
    assert_eq!(me_status(&app, &token).await, 401, "an expired token works");
    assert_eq!(me_status(&app, &resigned).await, 401);
}

#[tokio::test]
async fn tokens_of_a_deleted_user_are_refused() {
    let app = spawn_app().await;
    let (user_id, _) = app.register("leaver@example.com").await;
    let pair = app.login("leaver@example.com").await;
    assert_eq!(me_status(&app, access(&pair)).await, 200);

    // No endpoint deletes users (yet): delete it in the store, as the CLI would.
    let store = SqliteStore::open(&app.data_dir).await.unwrap();
    assert!(store.delete_user(&user_id).await.unwrap());
    store.close().await;

    let (status, body) = get_json_with(&client_with(access(&pair)), &app.url("/api/v1/me")).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = refresh(&app, &pair["refresh_token"]).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = login_with(&app, "leaver@example.com", PASSWORD).await;
    assert_eq!(status, 401);
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens

#[tokio::test]
async fn refresh_rotates_the_pair_and_the_old_token_stops_working() {
    let app = spawn_app().await;
    let first = app.login(OWNER).await;
    let (status, second) = refresh(&app, &first["refresh_token"]).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["token_type"], "bearer");
    assert_eq!(second["expires_in"], 1800);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(me_status(&app, access(&second)).await, 200);

    let (status, body) = refresh(&app, &first["refresh_token"]).await;
    assert_eq!(status, 401, "a rotated refresh token works again: {body}");
    for token in [json!("atr_made-up"), json!(""), json!(access(&first))] {
        let (status, body) = refresh(&app, &token).await;
        assert_eq!(status, 401, "{token}: {body}");
    }

    // A refresh token lasts 14 days.
    let pair = app.login(OWNER).await;
    app.clock.advance_secs(14 * 24 * 3600 - 60);
    let (status, next) = refresh(&app, &pair["refresh_token"]).await;
    assert_eq!(status, 200, "{next}");
    let late = app.login(OWNER).await;
    app.clock.advance_secs(14 * 24 * 3600 + 1);
    let (status, body) = refresh(&app, &late["refresh_token"]).await;
    assert_eq!(status, 401, "an expired refresh token works: {body}");
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_its_family() {
    let app = spawn_app().await;
    let a = app.login(OWNER).await;
    let elsewhere = app.login(OWNER).await;
    let (status, b) = refresh(&app, &a["refresh_token"]).await;
    assert_eq!(status, 200, "{b}");
    let (status, c) = refresh(&app, &b["refresh_token"]).await;
    assert_eq!(status, 200, "{c}");

    // A thief replays A: refused, and the newest token of the family dies with it.
    let (status, body) = refresh(&app, &a["refresh_token"]).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = refresh(&app, &c["refresh_token"]).await;
    assert_eq!(status, 401, "the family survived a reuse: {body}");
    let (status, body) = refresh(&app, &b["refresh_token"]).await;
    assert_eq!(status, 401, "{body}");

    // Other sign-ins are separate families.
    let (status, body) = refresh(&app, &elsewhere["refresh_token"]).await;
    assert_eq!(status, 200, "{body}");

    // The same token sent twice at once: at most one answer gets a new pair.
    let d = app.login(OWNER).await;
    let (first, second) = tokio::join!(
        refresh(&app, &d["refresh_token"]),
        refresh(&app, &d["refresh_token"])
    );
    let successes = [&first, &second].iter().filter(|(s, _)| *s == 200).count();
    assert!(
        successes <= 1,
        "one refresh token rotated twice: {first:?} {second:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Logout and password change

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    app.register("other@example.com").await;
    let a = app.login(OWNER).await;
    let b = app.login(OWNER).await;
    let logout = |token: &str, body: Value| {
        send_json(
            client_with(token)
                .post(app.url("/api/v1/auth/logout"))
                .json(&body),
        )
    };

    // Someone else cannot sign you out with your token.
    let other = app.login("other@example.com").await;
    let (status, _) = logout(access(&other), json!({"refresh_token": a["refresh_token"]})).await;
    assert_eq!(status, 204);
    let (status, a2) = refresh(&app, &a["refresh_token"]).await;
    assert_eq!(status, 200, "another user revoked the token: {a2}");

    let (status, body) = logout(access(&a2), json!({"refresh_token": a2["refresh_token"]})).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = refresh(&app, &a2["refresh_token"]).await;
    assert_eq!(status, 401, "a signed-out refresh token works: {body}");
    let (status, body) = refresh(&app, &b["refresh_token"]).await;
    assert_eq!(status, 200, "logout ended another session: {body}");

    let (status, _) = send_json(app.anonymous.post(app.url("/api/v1/auth/logout"))).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn logout_all_revokes_every_session_and_access_token() {
    let app = spawn_app().await;
    let a = app.login(OWNER).await;
    let b = app.login(OWNER).await;
    let (cookie, _) = web_session(&app, OWNER, PASSWORD).await;
    assert_eq!(cookie_get(&app, &cookie, "/api/v1/me").await.0, 200);

    // No body needed.
    let (status, body) =
        send_json(client_with(access(&a)).post(app.url("/api/v1/auth/logout?all=true"))).await;
    assert_eq!(status, 204, "{body}");
    for (what, pair) in [("this", &a), ("the other", &b)] {
        assert_eq!(
            me_status(&app, access(pair)).await,
            401,
            "{what} access token"
        );
        let (status, _) = refresh(&app, &pair["refresh_token"]).await;
        assert_eq!(status, 401, "{what} refresh token");
    }
    assert_eq!(
        cookie_get(&app, &cookie, "/api/v1/me").await.0,
        401,
        "the browser session"
    );
    assert_eq!(me_status(&app, &app.owner_token).await, 401);

    let fresh = app.login(OWNER).await;
    assert_eq!(me_status(&app, access(&fresh)).await, 200);
}

#[tokio::test]
async fn password_change_ends_other_sessions_and_old_tokens() {
    let app = spawn_app().await;
    let email = "changer@example.com";
    app.register(email).await;
    let a = app.login(email).await;
    let b = app.login(email).await;
    let (cookie, _) = web_session(&app, email, PASSWORD).await;
    let change = |current: &str, new: &str| {
        send_json(
            client_with(access(&a))
                .post(app.url("/api/v1/auth/password"))
                .json(&json!({"current_password": current, "new_password": new})),
        )
    };

    let (status, body) = change("not-my-password-at-all", NEW_PASSWORD).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = change(PASSWORD, "short").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["parameter"], "new_password");
    assert_eq!(
        me_status(&app, access(&b)).await,
        200,
        "refusals change nothing"
    );

    let (status, new_pair) = change(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{new_pair}");

    let (status, _) = login_with(&app, email, PASSWORD).await;
    assert_eq!(status, 401, "the old password still works");
    let (status, body) = login_with(&app, email, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    for (what, pair) in [("this session's", &a), ("another session's", &b)] {
        assert_eq!(
            me_status(&app, access(pair)).await,
            401,
            "{what} old access token"
        );
        let (status, _) = refresh(&app, &pair["refresh_token"]).await;
        assert_eq!(status, 401, "{what} old refresh token");
    }
    assert_eq!(
        cookie_get(&app, &cookie, "/api/v1/me").await.0,
        401,
        "a browser session survived the password change"
    );
    assert_eq!(me_status(&app, access(&new_pair)).await, 200);
    let (status, body) = refresh(&app, &new_pair["refresh_token"]).await;
    assert_eq!(status, 200, "the new pair's refresh token: {body}");
}

// ---------------------------------------------------------------------------------------------
// Lockout

#[tokio::test]
async fn five_failures_lock_the_account_for_fifteen_minutes() {
    let app = spawn_app().await;
    let email = "target@example.com";
    app.register(email).await;
    let before = app.login(email).await;
    let (_, wrong_answer) = login_with(&app, email, "wrong-password-number-0").await;

    // Four failures (one above, three here) do not lock.
    for i in 1..4 {
        let (status, _) = login_with(&app, email, &format!("wrong-password-number-{i}")).await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        me_status(&app, access(&before)).await,
        200,
        "locked too early"
    );

    let (status, _) = login_with(&app, email, "wrong-password-number-4").await;
    assert_eq!(status, 401);
    // Locked: the right password is refused with the same answer as a wrong one.
    let (status, body) = login_with(&app, email, PASSWORD).await;
    assert_eq!(
        (status, &body),
        (401, &wrong_answer),
        "the right password works while locked"
    );
    let (status, body) = send_json(
        app.anonymous
            .post(app.url("/api/v1/auth/session"))
            .json(&json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, 401, "a browser sign-in works while locked: {body}");
    // The lock also ends what was issued before it.
    assert_eq!(
        me_status(&app, access(&before)).await,
        401,
        "old access token"
    );
    let (status, _) = refresh(&app, &before["refresh_token"]).await;
    assert_eq!(status, 401, "old refresh token");
    // Other accounts are not affected.
    assert_eq!(login_with(&app, OWNER, PASSWORD).await.0, 200);

    app.clock.advance_secs(14 * 60);
    let (status, _) = login_with(&app, email, PASSWORD).await;
    assert_eq!(status, 401, "the lock ended before 15 minutes");
    app.clock.advance_secs(61);
    let (status, pair) = login_with(&app, email, PASSWORD).await;
    assert_eq!(status, 200, "still locked after 15 minutes: {pair}");
    assert_eq!(me_status(&app, access(&pair)).await, 200);
    assert_eq!(
        me_status(&app, access(&before)).await,
        401,
        "a token from before the lock works again"
    );

    // A success resets the count: four more failures do not lock again.
    for i in 0..4 {
        let (status, _) = login_with(&app, email, &format!("again-wrong-password-{i}")).await;
        assert_eq!(status, 401);
    }
    assert_eq!(login_with(&app, email, PASSWORD).await.0, 200);
}

// ---------------------------------------------------------------------------------------------
// Browser sessions and CSRF

/// Signs a browser in; returns the `Cookie` header value to send and the CSRF token.
async fn web_session(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let response = app
        .anonymous
        .post(app.url("/api/v1/auth/session"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let pair = set_cookie.split(';').next().unwrap().trim().to_owned();
    (pair, body["csrf_token"].as_str().unwrap().to_owned())
}

async fn cookie_get(app: &TestApp, cookie: &str, path: &str) -> (u16, Value) {
    send_json(app.anonymous.get(app.url(path)).header("cookie", cookie)).await
}

#[tokio::test]
async fn browser_session_uses_a_strict_http_only_cookie_and_csrf() {
    let app = spawn_app().await;
    let response = app
        .anonymous
        .post(app.url("/api/v1/auth/session"))
        .json(&json!({"email": OWNER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    assert!(
        attributes[0].starts_with("agenttrace_session="),
        "{set_cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            attributes.contains(&attribute),
            "{attribute} missing: {set_cookie}"
        );
    }
    let cookie = attributes[0].to_owned();
    let session_token = cookie.split_once('=').unwrap().1.to_owned();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert!(csrf.len() >= 32, "{body}");
    assert!(
        !set_cookie.contains(&csrf),
        "the CSRF token must not be in the cookie"
    );

    let (status, me) = cookie_get(&app, &cookie, "/api/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], OWNER);
    // A browser behind a basic-auth proxy sends `Authorization: Basic` on every request.
    let (status, body) = send_json(
        app.anonymous
            .get(app.url("/api/v1/me"))
            .header("cookie", &cookie)
            .header("authorization", "Basic dXNlcjpwcm94eS1wYXNzd29yZA=="),
    )
    .await;
    assert_eq!(
        status, 200,
        "the cookie next to a Basic Authorization: {body}"
    );
    let (status, _) = cookie_get(&app, "agenttrace_session=atr_made-up", "/api/v1/me").await;
    assert_eq!(status, 401);
    // The cookie's token is neither an access token nor a refresh token.
    assert_eq!(me_status(&app, &session_token).await, 401);
    assert_eq!(refresh(&app, &json!(session_token)).await.0, 401);

    let origin = format!("http://{}", app.addr);
    let look_alike = format!("{origin}.evil.example");
    let create = |name: &str, csrf: Option<&str>, origin: Option<&str>| {
        let mut request = app
            .anonymous
            .post(app.url("/api/v1/projects"))
            .header("cookie", &cookie)
            .json(&json!({"name": name}));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        send_json(request)
    };
    for (what, csrf, origin) in [
        ("no CSRF token", None, Some(origin.as_str())),
        (
            "a wrong CSRF token",
            Some("not-the-token"),
            Some(origin.as_str()),
        ),
        ("an empty CSRF token", Some(""), Some(origin.as_str())),
        (
            "a foreign Origin",
            Some(csrf.as_str()),
            Some("http://evil.example"),
        ),
        (
            "a look-alike Origin",
            Some(csrf.as_str()),
            Some(look_alike.as_str()),
        ),
        ("a null Origin", Some(csrf.as_str()), Some("null")),
    ] {
        let (status, body) = create(&format!("refused: {what}"), csrf, origin).await;
        assert_eq!(status, 403, "{what}: {body}");
        assert_eq!(
            body["type"], "urn:agenttrace:problem:csrf",
            "{what}: {body}"
        );
    }
    let (status, body) = create("with the token", Some(&csrf), Some(&origin)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = create("token, no Origin", Some(&csrf), None).await;
    assert_eq!(status, 201, "{body}");
    let (_, projects) = cookie_get(&app, &cookie, "/api/v1/projects").await;
    let names: Vec<&str> = projects["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"with the token"), "{projects}");
    assert!(
        !names.iter().any(|n| n.starts_with("refused")),
        "{projects}"
    );

    // Signing out is a change too: it needs the token; then the cookie is dead.
    let end = |csrf: Option<&str>| {
        let mut request = app
            .anonymous
            .delete(app.url("/api/v1/auth/session"))
            .header("cookie", &cookie)
            .header("origin", &origin);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    assert_eq!(end(None).await.unwrap().status(), 403);
    assert_eq!(cookie_get(&app, &cookie, "/api/v1/me").await.0, 200);
    let response = end(Some(&csrf)).await.unwrap();
    assert_eq!(response.status(), 204);
    let cleared = response
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        cleared.starts_with("agenttrace_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, body) = cookie_get(&app, &cookie, "/api/v1/me").await;
    assert_eq!(status, 401, "the session outlived its sign-out: {body}");
    let (status, _) = create("after sign-out", Some(&csrf), Some(&origin)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_cannot_slip_past_the_lockout() {
    let app = spawn_app().await;
    app.register("burst@example.com").await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..12 {
        let client = app.anonymous.clone();
        let url = app.url("/api/v1/auth/login");
        guesses.spawn(async move {
            client
                .post(url)
                .json(&json!({"email": "burst@example.com", "password": format!("wrong guess number {i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    // The right password races in with the burst: it may win or lose, but it must not clear
    // the lock the burst causes.
    let (_, _) = login_with(&app, "burst@example.com", PASSWORD).await;
    while let Some(status) = guesses.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    let (after, _) = login_with(&app, "burst@example.com", PASSWORD).await;
    assert_eq!(
        after, 401,
        "12 failures lock the account, whatever the interleaving"
    );
    app.clock.advance_secs(15 * 60 + 1);
    let (later, _) = login_with(&app, "burst@example.com", PASSWORD).await;
    assert_eq!(later, 200, "the lock expires");
}

#[tokio::test]
async fn only_recent_failures_count_toward_a_lock() {
    let app = spawn_app().await;
    app.register("slow@example.com").await;
    for _ in 0..4 {
        let (status, _) = login_with(&app, "slow@example.com", "a wrong guess here").await;
        assert_eq!(status, 401);
    }
    // Older than the 15-minute window: these four no longer count.
    app.clock.advance_secs(16 * 60);
    for _ in 0..4 {
        let (status, _) = login_with(&app, "slow@example.com", "another wrong guess").await;
        assert_eq!(status, 401);
    }
    let (status, _) = login_with(&app, "slow@example.com", PASSWORD).await;
    assert_eq!(
        status, 200,
        "8 failures spread over 16 minutes must not lock the account"
    );
}
