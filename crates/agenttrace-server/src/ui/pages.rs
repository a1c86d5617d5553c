//! The page handlers.

use crate::api::auth::{
    Credentials, authenticate, clear_cookie, create_account, start_web_session,
};
use crate::api::shares::shared_trace_id;
use crate::api::traces::find_trace;
use crate::app::AppState;
use crate::auth::tokens::{csrf_for_session, hash_token, tokens_equal};
use crate::layers::{ClientAddr, Tls};
use crate::principal::{Principal, SESSION_COOKIE, browser_user, cookie};
use crate::problem::Problem;
use crate::ui::format;
use crate::ui::statics::asset_version;
use agenttrace_core::timefmt::format_us;
use agenttrace_store::{Cursor, StepOutline, TraceFilter, TraceRecord, TraceSort};
use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub version: &'static str,
    pub page: &'static str,
    pub email: Option<String>,
    pub csrf: Option<String>,
    /// The read-only shared view: no navigation, no account.
    pub shared: bool,
}

impl Layout {
    fn signed_out(page: &'static str) -> Layout {
        Layout {
            version: asset_version(),
            page,
            email: None,
            csrf: None,
            shared: false,
        }
    }

    pub(super) fn for_user(page: &'static str, principal: &Principal, csrf: &str) -> Layout {
        Layout {
            version: asset_version(),
            page,
            email: principal.user().map(|u| u.email.clone()),
            csrf: Some(csrf.to_owned()),
            shared: false,
        }
    }
}

pub(super) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    l: Layout,
    title: String,
    text: String,
}

pub(super) fn message(status: StatusCode, l: Layout, title: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            l,
            title: title.to_owned(),
            text: text.to_owned(),
        },
    )
}

