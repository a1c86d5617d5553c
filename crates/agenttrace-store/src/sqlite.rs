//! The embedded SQLite store: one file in the data folder, WAL journal, migrations embedded in
//! the binary, and one `BEGIN IMMEDIATE` transaction per ingest so concurrent writers queue on the
//! database lock instead of failing half-way.

use crate::search_text::query_terms;
use crate::sqlite_search::SearchIndexer;
use crate::{
    Cursor, Dashboard, MergeSteps, Merged, NewTrace, PoolStatus, StepOutline, StoreError,
    TraceFilter, TracePage, TraceRecord, TraceSort, TraceStore,
};
use agenttrace_core::timefmt::now_us;
use agenttrace_core::{Status, Step, StepError, StepKind, Trace, TraceStats, Usage};
use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The database file's name inside the data folder.
pub const DB_FILE: &str = "agenttrace.db";

/// Rows per multi-row `INSERT` of steps: 19 parameters each, well under SQLite's limit.
const STEP_ROWS_PER_INSERT: usize = 200;

/// Most connections the pool opens.
const MAX_CONNECTIONS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const TRACE_COLUMNS: &str = "id, project_id, name, description, source_format, status, \
    start_us, end_us, duration_us, step_count, error_count, input_tokens, output_tokens, \
    total_tokens, cost, tags, metadata, session_id, size_bytes, redactions, stats, created_by, \
    created_at_us";

const STEP_COLUMNS: &str = "seq, step_id, parent_id, kind, name, start_us, end_us, duration_us, \
    status, input, output, error, model, input_tokens, output_tokens, total_tokens, cost, metadata";

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    search: Arc<SearchIndexer>,
}

impl SqliteStore {
    /// Opens (creating on first use) the database in `data_dir` and runs its migrations.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        create_private_dir(data_dir)?;
        let file = data_dir.join(DB_FILE);
        create_private_file(&file)?;
        Self::open_file(&file).await
    }

    /// Opens (creating on first use) the database file at `path` and runs its migrations.
    pub async fn open_file(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses nothing committed when the process dies; only an OS
            // crash or power cut can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // Checkpoints run in the background (see `spawn_checkpointer`), not in the commit of
            // whichever request happens to grow the log past SQLite's threshold.
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", "67108864");
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        spawn_checkpointer(pool.clone());
        let search = Arc::new(SearchIndexer::start(pool.clone()).await?);
        Ok(SqliteStore {
            pool,
            path: path.to_owned(),
            search,
        })
    }

    /// Checks the database in `data_dir` without changing it: it exists, opens read-only, and
    /// has every migration this binary knows applied. Returns how many migrations are applied.
    pub async fn check_migrated(data_dir: &Path) -> Result<usize, StoreError> {
        let file = data_dir.join(DB_FILE);
        if !file.exists() {
            return Err(StoreError::DataDir {
                path: file.display().to_string(),
                reason: "no database yet (`agenttrace serve` creates it on first start)".to_owned(),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let applied: Result<Vec<i64>, sqlx::Error> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
                .fetch_all(&pool)
                .await;
        pool.close().await;
        let applied = applied?;
        let missing: Vec<String> = MIGRATOR
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        if missing.is_empty() {
            Ok(applied.len())
        } else {
            Err(StoreError::NotReady(format!(
                "migrations not applied yet: {} (the next `agenttrace serve` applies them)",
                missing.join(", ")
            )))
        }
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Traces stored whose search words are not written yet.
    pub fn search_backlog(&self) -> u64 {
        self.search.backlog()
    }

    /// Runs SQLite's own consistency check; returns its findings (`["ok"]` when sound).
    pub async fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }
}

/// How often committed pages are copied from the write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies the write-ahead log into the database file in the background, so no ingest pays for a
/// checkpoint in its own commit. A passive checkpoint never blocks readers or writers; the task
/// ends when the pool is closed.
fn spawn_checkpointer(pool: SqlitePool) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                if pool.is_closed() {
                    break;
                }
                tracing::warn!(error = %e, "background checkpoint failed");
            }
        }
    });
}

