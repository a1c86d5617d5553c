//! Storage for AgentTrace: the [`Store`] trait the server and the CLI talk to, and its engines.
//!
//! The trait speaks in the core's model and promises nothing engine-specific: each call is atomic
//! on its own (an ingest is one transaction), ids are opaque strings, cursors are opaque tokens,
//! and search answers the same queries on every engine. SQLite is the embedded default; the
//! PostgreSQL engine implements the same trait.

pub mod accounts;
mod cursor;
pub mod dashboard;
pub mod search_text;
pub mod sqlite;
mod sqlite_accounts;
mod sqlite_dashboard;
mod sqlite_search;

use agenttrace_core::{Status, Step, StepKind, Trace, TraceStats};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::sync::Arc;

pub use accounts::{
    AccountStore, ApiKey, CreatedUser, KeyScope, Member, NewUser, Project, Role, Session,
    SessionKind, Share, SharedLink, User, new_id,
};
pub use cursor::Cursor;
pub use dashboard::{Bucket, Dashboard, ModelUsage, ToolUsage};
pub use sqlite::SqliteStore;

/// The project traces go to until accounts and projects exist.
pub const DEFAULT_PROJECT: &str = "default";

/// A stored trace without its steps: what lists show.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: Option<String>,
    pub source_format: String,
    pub status: Status,
    pub tags: Vec<String>,
    pub metadata: Map<String, Value>,
    pub session_id: Option<String>,
    pub stats: TraceStats,
    pub size_bytes: u64,
    pub redactions: u64,
    pub created_by: Option<String>,
    pub created_at_us: i64,
}

/// An order for a listing other than newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceSort {
    Name,
    Steps,
    Duration,
    Tokens,
    Cost,
    Errors,
    Received,
}

/// Steps to merge into a trace that arrives over several requests.
#[derive(Debug, Clone)]
pub struct MergeSteps<'a> {
    pub project_id: &'a str,
    /// The id the source gave the trace (an OTLP trace id), unique within the project.
    pub external_id: &'a str,
    pub source_format: &'a str,
    /// New steps, or steps that arrive again (a retry): those replace their earlier copy.
    pub steps: Vec<Step>,
    /// Kept on the trace when given (the latest wins).
    pub session_id: Option<String>,
    /// Merged into the trace's metadata (e.g. `service.name`, `user.id`).
    pub metadata: Map<String, Value>,
    pub redactions: u64,
    pub size_bytes: u64,
    pub created_by: Option<&'a str>,
    /// The most steps the trace may hold; new steps beyond it are refused.
    pub max_steps: u32,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub record: TraceRecord,
    /// New steps refused because the trace reached `max_steps`.
    pub refused: u64,
}

/// Which traces to list. Times are microseconds since the epoch and apply to the time a trace
/// was received.
#[derive(Debug, Clone, Default)]
pub struct TraceFilter {
    /// Only traces of these projects; `None` for all (used by admin tools, never by the API).
    pub project_ids: Option<Vec<String>>,
    pub status: Option<Status>,
    /// Only traces carrying this tag.
    pub tag: Option<String>,
    /// Only traces with at least one failed step.
    pub has_errors: bool,
    /// Words that must all occur (as word prefixes) in the trace's name or step text.
    pub query: Option<String>,
    pub since_us: Option<i64>,
    pub until_us: Option<i64>,
    pub limit: u32,
    pub cursor: Option<Cursor>,
    /// Another order than newest first, and whether descending; such listings are paged by
    /// `offset` instead of the cursor.
    pub sort: Option<(TraceSort, bool)>,
    pub offset: u32,
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TracePage {
    pub items: Vec<TraceRecord>,
    /// Pass this back as the cursor to get the next page; `None` on the last page.
    pub next_cursor: Option<Cursor>,
    /// Whether more traces follow this page (in either paging).
    pub more: bool,
}

/// A trace to insert, with who sent it. The trace is shared so the store can build its search
/// words on another thread while it writes the steps.
#[derive(Debug, Clone, Copy)]
pub struct NewTrace<'a> {
    pub trace: &'a Arc<Trace>,
    pub project_id: &'a str,
    pub created_by: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("internal task failed: {0}")]
    Task(String),
    /// The database is there but not ready for this binary (e.g. migrations not applied yet).
    #[error("{0}")]
    NotReady(String),
    #[error("cannot open the data folder {path}: {reason}")]
    DataDir { path: String, reason: String },
}

/// A step without its payloads: what the trace page's tree and timeline need.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutline {
    pub id: String,
    pub parent_id: Option<String>,
    pub seq: u32,
    pub kind: StepKind,
    pub name: String,
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
    pub duration_us: Option<i64>,
    pub status: Status,
    pub has_error: bool,
    pub model: Option<String>,
    pub total_tokens: Option<u64>,
    pub cost: Option<f64>,
}

/// The connection pool's state, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open now.
    pub size: u32,
    /// Of those, the ones waiting for work.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// Everything a server needs from its database.
pub trait Store: TraceStore + AccountStore + Send + Sync + 'static {}

impl<T: TraceStore + AccountStore + Send + Sync + 'static> Store for T {}

#[async_trait]
pub trait TraceStore: Send + Sync {
    /// Stores a trace and its steps in one transaction and returns the stored record.
    async fn insert_trace(&self, new: NewTrace<'_>) -> Result<TraceRecord, StoreError>;
    async fn list_traces(&self, filter: &TraceFilter) -> Result<TracePage, StoreError>;
    async fn get_trace(&self, id: &str) -> Result<Option<TraceRecord>, StoreError>;
    /// The steps of a trace in document order.
    async fn get_steps(&self, trace_id: &str) -> Result<Vec<Step>, StoreError>;
    async fn get_step(&self, trace_id: &str, step_id: &str) -> Result<Option<Step>, StoreError>;
    /// Merges steps into the trace known in a project by its source's id (creating it), in one
    /// transaction, and recomputes the trace's stats, status and name.
    async fn merge_steps(&self, merge: MergeSteps<'_>) -> Result<Merged, StoreError>;
    /// The steps of a trace without their inputs, outputs and metadata, in document order.
    async fn get_outline(&self, trace_id: &str) -> Result<Vec<StepOutline>, StoreError>;
    /// The ids of a trace's steps whose name, input, output, error or metadata contain `text`
    /// (ASCII case-insensitive), in document order, at most `limit`.
    async fn search_steps(
        &self,
        trace_id: &str,
        text: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// The dashboard's numbers over the traces of `project_ids` received at or after
    /// `since_us`: per bucket of `bucket_us` microseconds (counted from `since_us`) the traces,
    /// the traces with errors, the p50 and p95 duration, tokens and cost; and the most used
    /// tools and models. No project, no numbers.
    async fn dashboard(
        &self,
        project_ids: &[String],
        since_us: i64,
        bucket_us: i64,
    ) -> Result<Dashboard, StoreError>;
    /// Deletes a trace with its steps; `false` when there was none.
    async fn delete_trace(&self, id: &str) -> Result<bool, StoreError>;
    /// Counts traces and steps (for checks after import or migration).
    async fn counts(&self) -> Result<(u64, u64), StoreError>;
    /// Answers when the database can be reached.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The connection pool's state.
    fn pool_status(&self) -> PoolStatus;
    /// Waits for open work and closes the database cleanly.
    async fn close(&self);
}
