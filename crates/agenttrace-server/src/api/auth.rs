//! Accounts and sessions: register, sign in, refresh, sign out, change password, who am I,
//! browser sessions, and admin-created users.

use crate::app::AppState;
use crate::auth::jwt::TokenPurpose;
use crate::auth::password::{check_password_policy, hash_password, verify_password};
use crate::auth::tokens::{csrf_for_session, hash_token, new_refresh_token};
use crate::principal::{ClientIp, MaybePrincipal, Principal, SESSION_COOKIE, Via};
use crate::problem::Problem;
use agenttrace_store::{CreatedUser, NewUser, Session, SessionKind, User, new_id};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use utoipa::ToSchema;

/// The same answer for an unknown email, a wrong password and a locked account, so none of
/// them tells an attacker which accounts exist.
const BAD_CREDENTIALS: &str =
    "wrong email or password, or the account is temporarily locked after repeated failures";

#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAccount {
    pub email: String,
    pub password: String,
    /// Admins creating a user may make them an instance admin.
    #[serde(default)]
    pub is_admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// The refresh token to revoke (its whole family).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogoutParams {
    /// Revoke every session of the user, everywhere.
    #[serde(default)]
    pub all: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDto {
    pub id: String,
    pub email: String,
    pub is_admin: bool,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectRoleDto {
    pub id: String,
    pub name: String,
    pub role: String,
    pub personal: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub account: AccountDto,
    pub projects: Vec<ProjectRoleDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    #[serde(flatten)]
    pub account: AccountDto,
    /// The project created for the new user.
    pub personal_project_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebSession {
    /// Send this in the `x-csrf-token` header of every change made with the session cookie.
    pub csrf_token: String,
    pub expires_in: u64,
}

fn account_dto(user: &User) -> AccountDto {
    AccountDto {
        id: user.id.clone(),
        email: user.email.clone(),
        is_admin: user.is_admin,
        created_at: agenttrace_core::timefmt::format_us(user.created_at_us),
    }
}

/// Lowercases and checks an email address.
fn normalise_email(raw: &str) -> Result<String, Problem> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(Problem::bad_parameter(
            "email",
            "enter an email address such as ada@example.com",
        ))
    }
}

fn new_stamp() -> String {
    new_id()
}

/// Register an account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Created", body = Registered),
        (status = 400, description = "Invalid email or weak password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Registration is closed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register(
    State(state): State<AppState>,
    MaybePrincipal(caller): MaybePrincipal,
    Json(body): Json<NewAccount>,
) -> Result<(StatusCode, Json<Registered>), Problem> {
    let caller_is_admin = caller
        .as_ref()
        .and_then(Principal::user)
        .is_some_and(|u| u.is_admin);
    // With registration closed, only the instance's first account may register; the store
    // decides that inside its transaction, so two racing first registrations cannot both pass.
    let only_if_first = !(state.registration_open || caller_is_admin);
    create_account(
        &state,
        &body.email,
        &body.password,
        body.is_admin && caller_is_admin,
        only_if_first,
    )
    .await
}

/// Create a user (instance admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "auth", request_body = NewAccount,
    responses(
        (status = 201, description = "Created", body = Registered),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is taken", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewAccount>,
) -> Result<(StatusCode, Json<Registered>), Problem> {
    let is_admin = principal.user().is_some_and(|u| u.is_admin);
    crate::principal::deny_unless(is_admin, &principal, "create users")?;
    create_account(&state, &body.email, &body.password, body.is_admin, false).await
}

/// Creates an account after checking the email and the password policy.
pub async fn create_account(
    state: &AppState,
    email: &str,
    password: &str,
    is_admin: bool,
    only_if_first: bool,
) -> Result<(StatusCode, Json<Registered>), Problem> {
    let email = normalise_email(email)?;
    check_password_policy(password, &email)
        .map_err(|e| Problem::bad_parameter("password", e.to_string()))?;
    let password_hash = hash_password(password.to_owned())
        .await
        .map_err(|e| Problem::internal(&e))?;
    let stamp = new_stamp();
    let created = state
        .store
        .create_user(NewUser {
            email: &email,
            password_hash: &password_hash,
            security_stamp: &stamp,
            is_admin,
            only_if_first,
        })
        .await?;
    let (user, project) = match created {
        CreatedUser::Created(user, project) => (user, project),
        CreatedUser::EmailTaken => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "email-taken",
                "an account with this email already exists; sign in instead",
            ));
        }
        CreatedUser::NotFirst => {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "registration-closed",
                "registration is closed on this server; ask an admin to create your account",
            ));
        }
    };
    tracing::info!(target: "security", event = "user_registered", user_id = %user.id, is_admin = user.is_admin, "account created");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            account: account_dto(&user),
            personal_project_id: project.id,
        }),
    ))
}

