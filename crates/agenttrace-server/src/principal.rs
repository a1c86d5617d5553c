//! Who is calling, and what they may do.
//!
//! A request authenticates with one of: an access token (`Authorization: Bearer <JWT>`), an API
//! key (`Authorization: Bearer atk_…` or `x-api-key`), or a browser session cookie. A cookie
//! request that changes state must also carry the session's CSRF token (`x-csrf-token`) and, when
//! the browser sends one, an `Origin` that matches the host. Access to a project's data is decided
//! here; a project the caller cannot see answers 404, so ids cannot be probed.

use crate::app::AppState;
use crate::auth::jwt::TokenPurpose;
use crate::auth::tokens::{csrf_for_session, hash_token, tokens_equal};
use crate::layers::{ClientAddr, RateLimitSlot, too_many_requests};
use crate::problem::Problem;
use crate::security::rate_limit::LimitClass;
use agenttrace_store::{ApiKey, KeyScope, Role, SessionKind, User};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use std::net::{IpAddr, SocketAddr};

/// The name of the browser session cookie.
pub const SESSION_COOKIE: &str = "agenttrace_session";
/// The header a cookie-authenticated request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// API keys start with this, so a bearer credential is told apart from a JWT without a lookup.
pub const API_KEY_PREFIX: &str = "atk_";

/// How a user proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    AccessToken,
    /// A browser session; the family id identifies the session across rotations.
    Cookie {
        family_id: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    User { user: User, via: Via },
    Key(ApiKey),
}

/// What a caller may do in one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub read: bool,
    pub write: bool,
    pub manage: bool,
    pub owner: bool,
}

impl Principal {
    pub fn user(&self) -> Option<&User> {
        match self {
            Principal::User { user, .. } => Some(user),
            Principal::Key(_) => None,
        }
    }

    /// Who to record as the author of what this caller creates.
    pub fn actor(&self) -> String {
        match self {
            Principal::User { user, .. } => format!("user:{}", user.id),
            Principal::Key(key) => format!("key:{}", key.id),
        }
    }

    /// What this caller may do in `project_id`; `None` when it has nothing to do with it.
    pub async fn access(
        &self,
        state: &AppState,
        project_id: &str,
    ) -> Result<Option<Access>, Problem> {
        match self {
            Principal::User { user, .. } => {
                let role = state.store.role_of(project_id, &user.id).await?;
                Ok(role.map(|role| Access {
                    read: true,
                    write: role.can_write(),
                    manage: role.can_manage(),
                    owner: role == Role::Owner,
                }))
            }
            Principal::Key(key) if key.project_id == project_id => Ok(Some(Access {
                read: key.scope == KeyScope::Read,
                write: key.scope == KeyScope::Ingest,
                manage: false,
                owner: false,
            })),
            Principal::Key(_) => Ok(None),
        }
    }

    /// The projects whose traces this caller may read.
    pub async fn readable_projects(&self, state: &AppState) -> Result<Vec<String>, Problem> {
        match self {
            Principal::User { user, .. } => Ok(state
                .store
                .projects_of(&user.id)
                .await?
                .into_iter()
                .map(|(project, _)| project.id)
                .collect()),
            Principal::Key(key) if key.scope == KeyScope::Read => Ok(vec![key.project_id.clone()]),
            Principal::Key(_) => Ok(Vec::new()),
        }
    }

    /// The caller's access to a project, or 404 when it has none (never 403: ids cannot be
    /// probed).
    pub async fn require(
        &self,
        state: &AppState,
        project_id: &str,
        what: &str,
    ) -> Result<Access, Problem> {
        self.access(state, project_id)
            .await?
            .ok_or_else(|| Problem::not_found(what))
    }
}

