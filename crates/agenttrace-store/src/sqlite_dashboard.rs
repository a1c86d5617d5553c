//! The dashboard's queries on SQLite. Counts and sums are grouped in SQL; percentiles are taken
//! in Rust from the sorted durations (one `INTEGER` per trace, or per timed tool call of the
//! listed tools), which stays small for the hundred thousand traces a dashboard period holds.
//! Every query runs in one read transaction, so the numbers agree with each other.

use crate::StoreError;
use crate::dashboard::{Bucket, DASHBOARD_TOP, Dashboard, ModelUsage, ToolUsage, percentile};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::collections::HashMap;

/// A failed step: the same rule as the core's `Step::is_error` for the kinds counted here.
const STEP_FAILED: &str = "(s.status = 'error' OR s.error IS NOT NULL)";

/// The dashboard over the traces of `project_ids` received at or after `since_us`, in buckets
/// of `bucket_us` (at least one microsecond).
pub(crate) async fn dashboard(
    pool: &SqlitePool,
    project_ids: &[String],
    since_us: i64,
    bucket_us: i64,
) -> Result<Dashboard, StoreError> {
    let bucket_us = bucket_us.max(1);
    let mut out = Dashboard {
        since_us,
        bucket_us,
        totals: Bucket {
            start_us: since_us,
            ..Bucket::default()
        },
        ..Dashboard::default()
    };
    if project_ids.is_empty() {
        return Ok(out);
    }
    let mut tx = pool.begin().await?;
    let conn: &mut SqliteConnection = &mut tx;
    out.buckets = buckets(conn, project_ids, since_us, bucket_us).await?;
    out.totals = durations(conn, project_ids, since_us, bucket_us, &mut out.buckets).await?;
    out.tools = tools(conn, project_ids, since_us).await?;
    out.models = models(conn, project_ids, since_us).await?;
    tx.commit().await?;
    Ok(out)
}

/// Appends ` WHERE t.project_id IN (…) AND t.created_at_us >= since` for the traces table
/// aliased `t`.
fn push_scope(query: &mut QueryBuilder<Sqlite>, project_ids: &[String], since_us: i64) {
    query.push(" WHERE t.project_id IN (");
    let mut separated = query.separated(", ");
    for id in project_ids {
        separated.push_bind(id.clone());
    }
    query.push(") AND t.created_at_us >= ").push_bind(since_us);
}

/// Pushes the bucket index of a trace: `(t.created_at_us - since) / bucket`.
fn push_bucket(query: &mut QueryBuilder<Sqlite>, since_us: i64, bucket_us: i64) {
    query
        .push("(t.created_at_us - ")
        .push_bind(since_us)
        .push(") / ")
        .push_bind(bucket_us);
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

async fn buckets(
    conn: &mut SqliteConnection,
    project_ids: &[String],
    since_us: i64,
    bucket_us: i64,
) -> Result<Vec<Bucket>, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT ");
    push_bucket(&mut query, since_us, bucket_us);
    query.push(
        " AS bucket, COUNT(*) AS traces, \
         SUM(CASE WHEN t.status = 'error' OR t.error_count > 0 THEN 1 ELSE 0 END) AS error_traces, \
         COALESCE(SUM(t.total_tokens), 0) AS total_tokens, \
         COALESCE(SUM(t.cost), 0.0) AS cost \
         FROM traces t",
    );
    push_scope(&mut query, project_ids, since_us);
    query.push(" GROUP BY bucket ORDER BY bucket");
    let rows = query.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            let index: i64 = row.try_get("bucket")?;
            Ok(Bucket {
                start_us: since_us.saturating_add(index.saturating_mul(bucket_us)),
                traces: count(row, "traces")?,
                error_traces: count(row, "error_traces")?,
                p50_duration_us: None,
                p95_duration_us: None,
                total_tokens: count(row, "total_tokens")?,
                cost: row.try_get("cost")?,
            })
        })
        .collect()
}