/// Creates an empty database file readable by its owner only (SQLite gives its -wal and -shm
/// files the same permissions); an existing file is left as it is.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::DataDir {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let fail = |e: std::io::Error| StoreError::DataDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(fail)
}

#[async_trait]
impl TraceStore for SqliteStore {
    async fn insert_trace(&self, new: NewTrace<'_>) -> Result<TraceRecord, StoreError> {
        let trace: &Trace = new.trace;
        let id = uuid::Uuid::now_v7().to_string();
        let created_at_us = now_us();
        let stats = &trace.stats;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO traces (id, project_id, name, description, source_format, status, \
             start_us, end_us, duration_us, step_count, error_count, input_tokens, output_tokens, \
             total_tokens, cost, tags, metadata, session_id, size_bytes, redactions, stats, \
             created_by, created_at_us, search_indexed) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        )
        .bind(&id)
        .bind(new.project_id)
        .bind(&trace.name)
        .bind(&trace.description)
        .bind(&trace.source_format)
        .bind(trace.status.as_str())
        .bind(stats.start_us)
        .bind(stats.end_us)
        .bind(stats.duration_us)
        .bind(i64::from(stats.step_count))
        .bind(i64::from(stats.error_count))
        .bind(to_i64(stats.usage.input_tokens))
        .bind(to_i64(stats.usage.output_tokens))
        .bind(to_i64(stats.usage.total_tokens))
        .bind(stats.cost)
        .bind(json_text(&trace.tags)?)
        .bind(json_text(&trace.metadata)?)
        .bind(&trace.session_id)
        .bind(i64::try_from(trace.size_bytes).unwrap_or(i64::MAX))
        .bind(i64::try_from(trace.redactions).unwrap_or(i64::MAX))
        .bind(json_text(stats)?)
        .bind(new.created_by)
        .bind(created_at_us)
        .execute(&mut *tx)
        .await?;

        insert_steps(&mut tx, &id, &trace.steps).await?;
        tx.commit().await?;
        self.search.enqueue(id.clone(), Arc::clone(new.trace)).await;