/// Refuses an action the caller's access does not allow, logging `permission_denied`.
pub fn deny_unless(allowed: bool, principal: &Principal, action: &str) -> Result<(), Problem> {
    if allowed {
        return Ok(());
    }
    tracing::warn!(
        target: "security",
        event = "permission_denied",
        principal = %principal.actor(),
        action,
        "permission denied"
    );
    Err(Problem::new(
        StatusCode::FORBIDDEN,
        "permission-denied",
        format!("your role or key does not allow you to {action}"),
    ))
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

/// The client's address: as the request-context layer resolved it (forwarding headers believed
/// only from trusted proxies), else the socket's peer.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    if let Some(ClientAddr(ip)) = parts.extensions.get::<ClientAddr>() {
        return *ip;
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The client's address as an extractor; `None` when the server was not given it.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// Whether the credential this request will be authenticated with is an API key (the one
/// parser decides, so the rate-limit layer and authentication cannot disagree).
pub fn uses_api_key(headers: &HeaderMap) -> bool {
    matches!(credential(headers), Some(Credential::ApiKey(_)))
}

/// The credential a request carries, before it is checked.
enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
    Cookie(String),
}

fn credential(headers: &HeaderMap) -> Option<Credential<'_>> {
    // Another scheme (say `Basic`, from a reverse proxy with basic auth in front) is not ours:
    // it must not hide an `x-api-key` or the session cookie.
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
    {
        return Some(if token.starts_with(API_KEY_PREFIX) {
            Credential::ApiKey(token)
        } else {
            Credential::Bearer(token)
        });
    }
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(Credential::ApiKey(key.trim()));
    }
    cookie(headers, SESSION_COOKIE).map(Credential::Cookie)
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The value of one cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let principal = match credential(&parts.headers) {
            None => {
                return Err(unauthorized(
                    "sign in: send an access token or API key as `Authorization: Bearer …`",
                ));
            }
            Some(Credential::ApiKey(key)) => api_key(state, key).await?,
            Some(Credential::Bearer(token)) => access_token(state, token).await?,
            Some(Credential::Cookie(token)) => session_cookie(state, parts, &token).await?,
        };
        tracing::Span::current().record("principal", principal.actor().as_str());
        limit(state, parts, &principal).await?;
        Ok(principal)
    }
}

/// The limit per principal: the API per user, ingestion per API key.
async fn limit(state: &AppState, parts: &Parts, principal: &Principal) -> Result<(), Problem> {
    match principal {
        Principal::User { user, .. } => check_limit(state, parts, LimitClass::Api, &user.id).await,
        Principal::Key(key) => check_limit(state, parts, LimitClass::Ingest, &key.id).await,
    }
}

/// Counts the request against `class` for `key`; refuses with 429 when over the limit. A
/// verdict that allows is handed to the rate-limit layer for the `RateLimit-*` headers.
async fn check_limit(
    state: &AppState,
    parts: &Parts,
    class: LimitClass,
    key: &str,
) -> Result<(), Problem> {
    let Some(limiter) = &state.limiter else {
        return Ok(());
    };
    match limiter.check(class, key).await {
        Ok(decision) if !decision.allowed => Err(too_many_requests(state, class, decision)),
        Ok(decision) => {
            if let Some(slot) = parts.extensions.get::<RateLimitSlot>() {
                slot.set(decision);
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, class = class.name(), "rate limiter failed; request let through");
            Ok(())
        }
    }
}

/// A principal when the request has credentials, `None` when it has none; bad credentials are
/// still refused.
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybePrincipal {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if credential(&parts.headers).is_none() {
            return Ok(MaybePrincipal(None));
        }
        Principal::from_request_parts(parts, state)
            .await
            .map(|p| MaybePrincipal(Some(p)))
    }
}

async fn api_key(state: &AppState, key: &str) -> Result<Principal, Problem> {
    let now = state.clock.now_us();
    let found = state.store.api_key_by_hash(&hash_token(key)).await?;
    let Some(found) = found else {
        return Err(unauthorized("the API key is not valid"));
    };
    if found.revoked_at_us.is_some() {
        return Err(unauthorized("the API key has been revoked"));
    }
    if found.expires_at_us.is_some_and(|t| t <= now) {
        return Err(unauthorized("the API key has expired"));
    }
    // Recording the last use is best effort: a failure must not refuse the request.
    if let Err(e) = state.store.touch_api_key(&found.id, now).await {
        tracing::warn!(error = %e, "could not record the API key's last use");
    }
    Ok(Principal::Key(found))
}