/// Where to go after signing in: a path on this site, never another site.
fn safe_next(next: Option<&str>) -> String {
    // Visible ASCII only: browsers drop tabs and line breaks from URLs, so `/\t/evil.example`
    // would become `//evil.example`, another site.
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Whether a form post comes from another site (a login CSRF: signing the victim into the
/// attacker's account). Browsers say so in `Sec-Fetch-Site`, or by an `Origin` that is not ours.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if fetch_site == "cross-site" || fetch_site == "same-site" {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin.split_once("://").map(|(_, rest)| rest) != Some(host)
}

fn refuse_cross_site() -> Response {
    Problem::new(
        StatusCode::FORBIDDEN,
        "cross-site",
        "this form can only be sent from this site's own pages",
    )
    .into_response()
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Sends a signed-out visitor to sign in (or, on a fresh instance, to create the first
/// account), coming back here afterwards.
async fn to_sign_in(state: &AppState, uri: &Uri) -> Response {
    let back = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let page = if first_run(state).await {
        "/register"
    } else {
        "/login"
    };
    if back == "/" {
        Redirect::to(page).into_response()
    } else {
        Redirect::to(&format!("{page}?next={}", encode(&back))).into_response()
    }
}

/// The signed-in user, or the response that sends them to sign in.
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(Principal, String), Response> {
    match browser_user(state, headers).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(to_sign_in(state, uri).await),
        Err(problem) => Err(problem.into_response()),
    }
}

// ---- sign in, register, sign out ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    first_run: bool,
    register: bool,
    registration_open: bool,
    error: Option<String>,
    next: String,
    email: String,
}

/// Whether the instance has no account yet (the first one becomes its admin).
async fn first_run(state: &AppState) -> bool {
    state
        .store
        .user_count()
        .await
        .map(|n| n == 0)
        .unwrap_or(false)
}

/// The sign-in or registration form, with what went wrong and what was typed.
fn auth_form(
    status: StatusCode,
    state: &AppState,
    register: bool,
    first_run: bool,
    error: Option<String>,
    next: String,
    email: String,
) -> Response {
    let page = if register { "register" } else { "login" };
    render(
        status,
        &LoginPage {
            l: Layout::signed_out(page),
            first_run,
            register,
            registration_open: state.registration_open,
            error,
            next,
            email,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CredentialsForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<NextParam>,
) -> Response {
    let next = safe_next(params.next.as_deref());
    if let Ok(Some(_)) = browser_user(&state, &headers).await {
        return Redirect::to(&next).into_response();
    }
    if first_run(&state).await {
        return Redirect::to("/register").into_response();
    }
    auth_form(
        StatusCode::OK,
        &state,
        false,
        false,
        None,
        next,
        String::new(),
    )
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Option<Extension<ClientAddr>>,
    Form(form): Form<CredentialsForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let next = safe_next(form.next.as_deref());
    let ip = client.and_then(|Extension(ClientAddr(ip))| ip);
    let credentials = Credentials {
        email: form.email.clone(),
        password: form.password,
    };
    let started = async {
        let user = authenticate(&state, &credentials, ip).await?;
        start_web_session(&state, &user).await
    };
    match started.await {
        Ok((cookie, _)) => signed_in_redirect(&next, cookie),
        Err(problem) => auth_form(
            problem.status_code(),
            &state,
            false,
            false,
            Some(problem.detail),
            next,
            form.email,
        ),
    }
}

fn signed_in_redirect(next: &str, cookie: HeaderValue) -> Response {
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

pub async fn register_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<NextParam>,
) -> Response {
    let next = safe_next(params.next.as_deref());
    if let Ok(Some(_)) = browser_user(&state, &headers).await {
        return Redirect::to(&next).into_response();
    }
    let first_run = first_run(&state).await;
    if !first_run && !state.registration_open {
        return message(
            StatusCode::FORBIDDEN,
            Layout::signed_out("register"),
            "Registration is closed",
            "Accounts on this instance are created by an admin. Ask one to create yours, then sign in.",
        );
    }
    auth_form(
        StatusCode::OK,
        &state,
        true,
        first_run,
        None,
        next,
        String::new(),
    )
}

pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Option<Extension<ClientAddr>>,
    Form(form): Form<CredentialsForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let next = safe_next(form.next.as_deref());
    let ip = client.and_then(|Extension(ClientAddr(ip))| ip);
    let first_run = first_run(&state).await;
    let created = async {
        let _registered = create_account(
            &state,
            &form.email,
            &form.password,
            false,
            !state.registration_open,
        )
        .await?;
        let credentials = Credentials {
            email: form.email.clone(),
            password: form.password.clone(),
        };
        let user = authenticate(&state, &credentials, ip).await?;
        start_web_session(&state, &user).await
    };
    match created.await {
        Ok((cookie, _)) => signed_in_redirect(&next, cookie),
        Err(problem) => auth_form(
            problem.status_code(),
            &state,
            true,
            first_run,
            Some(problem.detail),
            next,
            form.email,
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// Ends the browser session (its whole family) when the form carries the session's CSRF token.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    if cross_site(&headers) {
        return refuse_cross_site();
    }
    let mut response = Redirect::to("/login").into_response();
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if !tokens_equal(&csrf_for_session(&token), &form.csrf) {
            return Problem::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "the sign-out form does not belong to this session; reload the page and try again",
            )
            .into_response();
        }
        match state.store.session_by_token_hash(&hash_token(&token)).await {
            Ok(Some(session)) => {
                if let Err(e) = state
                    .store
                    .revoke_session_family(&session.family_id, state.clock.now_us())
                    .await
                {
                    return Problem::from(e).into_response();
                }
                tracing::info!(target: "security", event = "logout", user_id = %session.user_id, "signed out");
            }
            Ok(None) => {}
            Err(e) => return Problem::from(e).into_response(),
        }
    }
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    response
}

// ---- traces ----

#[derive(Debug, Default, Deserialize)]
pub struct TraceQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    range: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    project_id: String,
    /// `1`: only traces with a failed step.
    #[serde(default)]
    errors: String,
    #[serde(default)]
    cursor: String,
    /// A column to sort by (`name`, `steps`, `duration`, `tokens`, `cost`, `errors`,
    /// `received`); newest first when empty.
    #[serde(default)]
    sort: String,
    /// `asc` or `desc`.
    #[serde(default)]
    dir: String,
    /// Traces to skip, when sorted by a column.
    #[serde(default)]
    offset: String,
}

