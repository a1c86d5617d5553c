//! Errors as `application/problem+json` (RFC 9457), made in one place.
//!
//! Each problem has a stable `type` (a URN naming the kind of problem), a human `detail`, and
//! where it helps the JSON `pointer`, the `line` and `column`, and the `limit` and the value
//! `found`. Internal errors say only that something failed and log the cause: never a stack trace,
//! SQL text or request content in a response.

use agenttrace_core::{IngestError, RejectClass};
use agenttrace_store::StoreError;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem, stable across versions.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// JSON pointer to the offending part of the request document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The limit that was exceeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The value found, for a limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<u64>,
    /// The query or form parameter at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// Headers the response carries besides the document (`Retry-After`, `RateLimit-*`).
    #[serde(skip)]
    #[schema(ignore)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: format!("urn:agenttrace:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            pointer: None,
            line: None,
            column: None,
            limit: None,
            found: None,
            parameter: None,
            headers: Vec::new(),
        }
    }

    pub fn not_found(what: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{what} not found"),
        )
    }

    pub fn bad_parameter(parameter: &str, detail: impl Into<String>) -> Problem {
        let mut problem = Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", detail);
        problem.parameter = Some(parameter.to_owned());
        problem
    }

    pub fn too_large(what: &str, limit: u64, found: Option<u64>) -> Problem {
        let detail = match found {
            Some(found) => {
                format!("{what} is too large: {found} bytes, the limit is {limit} bytes")
            }
            None => format!("{what} is larger than the limit of {limit} bytes"),
        };
        let mut problem = Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", detail);
        problem.limit = Some(limit);
        problem.found = found;
        problem
    }

    /// A failure on our side: the cause is logged, the client learns only that it happened.
    pub fn internal(cause: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %cause, "internal error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; the cause is in its log",
        )
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Reads an optional `expires_at` (RFC 3339) that must lie after `now_us`.
pub fn future_time(field: &str, text: Option<&str>, now_us: i64) -> Result<Option<i64>, Problem> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let at = agenttrace_core::timefmt::parse_timestamp_str(text).ok_or_else(|| {
        Problem::bad_parameter(field, format!("`{field}` must be an RFC 3339 time"))
    })?;
    if at <= now_us {
        return Err(Problem::bad_parameter(
            field,
            format!("`{field}` must be in the future"),
        ));
    }
    Ok(Some(at))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, axum::Json(&self)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<IngestError> for Problem {
    fn from(error: IngestError) -> Problem {
        let status = match error.class() {
            RejectClass::BadRequest => StatusCode::BAD_REQUEST,
            RejectClass::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RejectClass::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RejectClass::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let mut problem = Problem::new(status, error.slug(), error.to_string());
        problem.pointer = error.pointer().map(str::to_owned);
        if let Some((line, column)) = error.position() {
            problem.line = Some(line);
            problem.column = Some(column);
        }
        if let Some((limit, found)) = error.limit_and_found() {
            problem.limit = Some(limit);
            problem.found = Some(found);
        }
        problem
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Problem {
        Problem::internal(&error)
    }
}