        Ok(TraceRecord {
            id,
            project_id: new.project_id.to_owned(),
            name: trace.name.clone(),
            description: trace.description.clone(),
            source_format: trace.source_format.clone(),
            status: trace.status,
            tags: trace.tags.clone(),
            metadata: trace.metadata.clone(),
            session_id: trace.session_id.clone(),
            stats: trace.stats.clone(),
            size_bytes: trace.size_bytes,
            redactions: trace.redactions,
            created_by: new.created_by.map(str::to_owned),
            created_at_us,
        })
    }

    async fn list_traces(&self, filter: &TraceFilter) -> Result<TracePage, StoreError> {
        let limit = filter.limit.clamp(1, 1000);
        let mut query =
            QueryBuilder::<Sqlite>::new(format!("SELECT {TRACE_COLUMNS} FROM traces WHERE 1 = 1"));
        if let Some(project_ids) = &filter.project_ids {
            if project_ids.is_empty() {
                return Ok(TracePage {
                    items: Vec::new(),
                    next_cursor: None,
                    more: false,
                });
            }
            query.push(" AND project_id IN (");
            let mut separated = query.separated(", ");
            for project_id in project_ids {
                separated.push_bind(project_id);
            }
            query.push(")");
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if filter.has_errors {
            query.push(" AND error_count > 0");
        }
        if let Some(tag) = &filter.tag {
            query
                .push(" AND EXISTS (SELECT 1 FROM json_each(traces.tags) WHERE json_each.value = ")
                .push_bind(tag)
                .push(")");
        }
        if let Some(since) = filter.since_us {
            query.push(" AND created_at_us >= ").push_bind(since);
        }
        if let Some(until) = filter.until_us {
            query.push(" AND created_at_us <= ").push_bind(until);
        }
        if let Some(cursor) = filter.cursor.as_ref().filter(|_| filter.sort.is_none()) {
            query
                .push(" AND (created_at_us < ")
                .push_bind(cursor.created_at_us)
                .push(" OR (created_at_us = ")
                .push_bind(cursor.created_at_us)
                .push(" AND id < ")
                .push_bind(&cursor.id)
                .push("))");
        }
        if let Some(match_expr) = filter.query.as_deref().and_then(fts_match_expression) {
            self.search.wait_for_backlog().await;
            query
                .push(" AND id IN (SELECT trace_id FROM trace_search WHERE trace_search MATCH ")
                .push_bind(match_expr)
                .push(")");
        }
        if let Some((sort, descending)) = filter.sort {
            let column = match sort {
                TraceSort::Name => "name COLLATE NOCASE",
                TraceSort::Steps => "step_count",
                TraceSort::Duration => "duration_us",
                TraceSort::Tokens => "total_tokens",
                TraceSort::Cost => "cost",
                TraceSort::Errors => "error_count",
                TraceSort::Received => "created_at_us",
            };
            let direction = if descending { "DESC" } else { "ASC" };
            query.push(format!(
                " ORDER BY {column} {direction} NULLS LAST, created_at_us DESC, id DESC LIMIT "
            ));
            query
                .push_bind(i64::from(limit) + 1)
                .push(" OFFSET ")
                .push_bind(i64::from(filter.offset));
            let rows = query.build().fetch_all(&self.pool).await?;
            let mut items = rows
                .iter()
                .map(trace_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let more = items.len() > limit as usize;
            items.truncate(limit as usize);
            return Ok(TracePage {
                items,
                next_cursor: None,
                more,
            });
        }
        query
            .push(" ORDER BY created_at_us DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut items = rows
            .iter()
            .map(trace_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|t| Cursor {
                created_at_us: t.created_at_us,
                id: t.id.clone(),
            })
        } else {
            None
        };
        Ok(TracePage {
            more: next_cursor.is_some(),
            items,
            next_cursor,
        })
    }

    async fn get_trace(&self, id: &str) -> Result<Option<TraceRecord>, StoreError> {
        fetch_record(&self.pool, id).await
    }

    async fn get_steps(&self, trace_id: &str) -> Result<Vec<Step>, StoreError> {
        fetch_steps(&self.pool, trace_id).await
    }

    async fn get_step(&self, trace_id: &str, step_id: &str) -> Result<Option<Step>, StoreError> {
        let sql = format!("SELECT {STEP_COLUMNS} FROM steps WHERE trace_id = ? AND step_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(trace_id)
            .bind(step_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(step_from_row).transpose()
    }

    async fn merge_steps(&self, merge: MergeSteps<'_>) -> Result<Merged, StoreError> {
        let now = now_us();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query(
            "SELECT id, metadata, redactions, size_bytes, session_id FROM traces \
             WHERE project_id = ? AND external_id = ?",
        )
        .bind(merge.project_id)
        .bind(merge.external_id)
        .fetch_optional(&mut *tx)
        .await?;
        let (id, mut metadata, redactions, size_bytes, session_id) = match existing {
            Some(row) => {
                let metadata: String = row.try_get("metadata")?;
                (
                    row.try_get::<String, _>("id")?,
                    from_json::<Map<String, Value>>(&metadata, "trace metadata")?,
                    u64::try_from(row.try_get::<i64, _>("redactions")?).unwrap_or(0),
                    u64::try_from(row.try_get::<i64, _>("size_bytes")?).unwrap_or(0),
                    row.try_get::<Option<String>, _>("session_id")?,
                )
            }
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                sqlx::query(
                    "INSERT INTO traces (id, project_id, external_id, name, source_format, status, \
                     step_count, error_count, tags, metadata, size_bytes, redactions, stats, \
                     created_by, created_at_us, search_indexed) \
                     VALUES (?, ?, ?, '', ?, 'running', 0, 0, '[]', '{}', 0, 0, '{}', ?, ?, 0)",
                )
                .bind(&id)
                .bind(merge.project_id)
                .bind(merge.external_id)
                .bind(merge.source_format)
                .bind(merge.created_by)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                (id, Map::new(), 0, 0, None)
            }
        };
        let known: std::collections::HashMap<String, i64> =
            sqlx::query("SELECT step_id, seq FROM steps WHERE trace_id = ?")
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| Ok((row.try_get("step_id")?, row.try_get("seq")?)))
                .collect::<Result<_, StoreError>>()?;
        let mut next_seq = known.values().max().map_or(0, |max| max + 1);
        let mut count = known.len() as u64;
        let mut refused = 0u64;
        let mut fresh = Vec::new();
        for mut step in merge.steps {
            if let Some(&seq) = known.get(&step.id) {
                // Arrived again (an exporter's retry, or a later update): replace it in place.
                step.seq = u32::try_from(seq).unwrap_or(0);
                let row = StepRow::from_step(&step)?;
                sqlx::query(
                    "UPDATE steps SET parent_id = ?, kind = ?, name = ?, start_us = ?, end_us = ?, \
                     duration_us = ?, status = ?, input = ?, output = ?, error = ?, model = ?, \
                     input_tokens = ?, output_tokens = ?, total_tokens = ?, cost = ?, metadata = ? \
                     WHERE trace_id = ? AND step_id = ?",
                )
                .bind(row.parent_id)
                .bind(row.kind)
                .bind(row.name)
                .bind(row.start_us)
                .bind(row.end_us)
                .bind(row.duration_us)
                .bind(row.status)
                .bind(row.input)
                .bind(row.output)
                .bind(row.error)
                .bind(row.model)
                .bind(row.input_tokens)
                .bind(row.output_tokens)
                .bind(row.total_tokens)
                .bind(row.cost)
                .bind(row.metadata)
                .bind(&id)
                .bind(&step.id)
                .execute(&mut *tx)
                .await?;
            } else if fresh.iter().any(|s: &Step| s.id == step.id) {
                // The same span twice in one request: the later copy wins.
                if let Some(earlier) = fresh.iter_mut().find(|s: &&mut Step| s.id == step.id) {
                    step.seq = earlier.seq;
                    *earlier = step;
                }
            } else if count >= u64::from(merge.max_steps) {
                refused += 1;
            } else {
                step.seq = u32::try_from(next_seq).unwrap_or(u32::MAX);
                next_seq += 1;
                count += 1;
                fresh.push(step);
            }
        }
        insert_steps(&mut tx, &id, &fresh).await?;
        // The whole trace as it is now: stats, status and name follow from its steps.
        let sql = format!("SELECT {STEP_COLUMNS} FROM steps WHERE trace_id = ? ORDER BY seq");
        let steps = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(step_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let stats = agenttrace_core::stats::compute(&steps);
        let status = agenttrace_core::stats::trace_status(&steps);
        let ids: std::collections::HashSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
        let name = steps
            .iter()
            .find(|s| s.parent_id.as_deref().is_none_or(|p| !ids.contains(p)))
            .map(|s| s.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                format!(
                    "trace {}",
                    merge.external_id.chars().take(8).collect::<String>()
                )
            });
        for (key, value) in merge.metadata {
            metadata.insert(key, value);
        }
        let session_id = merge.session_id.or(session_id);
        sqlx::query(
            "UPDATE traces SET name = ?, status = ?, start_us = ?, end_us = ?, duration_us = ?, \
             step_count = ?, error_count = ?, input_tokens = ?, output_tokens = ?, \
             total_tokens = ?, cost = ?, metadata = ?, session_id = ?, size_bytes = ?, \
             redactions = ?, stats = ?, search_indexed = 0 WHERE id = ?",
        )
        .bind(&name)
        .bind(status.as_str())
        .bind(stats.start_us)
        .bind(stats.end_us)
        .bind(stats.duration_us)
        .bind(i64::from(stats.step_count))
        .bind(i64::from(stats.error_count))
        .bind(to_i64(stats.usage.input_tokens))
        .bind(to_i64(stats.usage.output_tokens))
        .bind(to_i64(stats.usage.total_tokens))
        .bind(stats.cost)
        .bind(json_text(&metadata)?)
        .bind(&session_id)
        .bind(i64::try_from(size_bytes.saturating_add(merge.size_bytes)).unwrap_or(i64::MAX))
        .bind(i64::try_from(redactions.saturating_add(merge.redactions)).unwrap_or(i64::MAX))
        .bind(json_text(&stats)?)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // The search words come from the steps already read, not from a second read.
        let indexed = Trace {
            name,
            description: None,
            source_format: merge.source_format.to_owned(),
            status,
            tags: Vec::new(),
            metadata,
            session_id,
            steps,
            stats,
            size_bytes: 0,
            redactions: 0,
        };
        self.search.enqueue(id.clone(), Arc::new(indexed)).await;
        let record = fetch_record(&self.pool, &id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("merged trace {id} vanished")))?;
        Ok(Merged { record, refused })
    }

    async fn get_outline(&self, trace_id: &str) -> Result<Vec<StepOutline>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, step_id, parent_id, kind, name, start_us, end_us, duration_us, status, \
             error IS NOT NULL AS has_error, model, \
             CASE WHEN total_tokens IS NOT NULL THEN total_tokens \
                  WHEN input_tokens IS NULL AND output_tokens IS NULL THEN NULL \
                  ELSE COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) END AS total_tokens, \
             cost \
             FROM steps WHERE trace_id = ? ORDER BY seq",
        )
        .bind(trace_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let status: String = row.try_get("status")?;
                Ok(StepOutline {
                    id: row.try_get("step_id")?,
                    parent_id: row.try_get("parent_id")?,
                    seq: u32::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
                    kind: parse_enum::<StepKind>(&kind, "kind")?,
                    name: row.try_get("name")?,
                    start_us: row.try_get("start_us")?,
                    end_us: row.try_get("end_us")?,
                    duration_us: row.try_get("duration_us")?,
                    status: parse_enum::<Status>(&status, "status")?,
                    has_error: row.try_get("has_error")?,
                    model: row.try_get("model")?,
                    total_tokens: to_u64(row.try_get("total_tokens")?),
                    cost: row.try_get("cost")?,
                })
            })
            .collect()
    }

    async fn search_steps(
        &self,
        trace_id: &str,
        text: &str,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        // LIKE with the wildcards of the text escaped: the text is matched as it is.
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        // The text values inside the JSON, not its keys or escapes: searching `role` must not
        // find every chat, and a quote or a line break must match as written.
        let ids = sqlx::query_scalar(
            "SELECT step_id FROM steps WHERE trace_id = ?1 AND (name LIKE ?2 ESCAPE '\\' \
             OR EXISTS (SELECT 1 FROM json_tree(steps.input) \
                        WHERE type = 'text' AND value LIKE ?2 ESCAPE '\\') \
             OR EXISTS (SELECT 1 FROM json_tree(steps.output) \
                        WHERE type = 'text' AND value LIKE ?2 ESCAPE '\\') \
             OR EXISTS (SELECT 1 FROM json_tree(steps.error) \
                        WHERE type = 'text' AND value LIKE ?2 ESCAPE '\\') \
             OR EXISTS (SELECT 1 FROM json_tree(steps.metadata) \
                        WHERE type = 'text' AND value LIKE ?2 ESCAPE '\\')) \
             ORDER BY seq LIMIT ?3",
        )
        .bind(trace_id)
        .bind(pattern)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn dashboard(
        &self,
        project_ids: &[String],
        since_us: i64,
        bucket_us: i64,
    ) -> Result<Dashboard, StoreError> {
        crate::sqlite_dashboard::dashboard(&self.pool, project_ids, since_us, bucket_us).await
    }

    async fn delete_trace(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let deleted = sqlx::query("DELETE FROM traces WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM trace_search WHERE trace_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn counts(&self) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query("SELECT (SELECT COUNT(*) FROM traces), (SELECT COUNT(*) FROM steps)")
            .fetch_one(&self.pool)
            .await?;
        let traces: i64 = row.try_get(0)?;
        let steps: i64 = row.try_get(1)?;
        Ok((
            u64::try_from(traces).unwrap_or(0),
            u64::try_from(steps).unwrap_or(0),
        ))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        PoolStatus {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: MAX_CONNECTIONS,
        }
    }

    async fn close(&self) {
        self.search.close().await;
        // Folds the WAL back into the database file so a closed data folder is one file.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "wal checkpoint at close failed");
        }
        self.pool.close().await;
    }
}

