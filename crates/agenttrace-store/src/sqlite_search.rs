//! Writing a trace's search words after the trace commits.
//!
//! Cutting a large trace into words costs as much as storing its steps, and an upload is answered
//! once its trace is stored, so the words are written by one background task, in upload order.
//! A search waits for the uploads that were stored before it began, so it never misses a trace a
//! client has already been told about. A trace is marked until its words are written; a restart
//! after a crash writes the words of every marked trace before the store opens.

use crate::StoreError;
use crate::search_text::trace_text;
use agenttrace_core::Trace;
use sqlx::{Row, SqlitePool};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// Traces waiting for their words. Each holds its trace in memory, so the queue is short: an
/// upload that finds it full waits, which paces uploads to what the machine can index.
const QUEUE_LEN: usize = 4;

struct Job {
    id: String,
    trace: Arc<Trace>,
}

/// How far the background task has come: jobs are numbered in the order they were queued.
#[derive(Default)]
struct Progress {
    queued: AtomicU64,
    done: AtomicU64,
    advanced: Notify,
}

impl Progress {
    fn finish_one(&self) {
        self.done.fetch_add(1, Ordering::AcqRel);
        self.advanced.notify_waiters();
    }
}

pub(crate) struct SearchIndexer {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    progress: Arc<Progress>,
}

impl std::fmt::Debug for SearchIndexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndexer")
            .field("queued", &self.progress.queued.load(Ordering::Acquire))
            .field("done", &self.progress.done.load(Ordering::Acquire))
            .finish()
    }
}

impl SearchIndexer {
    /// Writes the words of traces left marked by an earlier run, then starts the background task.
    pub(crate) async fn start(pool: SqlitePool) -> Result<SearchIndexer, StoreError> {
        catch_up(&pool).await?;
        let (sender, receiver) = mpsc::channel(QUEUE_LEN);
        let progress = Arc::new(Progress::default());
        let worker = tokio::spawn(run(pool, receiver, Arc::clone(&progress)));
        Ok(SearchIndexer {
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(Some(worker)),
            progress,
        })
    }

    /// Queues a stored trace for indexing. After `close` the trace stays marked and is indexed
    /// at the next start.
    pub(crate) async fn enqueue(&self, id: String, trace: Arc<Trace>) {
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(sender) = sender else {
            return;
        };
        // Counted before sending, so a search that starts after this upload is answered waits.
        self.progress.queued.fetch_add(1, Ordering::AcqRel);
        if sender.send(Job { id, trace }).await.is_err() {
            self.progress.finish_one();
        }
    }

    /// Waits until every trace queued before this call has its words written.
    pub(crate) async fn wait_for_backlog(&self) {
        let target = self.progress.queued.load(Ordering::Acquire);
        loop {
            let advanced = self.progress.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            if self.progress.done.load(Ordering::Acquire) >= target {
                return;
            }
            advanced.await;
        }
    }

    /// Number of traces queued and not yet indexed.
    pub(crate) fn backlog(&self) -> u64 {
        let queued = self.progress.queued.load(Ordering::Acquire);
        queued.saturating_sub(self.progress.done.load(Ordering::Acquire))
    }

    /// Stops taking traces and waits for the queued ones to be written.
    pub(crate) async fn close(&self) {
        drop(
            self.sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let worker = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(worker) = worker
            && let Err(e) = worker.await
        {
            tracing::error!(error = %e, "search indexer stopped abnormally");
        }
    }
}

async fn run(pool: SqlitePool, mut receiver: mpsc::Receiver<Job>, progress: Arc<Progress>) {
    while let Some(job) = receiver.recv().await {
        if let Err(e) = index_one(&pool, &job.id, job.trace).await {
            // The trace stays marked and is indexed again at the next start.
            tracing::error!(trace_id = %job.id, error = %e, "writing search words failed");
        }
        progress.finish_one();
    }
}

async fn index_one(pool: &SqlitePool, id: &str, trace: Arc<Trace>) -> Result<(), StoreError> {
    let body = tokio::task::spawn_blocking(move || trace_text(&trace))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?;
    write_words(pool, id, &body).await
}

/// Writes the words and clears the mark in one transaction. A trace deleted in the meantime gets
/// no words: the check and the write happen under the same write lock as deletes.
async fn write_words(pool: &SqlitePool, id: &str, body: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    // A trace that grows (spans merged in over several requests) is indexed again each time;
    // jobs run in order, so the last words written are those of its latest state.
    sqlx::query("DELETE FROM trace_search WHERE trace_id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO trace_search (trace_id, body) \
         SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM traces WHERE id = ?1)",
    )
    .bind(id)
    .bind(body)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE traces SET search_indexed = 1 WHERE id = ?")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Indexes the traces an earlier run stored but did not index (it stopped in between).
async fn catch_up(pool: &SqlitePool) -> Result<(), StoreError> {
    let pending: Vec<String> = sqlx::query("SELECT id FROM traces WHERE search_indexed = 0")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
    if pending.is_empty() {
        return Ok(());
    }
    tracing::info!(
        traces = pending.len(),
        "writing the search words an earlier run left unwritten"
    );
    for id in pending {
        let Some(trace) = crate::sqlite::load_trace(pool, &id).await? else {
            continue;
        };
        index_one(pool, &id, Arc::new(trace)).await?;
    }
    Ok(())
}