/// The columns the list sorts by, with the direction they start in.
const SORTS: [(&str, TraceSort, bool); 7] = [
    ("name", TraceSort::Name, false),
    ("steps", TraceSort::Steps, true),
    ("duration", TraceSort::Duration, true),
    ("tokens", TraceSort::Tokens, true),
    ("cost", TraceSort::Cost, true),
    ("errors", TraceSort::Errors, true),
    ("received", TraceSort::Received, true),
];

impl TraceQuery {
    /// Whether any filter is set.
    fn any(&self) -> bool {
        !(self.q.is_empty()
            && self.status.is_empty()
            && self.range.is_empty()
            && self.tag.is_empty()
            && self.project_id.is_empty()
            && self.errors.is_empty())
    }

    /// The chosen sort: column, descending.
    fn sorting(&self) -> Option<(TraceSort, bool)> {
        let (_, sort, default_desc) = SORTS.iter().find(|(name, _, _)| *name == self.sort)?;
        let descending = match self.dir.as_str() {
            "asc" => false,
            "desc" => true,
            _ => *default_desc,
        };
        Some((*sort, descending))
    }

    fn offset(&self) -> u32 {
        self.offset.parse().unwrap_or(0).min(1_000_000)
    }

    /// `aria-sort` of a column header: `ascending`, `descending` or `none`.
    fn aria(&self, column: &str) -> &'static str {
        match self.sorting() {
            Some((_, descending)) if self.sort == column => {
                if descending {
                    "descending"
                } else {
                    "ascending"
                }
            }
            _ => "none",
        }
    }

    /// The link of a column header: sort by it, or flip it when it is the sort already.
    fn sort_url(&self, column: &str) -> String {
        let default_desc = SORTS
            .iter()
            .find(|(name, _, _)| *name == column)
            .is_some_and(|(_, _, desc)| *desc);
        let descending = match self.sorting() {
            Some((_, current)) if self.sort == column => !current,
            _ => default_desc,
        };
        let mut next = TraceQuery {
            sort: column.to_owned(),
            dir: if descending { "desc" } else { "asc" }.to_owned(),
            ..self.clone_filters()
        };
        next.offset.clear();
        next.url(None)
    }

    /// The filters and the sort, without the page position.
    fn clone_filters(&self) -> TraceQuery {
        TraceQuery {
            q: self.q.clone(),
            status: self.status.clone(),
            range: self.range.clone(),
            tag: self.tag.clone(),
            project_id: self.project_id.clone(),
            errors: self.errors.clone(),
            cursor: String::new(),
            sort: self.sort.clone(),
            dir: self.dir.clone(),
            offset: String::new(),
        }
    }

    /// The query string of these filters with another cursor.
    fn url(&self, cursor: Option<&str>) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("q", &self.q),
            ("status", &self.status),
            ("range", &self.range),
            ("tag", &self.tag),
            ("project_id", &self.project_id),
            ("errors", &self.errors),
            ("sort", &self.sort),
            ("dir", &self.dir),
            ("offset", &self.offset),
        ] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", encode(value)));
            }
        }
        if let Some(cursor) = cursor {
            parts.push(format!("cursor={}", encode(cursor)));
        }
        if parts.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
}

/// The time ranges the list offers.
const RANGES: [(&str, &str); 5] = [
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
];

fn range_secs(range: &str) -> Option<i64> {
    match range {
        "1h" => Some(3600),
        "24h" => Some(86_400),
        "7d" => Some(7 * 86_400),
        "30d" => Some(30 * 86_400),
        _ => None,
    }
}

