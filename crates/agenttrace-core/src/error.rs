//! Why an ingest was refused, in terms a user can act on.
//!
//! Every variant says what was wrong, where (a JSON pointer or a line and column), and for limits
//! the limit and the value found. The server turns these into `application/problem+json`; the CLI
//! prints them. Variants carry no input text beyond short, already-public descriptions, so an error
//! can never leak a secret from the rejected document.

/// How a rejection maps onto HTTP, without the core knowing about HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectClass {
    /// 400: not parseable.
    BadRequest,
    /// 413: over a size, count or depth limit.
    TooLarge,
    /// 415: not JSON at all.
    UnsupportedType,
    /// 422: valid JSON that is not a trace.
    Unprocessable,
}

/// A rejected ingest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IngestError {
    #[error("the body is empty: send a trace document (JSON)")]
    Empty,
    #[error(
        "the content is not JSON (it starts with {found}); AgentTrace recognises JSON by its content, not by the file name"
    )]
    NotJson { found: String },
    #[error("the content is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Malformed {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{what} is too large: {found} bytes, the limit is {limit} bytes")]
    TooLarge {
        what: &'static str,
        limit: u64,
        found: u64,
    },
    #[error(
        "the JSON nests deeper than the limit of {limit} levels (at line {line}, column {column})"
    )]
    TooDeep {
        limit: u32,
        line: usize,
        column: usize,
    },
    #[error("the trace has {found} steps, the limit is {limit}")]
    TooManySteps { limit: u32, found: u64 },
    #[error("{message} (at {})", if pointer.is_empty() { "the document root" } else { pointer.as_str() })]
    NotATrace { pointer: String, message: String },
}

impl IngestError {
    pub fn class(&self) -> RejectClass {
        match self {
            IngestError::Empty
            | IngestError::InvalidUtf8 { .. }
            | IngestError::Malformed { .. } => RejectClass::BadRequest,
            IngestError::NotJson { .. } => RejectClass::UnsupportedType,
            IngestError::TooLarge { .. }
            | IngestError::TooDeep { .. }
            | IngestError::TooManySteps { .. } => RejectClass::TooLarge,
            IngestError::NotATrace { .. } => RejectClass::Unprocessable,
        }
    }

    /// A stable, machine-readable name for the kind of rejection.
    pub fn slug(&self) -> &'static str {
        match self {
            IngestError::Empty => "empty-body",
            IngestError::NotJson { .. } => "not-json",
            IngestError::InvalidUtf8 { .. } => "invalid-utf8",
            IngestError::Malformed { .. } => "malformed-json",
            IngestError::TooLarge { .. } => "too-large",
            IngestError::TooDeep { .. } => "too-deep",
            IngestError::TooManySteps { .. } => "too-many-steps",
            IngestError::NotATrace { .. } => "not-a-trace",
        }
    }

    /// Where in the document the problem is, as a JSON pointer, when known.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            IngestError::NotATrace { pointer, .. } => Some(pointer),
            IngestError::TooManySteps { .. } => Some("/steps"),
            _ => None,
        }
    }

    /// The line and column (1-based) of the problem, when known.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            IngestError::Malformed { line, column, .. }
            | IngestError::TooDeep { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }

    /// The limit that was exceeded and the value found, for limit errors.
    pub fn limit_and_found(&self) -> Option<(u64, u64)> {
        match self {
            IngestError::TooLarge { limit, found, .. } => Some((*limit, *found)),
            IngestError::TooManySteps { limit, found } => Some((u64::from(*limit), *found)),
            IngestError::TooDeep { limit, .. } => Some((u64::from(*limit), u64::from(*limit) + 1)),
            _ => None,
        }
    }

    pub(crate) fn not_a_trace(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError::NotATrace {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

/// A problem that did not stop the ingest but that the sender should know about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub pointer: String,
    pub message: String,
}