/// Counts recent sign-in failures per client address and slows down addresses that keep
/// failing. Memory is bounded: past `MAX_TRACKED` addresses the oldest entries are dropped.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<IpAddr, (u32, i64)>>,
}

impl LoginThrottle {
    const WINDOW_US: i64 = 15 * 60 * 1_000_000;
    const FREE_FAILURES: u32 = 5;
    const MAX_TRACKED: usize = 10_000;

    fn delay(&self, ip: Option<IpAddr>, now_us: i64) -> Duration {
        let (Some(ip), Ok(failures)) = (ip, self.failures.lock()) else {
            return Duration::ZERO;
        };
        match failures.get(&ip) {
            Some((count, since))
                if now_us - since < Self::WINDOW_US && *count > Self::FREE_FAILURES =>
            {
                Duration::from_millis(250 * u64::from((*count - Self::FREE_FAILURES).min(12)))
            }
            _ => Duration::ZERO,
        }
    }

    fn record(&self, ip: Option<IpAddr>, failed: bool, now_us: i64) {
        let (Some(ip), Ok(mut failures)) = (ip, self.failures.lock()) else {
            return;
        };
        // A success does not clear the address's count: an attacker signing in to their own
        // account between guesses must not reset the slow-down. Counts expire with the window.
        if !failed {
            return;
        }
        if failures.len() >= Self::MAX_TRACKED {
            failures.retain(|_, (_, since)| now_us - *since < Self::WINDOW_US);
            if failures.len() >= Self::MAX_TRACKED {
                failures.clear();
            }
        }
        let entry = failures.entry(ip).or_insert((0, now_us));
        if now_us - entry.1 >= Self::WINDOW_US {
            *entry = (0, now_us);
        }
        entry.0 += 1;
    }
}

/// Checks credentials with the same work for every outcome; updates failure counts and locks.
pub(crate) async fn authenticate(
    state: &AppState,
    body: &Credentials,
    ip: Option<IpAddr>,
) -> Result<User, Problem> {
    let now = state.clock.now_us();
    let delay = state.login_throttle.delay(ip, now);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let email = body.email.trim().to_lowercase();
    let user = state.store.user_by_email(&email).await?;
    let matches = verify_password(
        body.password.clone(),
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await
    .map_err(|e| Problem::internal(&e))?;
    let refuse = || {
        tracing::warn!(target: "security", event = "auth_failure", "sign-in failed");
        Problem::new(StatusCode::UNAUTHORIZED, "bad-credentials", BAD_CREDENTIALS)
    };
    let locked_at = |user: &User, now: i64| user.locked_until_us.is_some_and(|t| t > now);
    let Some(user) = user else {
        state.login_throttle.record(ip, true, now);
        return Err(refuse());
    };
    if !matches {
        state.login_throttle.record(ip, true, now);
        if !locked_at(&user, now) {
            record_failure(state, &user, now).await?;
        }
        return Err(refuse());
    }
    // Read the account again after the (slow) password check: a lock written meanwhile by
    // parallel failures must win over this success, and tokens must carry the current stamp.
    let now = state.clock.now_us();
    let user = state
        .store
        .user_by_id(&user.id)
        .await?
        .filter(|u| !locked_at(u, now))
        .ok_or_else(refuse)?;
    if user.failed_logins > 0 || user.locked_until_us.is_some() {
        state.store.reset_login_failures(&user.id, now).await?;
    }
    tracing::info!(target: "security", event = "auth_success", user_id = %user.id, "signed in");
    Ok(user)
}

/// Counts a failed sign-in (atomically, in the store) and logs the lock it may cause.
async fn record_failure(state: &AppState, user: &User, now: i64) -> Result<(), Problem> {
    // The lockout duration is also the window in which failures count toward a lock.
    let window = ttl_us(state.auth.lockout_duration);
    // A new stamp ends every access token already issued to the account; the store revokes its
    // sessions in the same transaction.
    let locked = state
        .store
        .record_login_failure(
            &user.id,
            state.auth.lockout_threshold,
            now,
            window,
            &new_stamp(),
        )
        .await?;
    if locked {
        tracing::warn!(target: "security", event = "account_locked", user_id = %user.id, "account locked after repeated sign-in failures");
    }
    Ok(())
}

fn ttl_us(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)
}

/// A session row for a new token (stored as a hash), valid for the refresh lifetime.
fn new_session(
    state: &AppState,
    user: &User,
    kind: SessionKind,
    family_id: String,
    token: &str,
    csrf: Option<&str>,
) -> Session {
    let now = state.clock.now_us();
    Session {
        id: new_id(),
        user_id: user.id.clone(),
        family_id,
        kind,
        token_hash: hash_token(token),
        csrf_hash: csrf.map(hash_token),
        created_at_us: now,
        expires_at_us: now.saturating_add(ttl_us(state.auth.refresh_ttl)),
        rotated_at_us: None,
        revoked_at_us: None,
    }
}