/// Fills the buckets' duration percentiles and returns the totals over every bucket.
async fn durations(
    conn: &mut SqliteConnection,
    project_ids: &[String],
    since_us: i64,
    bucket_us: i64,
    buckets: &mut [Bucket],
) -> Result<Bucket, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT ");
    push_bucket(&mut query, since_us, bucket_us);
    query.push(" AS bucket, t.duration_us AS duration_us FROM traces t");
    push_scope(&mut query, project_ids, since_us);
    query.push(" AND t.duration_us IS NOT NULL ORDER BY bucket, t.duration_us");
    let rows = query.build().fetch_all(&mut *conn).await?;

    let mut by_bucket: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut all = Vec::with_capacity(rows.len());
    for row in &rows {
        let index: i64 = row.try_get("bucket")?;
        let duration: i64 = row.try_get("duration_us")?;
        by_bucket.entry(index).or_default().push(duration);
        all.push(duration);
    }
    for bucket in buckets.iter_mut() {
        let index = (bucket.start_us - since_us) / bucket_us;
        if let Some(sorted) = by_bucket.get(&index) {
            bucket.p50_duration_us = percentile(sorted, 50.0);
            bucket.p95_duration_us = percentile(sorted, 95.0);
        }
    }
    all.sort_unstable();
    Ok(Bucket {
        start_us: since_us,
        traces: buckets.iter().map(|b| b.traces).sum(),
        error_traces: buckets.iter().map(|b| b.error_traces).sum(),
        p50_duration_us: percentile(&all, 50.0),
        p95_duration_us: percentile(&all, 95.0),
        total_tokens: buckets
            .iter()
            .fold(0u64, |sum, b| sum.saturating_add(b.total_tokens)),
        cost: buckets.iter().map(|b| b.cost).sum(),
    })
}

async fn tools(
    conn: &mut SqliteConnection,
    project_ids: &[String],
    since_us: i64,
) -> Result<Vec<ToolUsage>, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(format!(
        "SELECT s.name AS name, COUNT(*) AS calls, AVG(s.duration_us) AS mean_us, \
         SUM(CASE WHEN {STEP_FAILED} THEN 1 ELSE 0 END) AS errors \
         FROM steps s JOIN traces t ON t.id = s.trace_id"
    ));
    push_scope(&mut query, project_ids, since_us);
    query
        .push(" AND s.kind = 'tool' GROUP BY s.name ORDER BY calls DESC, s.name LIMIT ")
        .push_bind(DASHBOARD_TOP as i64);
    let rows = query.build().fetch_all(&mut *conn).await?;
    let mut tools = rows
        .iter()
        .map(|row| {
            Ok(ToolUsage {
                name: row.try_get("name")?,
                calls: count(row, "calls")?,
                mean_duration_us: row.try_get("mean_us")?,
                p95_duration_us: None,
                errors: count(row, "errors")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if tools.is_empty() {
        return Ok(tools);
    }

    // The durations of the listed tools' timed calls, for their 95th percentiles.
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT s.name AS name, s.duration_us AS duration_us \
         FROM steps s JOIN traces t ON t.id = s.trace_id",
    );
    push_scope(&mut query, project_ids, since_us);
    query.push(" AND s.kind = 'tool' AND s.duration_us IS NOT NULL AND s.name IN (");
    let mut separated = query.separated(", ");
    for tool in &tools {
        separated.push_bind(tool.name.clone());
    }
    query.push(") ORDER BY s.name, s.duration_us");
    let rows = query.build().fetch_all(&mut *conn).await?;
    let mut by_name: HashMap<String, Vec<i64>> = HashMap::new();
    for row in &rows {
        let name: String = row.try_get("name")?;
        let duration: i64 = row.try_get("duration_us")?;
        by_name.entry(name).or_default().push(duration);
    }
    for tool in &mut tools {
        if let Some(sorted) = by_name.get(&tool.name) {
            tool.p95_duration_us = percentile(sorted, 95.0);
        }
    }
    Ok(tools)
}

async fn models(
    conn: &mut SqliteConnection,
    project_ids: &[String],
    since_us: i64,
) -> Result<Vec<ModelUsage>, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT s.model AS name, COUNT(*) AS calls, \
         COALESCE(SUM(s.input_tokens), 0) AS input_tokens, \
         COALESCE(SUM(s.output_tokens), 0) AS output_tokens, \
         COALESCE(SUM(COALESCE(s.total_tokens, \
             COALESCE(s.input_tokens, 0) + COALESCE(s.output_tokens, 0))), 0) AS total_tokens, \
         COALESCE(SUM(s.cost), 0.0) AS cost \
         FROM steps s JOIN traces t ON t.id = s.trace_id",
    );
    push_scope(&mut query, project_ids, since_us);
    query
        .push(" AND s.model IS NOT NULL GROUP BY s.model ORDER BY calls DESC, s.model LIMIT ")
        .push_bind(DASHBOARD_TOP as i64);
    let rows = query.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            Ok(ModelUsage {
                name: row.try_get("name")?,
                calls: count(row, "calls")?,
                input_tokens: count(row, "input_tokens")?,
                output_tokens: count(row, "output_tokens")?,
                total_tokens: count(row, "total_tokens")?,
                cost: row.try_get("cost")?,
            })
        })
        .collect()
}