async fn access_token(state: &AppState, token: &str) -> Result<Principal, Problem> {
    let claims = state
        .jwt
        .verify(token, TokenPurpose::Access, state.clock.now_unix())
        .map_err(|_| unauthorized("the access token is not valid or has expired"))?;
    let user = live_user(state, &claims.sub).await?;
    if !tokens_equal(&user.security_stamp, &claims.stamp) {
        return Err(unauthorized(
            "the access token was issued before a password change or lock; sign in again",
        ));
    }
    Ok(Principal::User {
        user,
        via: Via::AccessToken,
    })
}

/// The user behind a credential, refused when deleted or locked.
async fn live_user(state: &AppState, user_id: &str) -> Result<User, Problem> {
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| unauthorized("the account no longer exists"))?;
    if user
        .locked_until_us
        .is_some_and(|t| t > state.clock.now_us())
    {
        return Err(unauthorized("the account is temporarily locked"));
    }
    Ok(user)
}

async fn session_cookie(
    state: &AppState,
    parts: &Parts,
    token: &str,
) -> Result<Principal, Problem> {
    let now = state.clock.now_us();
    let session = state
        .store
        .session_by_token_hash(&hash_token(token))
        .await?
        .filter(|s| s.kind == SessionKind::Web)
        .filter(|s| s.revoked_at_us.is_none() && s.rotated_at_us.is_none() && s.expires_at_us > now)
        .ok_or_else(|| unauthorized("the session has ended; sign in again"))?;
    if is_state_changing(&parts.method) {
        check_csrf(parts, session.csrf_hash.as_deref())?;
    }
    let user = live_user(state, &session.user_id).await?;
    Ok(Principal::User {
        user,
        via: Via::Cookie {
            family_id: session.family_id,
        },
    })
}

/// The signed-in browser user of a page request, with the session's CSRF token; `None` when
/// the request has no live session cookie (the page then asks to sign in).
pub(crate) async fn browser_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Principal, String)>, Problem> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let now = state.clock.now_us();
    let Some(session) = state
        .store
        .session_by_token_hash(&hash_token(&token))
        .await?
        .filter(|s| s.kind == SessionKind::Web)
        .filter(|s| {
            s.revoked_at_us.is_none() && s.rotated_at_us.is_none() && s.expires_at_us > now
        })
    else {
        return Ok(None);
    };
    // The page carries the token derived from the cookie; a session whose stored CSRF hash is
    // another (one started before tokens were derived) could not make a single change: it signs
    // in again instead.
    let csrf = csrf_for_session(&token);
    if !session
        .csrf_hash
        .as_deref()
        .is_some_and(|stored| tokens_equal(stored, &hash_token(&csrf)))
    {
        return Ok(None);
    }
    let Ok(user) = live_user(state, &session.user_id).await else {
        return Ok(None);
    };
    let principal = Principal::User {
        user,
        via: Via::Cookie {
            family_id: session.family_id,
        },
    };
    tracing::Span::current().record("principal", principal.actor().as_str());
    Ok(Some((principal, csrf)))
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie-authenticated change needs the session's CSRF token, and a matching `Origin` when
/// the browser sends one.
fn check_csrf(parts: &Parts, expected_hash: Option<&str>) -> Result<(), Problem> {
    let refuse = |detail: &str| {
        tracing::warn!(target: "security", event = "csrf_rejected", endpoint = %parts.uri.path(), "{detail}");
        Problem::new(StatusCode::FORBIDDEN, "csrf", detail)
    };
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            refuse("a change made with a session cookie needs the x-csrf-token header")
        })?;
    let matches = expected_hash.is_some_and(|expected| tokens_equal(&hash_token(sent), expected));
    if !matches {
        return Err(refuse("the CSRF token does not match the session"));
    }
    if let Some(origin) = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if host.is_empty() || origin_host != host {
            return Err(refuse("the request comes from another origin"));
        }
    }
    Ok(())
}