async fn fetch_record(pool: &SqlitePool, id: &str) -> Result<Option<TraceRecord>, StoreError> {
    let sql = format!("SELECT {TRACE_COLUMNS} FROM traces WHERE id = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(trace_from_row).transpose()
}

/// Inserts steps of a trace, many rows per statement.
async fn insert_steps(
    conn: &mut sqlx::SqliteConnection,
    trace_id: &str,
    steps: &[Step],
) -> Result<(), StoreError> {
    for chunk in steps.chunks(STEP_ROWS_PER_INSERT) {
        let rows = chunk
            .iter()
            .map(StepRow::from_step)
            .collect::<Result<Vec<_>, _>>()?;
        let mut insert =
            QueryBuilder::<Sqlite>::new(format!("INSERT INTO steps (trace_id, {STEP_COLUMNS}) "));
        insert.push_values(rows, |mut b, row| {
            b.push_bind(trace_id)
                .push_bind(row.seq)
                .push_bind(row.step_id)
                .push_bind(row.parent_id)
                .push_bind(row.kind)
                .push_bind(row.name)
                .push_bind(row.start_us)
                .push_bind(row.end_us)
                .push_bind(row.duration_us)
                .push_bind(row.status)
                .push_bind(row.input)
                .push_bind(row.output)
                .push_bind(row.error)
                .push_bind(row.model)
                .push_bind(row.input_tokens)
                .push_bind(row.output_tokens)
                .push_bind(row.total_tokens)
                .push_bind(row.cost)
                .push_bind(row.metadata);
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn fetch_steps(pool: &SqlitePool, trace_id: &str) -> Result<Vec<Step>, StoreError> {
    let sql = format!("SELECT {STEP_COLUMNS} FROM steps WHERE trace_id = ? ORDER BY seq");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(trace_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(step_from_row).collect()
}

/// A stored trace with its steps, as it was when stored.
pub(crate) async fn load_trace(pool: &SqlitePool, id: &str) -> Result<Option<Trace>, StoreError> {
    let Some(record) = fetch_record(pool, id).await? else {
        return Ok(None);
    };
    let steps = fetch_steps(pool, id).await?;
    Ok(Some(Trace {
        name: record.name,
        description: record.description,
        source_format: record.source_format,
        status: record.status,
        tags: record.tags,
        metadata: record.metadata,
        session_id: record.session_id,
        steps,
        stats: record.stats,
        size_bytes: record.size_bytes,
        redactions: record.redactions,
    }))
}

/// Turns a user's query into an FTS5 expression: every term quoted (so no FTS syntax can be
/// injected) and matched as a prefix. `None` when the query has no searchable term.
fn fts_match_expression(query: &str) -> Option<String> {
    let terms = query_terms(query);
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("\"{}\"*", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND "),
    )
}

struct StepRow {
    seq: i64,
    step_id: String,
    parent_id: Option<String>,
    kind: &'static str,
    name: String,
    start_us: Option<i64>,
    end_us: Option<i64>,
    duration_us: Option<i64>,
    status: &'static str,
    input: Option<String>,
    output: Option<String>,
    error: Option<String>,
    model: Option<String>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    total_tokens: Option<i64>,
    cost: Option<f64>,
    metadata: String,
}

impl StepRow {
    fn from_step(step: &Step) -> Result<StepRow, StoreError> {
        Ok(StepRow {
            seq: i64::from(step.seq),
            step_id: step.id.clone(),
            parent_id: step.parent_id.clone(),
            kind: step.kind.as_str(),
            name: step.name.clone(),
            start_us: step.start_us,
            end_us: step.end_us,
            duration_us: step.duration_us,
            status: step.status.as_str(),
            input: step.input.as_ref().map(json_text).transpose()?,
            output: step.output.as_ref().map(json_text).transpose()?,
            error: step.error.as_ref().map(json_text).transpose()?,
            model: step.model.clone(),
            input_tokens: to_i64(step.usage.input_tokens),
            output_tokens: to_i64(step.usage.output_tokens),
            total_tokens: to_i64(step.usage.total_tokens),
            cost: step.cost,
            metadata: json_text(&step.metadata)?,
        })
    }
}

fn to_i64(value: Option<u64>) -> Option<i64> {
    value.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn to_u64(value: Option<i64>) -> Option<u64> {
    value.map(|v| u64::try_from(v).unwrap_or(0))
}

fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse_enum<T: FromStr>(text: &str, what: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} {text:?}")))
}

fn trace_from_row(row: &SqliteRow) -> Result<TraceRecord, StoreError> {
    let stats_text: String = row.try_get("stats")?;
    let mut stats: TraceStats = from_json(&stats_text, "trace stats")?;
    // The columns are the source of truth for what lists filter on.
    stats.step_count = u32::try_from(row.try_get::<i64, _>("step_count")?).unwrap_or(0);
    stats.error_count = u32::try_from(row.try_get::<i64, _>("error_count")?).unwrap_or(0);
    stats.usage = Usage {
        input_tokens: to_u64(row.try_get("input_tokens")?),
        output_tokens: to_u64(row.try_get("output_tokens")?),
        total_tokens: to_u64(row.try_get("total_tokens")?),
    };
    let tags: String = row.try_get("tags")?;
    let metadata: String = row.try_get("metadata")?;
    let status: String = row.try_get("status")?;
    Ok(TraceRecord {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        source_format: row.try_get("source_format")?,
        status: parse_enum::<Status>(&status, "status")?,
        tags: from_json(&tags, "tags")?,
        metadata: from_json::<Map<String, Value>>(&metadata, "metadata")?,
        session_id: row.try_get("session_id")?,
        stats,
        size_bytes: u64::try_from(row.try_get::<i64, _>("size_bytes")?).unwrap_or(0),
        redactions: u64::try_from(row.try_get::<i64, _>("redactions")?).unwrap_or(0),
        created_by: row.try_get("created_by")?,
        created_at_us: row.try_get("created_at_us")?,
    })
}

fn optional_json<T: serde::de::DeserializeOwned>(
    row: &SqliteRow,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| from_json(&t, column)).transpose()
}

fn step_from_row(row: &SqliteRow) -> Result<Step, StoreError> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(Step {
        id: row.try_get("step_id")?,
        parent_id: row.try_get("parent_id")?,
        seq: u32::try_from(row.try_get::<i64, _>("seq")?).unwrap_or(0),
        kind: parse_enum::<StepKind>(&kind, "kind")?,
        name: row.try_get("name")?,
        start_us: row.try_get("start_us")?,
        end_us: row.try_get("end_us")?,
        duration_us: row.try_get("duration_us")?,
        status: parse_enum::<Status>(&status, "status")?,
        input: optional_json(row, "input")?,
        output: optional_json(row, "output")?,
        error: optional_json::<StepError>(row, "error")?,
        model: row.try_get("model")?,
        usage: Usage {
            input_tokens: to_u64(row.try_get("input_tokens")?),
            output_tokens: to_u64(row.try_get("output_tokens")?),
            total_tokens: to_u64(row.try_get("total_tokens")?),
        },
        cost: row.try_get("cost")?,
        metadata: from_json(&metadata, "step metadata")?,
    })
}