struct TraceRow {
    id: String,
    name: String,
    status: &'static str,
    tags: Vec<String>,
    steps: u32,
    duration: String,
    duration_ms: f64,
    tokens: u64,
    tokens_text: String,
    cost: f64,
    cost_text: String,
    errors: u32,
    created_us: i64,
    created_iso: String,
    age: String,
}

impl TraceRow {
    fn new(record: &TraceRecord, now_us: i64) -> TraceRow {
        let stats = &record.stats;
        let duration_ms = stats.duration_us.map_or(-1.0, |us| us as f64 / 1000.0);
        let tokens = stats.usage.total_tokens.unwrap_or(0);
        TraceRow {
            id: record.id.clone(),
            name: record.name.clone(),
            status: record.status.as_str(),
            tags: record.tags.clone(),
            steps: stats.step_count,
            duration: if duration_ms >= 0.0 {
                format::duration_ms(duration_ms)
            } else {
                "–".to_owned()
            },
            duration_ms,
            tokens,
            tokens_text: if tokens > 0 {
                format::count(tokens)
            } else {
                "–".to_owned()
            },
            cost: stats.cost.unwrap_or(0.0),
            cost_text: stats.cost.map_or_else(|| "–".to_owned(), format::cost),
            errors: stats.error_count,
            created_us: record.created_at_us,
            created_iso: format_us(record.created_at_us),
            age: format::age(record.created_at_us, now_us),
        }
    }
}

#[derive(Template)]
#[template(path = "traces.html")]
struct TracesPage {
    l: Layout,
    f: TraceQuery,
    ranges: Vec<(&'static str, &'static str)>,
    projects: Vec<(String, String)>,
    rows: Vec<TraceRow>,
    error: Option<String>,
    next_url: Option<String>,
    previous_url: Option<String>,
    first_url: String,
    origin: String,
}

/// The origin the browser reached us at, for the examples on the empty list.
fn origin(headers: &HeaderMap, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost:8080");
    format!("{}://{host}", if tls { "https" } else { "http" })
}

pub async fn traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    tls: Option<Extension<Tls>>,
    query: Result<Query<TraceQuery>, QueryRejection>,
) -> Response {
    let (principal, csrf) = match signed_in(&state, &headers, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let f = query.map(|Query(q)| q).unwrap_or_default();
    let now = state.clock.now_us();
    let projects = match principal.user() {
        Some(user) => match state.store.projects_of(&user.id).await {
            Ok(projects) => projects
                .into_iter()
                .map(|(project, _)| (project.id, project.name))
                .collect::<Vec<_>>(),
            Err(e) => return Problem::from(e).into_response(),
        },
        None => Vec::new(),
    };
    let mut readable: Vec<String> = projects.iter().map(|(id, _)| id.clone()).collect();
    if !f.project_id.is_empty() {
        readable.retain(|id| *id == f.project_id);
    }
    let mut error = None;
    let status = match f.status.as_str() {
        "" => None,
        text => match text.parse() {
            Ok(status) => Some(status),
            Err(_) => {
                error = Some("Unknown status; showing every status.".to_owned());
                None
            }
        },
    };
    let cursor = match f.cursor.as_str() {
        "" => None,
        text => {
            let decoded = Cursor::decode(text);
            if decoded.is_none() {
                error = Some(
                    "That page link is not valid any more; showing the newest traces.".to_owned(),
                );
            }
            decoded
        }
    };
    let filter = TraceFilter {
        project_ids: Some(readable),
        status,
        tag: Some(f.tag.trim().to_owned()).filter(|t| !t.is_empty()),
        has_errors: f.errors == "1",
        sort: f.sorting(),
        offset: f.offset(),
        query: Some(f.q.trim().to_owned()).filter(|q| !q.is_empty()),
        since_us: range_secs(&f.range).map(|secs| now - secs * 1_000_000),
        until_us: None,
        limit: 50,
        cursor,
    };
    let page = match state.store.list_traces(&filter).await {
        Ok(page) => page,
        Err(e) => return Problem::from(e).into_response(),
    };
    let rows = page.items.iter().map(|r| TraceRow::new(r, now)).collect();
    let (next_url, previous_url) = if f.sorting().is_some() {
        let at = f.offset();
        let with_offset = |offset: u32| {
            let mut q = f.clone_filters();
            q.offset = if offset == 0 {
                String::new()
            } else {
                offset.to_string()
            };
            q.url(None)
        };
        (
            page.more.then(|| with_offset(at + 50)),
            (at > 0).then(|| with_offset(at.saturating_sub(50))),
        )
    } else {
        (page.next_cursor.map(|c| f.url(Some(&c.encode()))), None)
    };
    let first_url = f.clone_filters().url(None);
    render(
        StatusCode::OK,
        &TracesPage {
            l: Layout::for_user("traces", &principal, &csrf),
            ranges: RANGES.to_vec(),
            projects,
            rows,
            error,
            next_url,
            previous_url,
            first_url,
            origin: origin(&headers, tls.is_some()),
            f,
        },
    )
}

// ---- upload ----

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    l: Layout,
    projects: Vec<(String, String)>,
    max_mb: u64,
}