/// Issues an access token and a refresh token of a new (or the given) family.
async fn issue_pair(
    state: &AppState,
    user: &User,
    family: Option<&str>,
) -> Result<(TokenPair, Session), Problem> {
    let refresh = new_refresh_token();
    let session = new_session(
        state,
        user,
        SessionKind::Refresh,
        family.map_or_else(new_id, str::to_owned),
        &refresh,
        None,
    );
    let (access, _) = state
        .jwt
        .issue(
            &user.id,
            &user.security_stamp,
            TokenPurpose::Access,
            state.auth.access_ttl,
            state.clock.now_unix(),
        )
        .map_err(|e| Problem::internal(&e))?;
    Ok((
        TokenPair {
            access_token: access,
            refresh_token: refresh,
            token_type: "bearer".to_owned(),
            expires_in: state.auth.access_ttl.as_secs(),
        },
        session,
    ))
}

/// Sign in; returns an access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 401, description = "Wrong credentials or locked account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Credentials>,
) -> Result<Json<TokenPair>, Problem> {
    let user = authenticate(&state, &body, ip).await?;
    let (pair, session) = issue_pair(&state, &user, None).await?;
    state.store.insert_session(&session).await?;
    Ok(Json(pair))
}

fn refresh_refused() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid-refresh-token",
        "the refresh token is not valid, has expired or was already used; sign in again",
    )
}

/// Trade a refresh token for a new pair; the old refresh token stops working.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair", body = TokenPair),
        (status = 401, description = "Invalid, expired, revoked or reused token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<Json<TokenPair>, Problem> {
    let now = state.clock.now_us();
    let session = state
        .store
        .session_by_token_hash(&hash_token(&body.refresh_token))
        .await?
        .filter(|s| s.kind == SessionKind::Refresh)
        .ok_or_else(refresh_refused)?;
    if session.rotated_at_us.is_some() {
        // A token used twice means it was stolen (or the client is broken): end the family.
        state
            .store
            .revoke_session_family(&session.family_id, now)
            .await?;
        tracing::warn!(target: "security", event = "token_reuse_detected", user_id = %session.user_id, family = %session.family_id, "a rotated refresh token was presented again; its family is revoked");
        return Err(refresh_refused());
    }
    if session.revoked_at_us.is_some() || session.expires_at_us <= now {
        return Err(refresh_refused());
    }
    let user = state
        .store
        .user_by_id(&session.user_id)
        .await?
        .filter(|u| u.locked_until_us.is_none_or(|t| t <= now))
        .ok_or_else(refresh_refused)?;
    let (pair, next) = issue_pair(&state, &user, Some(&session.family_id)).await?;
    if !state.store.rotate_session(&session.id, &next, now).await? {
        state
            .store
            .revoke_session_family(&session.family_id, now)
            .await?;
        tracing::warn!(target: "security", event = "token_reuse_detected", user_id = %session.user_id, family = %session.family_id, "a refresh token was used twice at once; its family is revoked");
        return Err(refresh_refused());
    }
    Ok(Json(pair))
}

/// Sign out: revoke a refresh token, or with `?all=true` every session of the user.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", params(LogoutParams),
    request_body(content = LogoutRequest, description = "Optional: the refresh token to revoke"),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<LogoutParams>,
    body: Option<Json<LogoutRequest>>,
) -> Result<Response, Problem> {
    let Principal::User { user, via } = &principal else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "not-a-session",
            "API keys have no session to end; revoke the key instead",
        ));
    };
    let now = state.clock.now_us();
    if params.all.unwrap_or(false) {
        state
            .store
            .revoke_user_sessions(&user.id, None, now)
            .await?;
        state
            .store
            .set_login_state(
                &user.id,
                user.failed_logins,
                user.locked_until_us,
                Some(&new_stamp()),
            )
            .await?;
        tracing::info!(target: "security", event = "logout_all", user_id = %user.id, "every session revoked");
    } else {
        if let Some(Json(LogoutRequest {
            refresh_token: Some(token),
        })) = &body
            && let Some(session) = state
                .store
                .session_by_token_hash(&hash_token(token))
                .await?
            && session.user_id == user.id
        {
            state
                .store
                .revoke_session_family(&session.family_id, now)
                .await?;
        }
        if let Via::Cookie { family_id } = via {
            state.store.revoke_session_family(family_id, now).await?;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if matches!(via, Via::Cookie { .. }) || params.all.unwrap_or(false) {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, clear_cookie());
    }
    Ok(response)
}