pub async fn upload(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (principal, csrf) = match signed_in(&state, &headers, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut projects = Vec::new();
    if let Some(user) = principal.user() {
        match state.store.projects_of(&user.id).await {
            Ok(found) => {
                for (project, role) in found {
                    if role.can_write() {
                        let personal = project.personal_of.as_deref() == Some(user.id.as_str());
                        let entry = (project.id, project.name);
                        // The personal project first: it is where uploads go by default.
                        if personal {
                            projects.insert(0, entry);
                        } else {
                            projects.push(entry);
                        }
                    }
                }
            }
            Err(e) => return Problem::from(e).into_response(),
        }
    }
    render(
        StatusCode::OK,
        &UploadPage {
            l: Layout::for_user("upload", &principal, &csrf),
            projects,
            max_mb: state.limits.max_body_bytes.div_ceil(1024 * 1024),
        },
    )
}

// ---- one trace ----

/// The header of the trace page.
struct TraceHead {
    id: String,
    name: String,
    status: &'static str,
    steps: String,
    duration: String,
    tokens: String,
    cost: String,
    errors: u32,
    redactions: u64,
    source: String,
    created_iso: String,
    age: String,
}

#[derive(Template)]
#[template(path = "trace.html")]
struct TracePage {
    l: Layout,
    t: TraceHead,
    api_base: String,
    /// The outline as JSON, escaped for a `<script type="application/json">` element.
    data: String,
    /// Whether the viewer may share and delete it (viewers and the shared page may not).
    can_write: bool,
}

fn trace_head(record: &TraceRecord, now_us: i64) -> TraceHead {
    let stats = &record.stats;
    TraceHead {
        id: record.id.clone(),
        name: record.name.clone(),
        status: record.status.as_str(),
        steps: format::count(u64::from(stats.step_count)),
        duration: stats.duration_us.map_or_else(
            || "no timing".to_owned(),
            |us| format::duration_ms(us as f64 / 1000.0),
        ),
        tokens: stats
            .usage
            .total_tokens
            .map(format::count)
            .unwrap_or_default(),
        cost: stats.cost.map(format::cost).unwrap_or_default(),
        errors: stats.error_count,
        redactions: record.redactions,
        source: record.source_format.clone(),
        created_iso: format_us(record.created_at_us),
        age: format::age(record.created_at_us, now_us),
    }
}

/// One step as the page's script reads it: `[id, parent index, kind, name, start offset ms,
/// duration ms, flags, model, total tokens, cost]`; flags: 1 error, 2 running.
type OutlineRow<'a> = (
    &'a str,
    i64,
    &'static str,
    &'a str,
    Option<f64>,
    Option<f64>,
    u8,
    Option<&'a str>,
    Option<u64>,
    Option<f64>,
);

#[derive(serde::Serialize)]
struct TraceData<'a> {
    id: &'a str,
    name: &'a str,
    start_us: Option<i64>,
    duration_ms: Option<f64>,
    steps: Vec<OutlineRow<'a>>,
}