/// Change the password; every other session is revoked and a new pair is returned.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; use the new tokens", body = TokenPair),
        (status = 400, description = "Weak new password", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong current password", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<PasswordChange>,
) -> Result<Json<TokenPair>, Problem> {
    let Principal::User { user, via } = &principal else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "not-a-user",
            "API keys have no password",
        ));
    };
    let matches = verify_password(
        body.current_password.clone(),
        Some(user.password_hash.clone()),
    )
    .await
    .map_err(|e| Problem::internal(&e))?;
    if !matches {
        // A stolen access token must not allow unlimited guesses of the password.
        record_failure(&state, user, state.clock.now_us()).await?;
        tracing::warn!(target: "security", event = "auth_failure", user_id = %user.id, "wrong current password on password change");
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "bad-credentials",
            "the current password is wrong",
        ));
    }
    check_password_policy(&body.new_password, &user.email)
        .map_err(|e| Problem::bad_parameter("new_password", e.to_string()))?;
    let hash = hash_password(body.new_password.clone())
        .await
        .map_err(|e| Problem::internal(&e))?;
    let stamp = new_stamp();
    state.store.set_password(&user.id, &hash, &stamp).await?;
    let now = state.clock.now_us();
    let keep = match via {
        Via::Cookie { family_id } => Some(family_id.as_str()),
        Via::AccessToken => None,
    };
    state
        .store
        .revoke_user_sessions(&user.id, keep, now)
        .await?;
    tracing::info!(target: "security", event = "password_changed", user_id = %user.id, "password changed; other sessions revoked");
    let mut updated = user.clone();
    updated.security_stamp = stamp;
    let (pair, session) = issue_pair(&state, &updated, None).await?;
    state.store.insert_session(&session).await?;
    Ok(Json(pair))
}

/// The signed-in user and their projects.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth",
    responses(
        (status = 200, description = "The account", body = Me),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(State(state): State<AppState>, principal: Principal) -> Result<Json<Me>, Problem> {
    let Principal::User { user, .. } = &principal else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "not-a-user",
            "this is an API key, not an account",
        ));
    };
    let projects = state.store.projects_of(&user.id).await?;
    Ok(Json(Me {
        account: account_dto(user),
        projects: projects
            .into_iter()
            .map(|(p, role)| ProjectRoleDto {
                personal: p.personal_of.as_deref() == Some(user.id.as_str()),
                id: p.id,
                name: p.name,
                role: role.as_str().to_owned(),
            })
            .collect(),
    }))
}

fn session_cookie_header(state: &AppState, token: &str) -> Result<HeaderValue, Problem> {
    let secure = if state.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        state.auth.refresh_ttl.as_secs()
    );
    HeaderValue::from_str(&value).map_err(|e| Problem::internal(&e))
}

pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("agenttrace_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Starts a browser session for `user`: returns its `Set-Cookie` value and its CSRF token.
pub(crate) async fn start_web_session(
    state: &AppState,
    user: &User,
) -> Result<(HeaderValue, String), Problem> {
    let token = new_refresh_token();
    let csrf = csrf_for_session(&token);
    let session = new_session(state, user, SessionKind::Web, new_id(), &token, Some(&csrf));
    state.store.insert_session(&session).await?;
    Ok((session_cookie_header(state, &token)?, csrf))
}

/// Sign in a browser: sets an `HttpOnly`, `SameSite=Strict` session cookie and returns the CSRF
/// token that changes made with it must carry.
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = WebSession),
        (status = 401, description = "Wrong credentials or locked account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<Credentials>,
) -> Result<Response, Problem> {
    let user = authenticate(&state, &body, ip).await?;
    let (cookie, csrf) = start_web_session(&state, &user).await?;
    let mut response = Json(WebSession {
        csrf_token: csrf,
        expires_in: state.auth.refresh_ttl.as_secs(),
    })
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Sign a browser out: revokes the session and clears the cookie.
#[utoipa::path(delete, path = "/api/v1/auth/session", tag = "auth",
    responses((status = 204, description = "Signed out")))]
pub async fn delete_session(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, Problem> {
    if let Principal::User {
        via: Via::Cookie { family_id },
        ..
    } = &principal
    {
        state
            .store
            .revoke_session_family(family_id, state.clock.now_us())
            .await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_success_does_not_reset_an_address_that_keeps_failing() {
        let throttle = LoginThrottle::default();
        let ip = Some(IpAddr::from([10, 0, 0, 7]));
        let now = 1_000_000_000;
        for _ in 0..8 {
            throttle.record(ip, true, now);
        }
        let slowed = throttle.delay(ip, now);
        assert!(slowed > Duration::ZERO);
        throttle.record(ip, false, now);
        assert_eq!(throttle.delay(ip, now), slowed);
        assert_eq!(
            throttle.delay(ip, now + LoginThrottle::WINDOW_US),
            Duration::ZERO
        );
        assert_eq!(
            throttle.delay(Some(IpAddr::from([10, 0, 0, 8])), now),
            Duration::ZERO
        );
    }
}