/// The trace page's data: the outline of every step, no payloads.
pub fn outline_json(record: &TraceRecord, outline: &[StepOutline]) -> String {
    let index: HashMap<&str, usize> = outline
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let start = outline.iter().filter_map(|s| s.start_us).min();
    let steps = outline
        .iter()
        .map(|s| {
            let parent = s
                .parent_id
                .as_deref()
                .and_then(|p| index.get(p))
                .map_or(-1, |&i| i64::try_from(i).unwrap_or(-1));
            let offset = match (s.start_us, start) {
                (Some(at), Some(origin)) => Some((at - origin) as f64 / 1000.0),
                _ => None,
            };
            let duration = s
                .duration_us
                .or_else(|| s.start_us.zip(s.end_us).map(|(a, b)| b - a))
                .map(|us| us as f64 / 1000.0);
            let mut flags = 0u8;
            if s.has_error || s.status == agenttrace_core::Status::Error {
                flags |= 1;
            }
            if s.status == agenttrace_core::Status::Running {
                flags |= 2;
            }
            (
                s.id.as_str(),
                parent,
                s.kind.as_str(),
                s.name.as_str(),
                offset,
                duration,
                flags,
                s.model.as_deref(),
                s.total_tokens,
                s.cost,
            )
        })
        .collect();
    let data = TraceData {
        id: &record.id,
        name: &record.name,
        start_us: start,
        duration_ms: record.stats.duration_us.map(|us| us as f64 / 1000.0),
        steps,
    };
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_owned());
    script_safe(&json)
}

/// JSON made safe inside a `<script>` element: `<`, `>` and `&` written as JSON escapes, so no
/// text in a trace can close the element or open a comment.
fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

pub async fn trace(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let (principal, csrf) = match signed_in(&state, &headers, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let l = Layout::for_user("trace", &principal, &csrf);
    let (record, can_write) = match find_trace(&state, &principal, &id).await {
        Ok((record, access)) => (record, access.write),
        Err(problem) if problem.status == 404 => {
            return message(
                StatusCode::NOT_FOUND,
                l,
                "Trace not found",
                "There is no such trace, or it is in a project you cannot see. It may have been deleted.",
            );
        }
        Err(problem) => return problem.into_response(),
    };
    trace_page(&state, l, record, format!("/api/v1/traces/{id}"), can_write).await
}

async fn trace_page(
    state: &AppState,
    l: Layout,
    record: TraceRecord,
    api_base: String,
    can_write: bool,
) -> Response {
    let outline = match state.store.get_outline(&record.id).await {
        Ok(outline) => outline,
        Err(e) => return Problem::from(e).into_response(),
    };
    let data = outline_json(&record, &outline);
    render(
        StatusCode::OK,
        &TracePage {
            t: trace_head(&record, state.clock.now_us()),
            l,
            api_base,
            data,
            can_write,
        },
    )
}

/// `/share/{token}`: the trace page read-only, for anyone with the link, with nothing else of
/// the instance reachable from it.
pub async fn shared(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let l = Layout {
        version: asset_version(),
        page: "shared",
        email: None,
        csrf: None,
        shared: true,
    };
    let gone = |l: Layout| {
        message(
            StatusCode::NOT_FOUND,
            l,
            "Link not available",
            "This share link does not exist, was revoked, or has expired.",
        )
    };
    let trace_id = match shared_trace_id(&state, &token).await {
        Ok(id) => id,
        Err(problem) if problem.status == 404 => return gone(l),
        Err(problem) => return problem.into_response(),
    };
    let record = match state.store.get_trace(&trace_id).await {
        Ok(Some(record)) => record,
        Ok(None) => return gone(l),
        Err(e) => return Problem::from(e).into_response(),
    };
    let mut response = trace_page(&state, l, record, format!("/api/v1/share/{token}"), false).await;
    // The page's URL holds the token: it must not leak to other sites through links.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
