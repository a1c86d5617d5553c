//! `agenttrace import`: files and folders straight into the data folder, through the same
//! pipeline as an upload (limits, redaction, stats), with a progress bar and a summary.

use crate::cli::ImportArgs;
use crate::say;
use agenttrace_core::ingest::IngestOptions;
use agenttrace_core::redact::Redactor;
use agenttrace_core::{Limits, prepare};
use agenttrace_store::{DEFAULT_PROJECT, NewTrace, SqliteStore, TraceStore};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub async fn run(args: ImportArgs) -> ExitCode {
    let (limits, redact) = match (args.common.limits(), args.common.redact_config()) {
        (Ok(limits), Ok(redact)) => (limits, redact),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let redactor = match Redactor::new(&redact) {
        Ok(redactor) => redactor,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let (files, mut rejected) = collect_files(&args.paths);
    let store = match SqliteStore::open(&args.common.data_dir).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    let progress = if files.len() > 1 {
        ProgressBar::new(files.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} files  {msg}") {
        progress.set_style(style);
    }
    let mut imported = 0u64;
    let mut steps = 0u64;
    let mut redactions = 0u64;
    for file in &files {
        progress.set_message(file.display().to_string());
        match import_file(&store, file, &limits, &redactor).await {
            Ok((step_count, redacted)) => {
                imported += 1;
                steps += u64::from(step_count);
                redactions += redacted;
            }
            Err(reason) => rejected.push((file.clone(), reason)),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    store.close().await;

    say!(
        "imported {imported} trace{} ({steps} steps, {redactions} secret values redacted) into {}",
        plural(imported),
        args.common.data_dir.display()
    );
    if rejected.is_empty() {
        return ExitCode::SUCCESS;
    }
    say!(
        "rejected {} file{}:",
        rejected.len(),
        plural(rejected.len() as u64)
    );
    for (path, reason) in &rejected {
        say!("  {}: {reason}", path.display());
    }
    ExitCode::FAILURE
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

async fn import_file(
    store: &SqliteStore,
    path: &Path,
    limits: &Limits,
    redactor: &Redactor,
) -> Result<(u32, u64), String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > limits.max_body_bytes {
        return Err(format!(
            "the file is too large: {size} bytes, the limit is {} bytes",
            limits.max_body_bytes
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let stem = file_name
        .as_deref()
        .map(|n| n.rsplit_once('.').map_or(n, |(stem, _)| stem).to_owned());
    let prepared = prepare(
        &bytes,
        IngestOptions {
            limits,
            redactor,
            name: None,
            fallback_name: stem.as_deref(),
        },
    )
    .map_err(|e| e.to_string())?;
    let trace = std::sync::Arc::new(prepared.trace);
    let record = store
        .insert_trace(NewTrace {
            trace: &trace,
            project_id: DEFAULT_PROJECT,
            created_by: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    agenttrace_server::api::traces::log_redactions(&record.id, &prepared.redaction);
    Ok((record.stats.step_count, record.redactions))
}

/// Expands folders (recursively, in name order, skipping hidden entries and not following
/// symbolic links to folders) into files. Paths that cannot be read are returned as rejections.
fn collect_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut rejected = Vec::new();
    for path in paths {
        let mut pending = vec![path.clone()];
        while let Some(current) = pending.pop() {
            let metadata = match std::fs::symlink_metadata(&current) {
                Ok(m) => m,
                Err(e) => {
                    rejected.push((current, e.to_string()));
                    continue;
                }
            };
            let is_dir = metadata.is_dir()
                || (metadata.file_type().is_symlink() && current == *path && current.is_dir());
            if !is_dir {
                if metadata.is_file() || current.is_file() {
                    files.push(current);
                } else {
                    rejected.push((current, "not a regular file".to_owned()));
                }
                continue;
            }
            match std::fs::read_dir(&current) {
                Ok(entries) => {
                    let mut children: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .filter(|e| {
                            e.file_type()
                                .is_ok_and(|t| !t.is_symlink() || e.path().is_file())
                        })
                        .map(|e| e.path())
                        .collect();
                    children.sort();
                    pending.extend(children.into_iter().rev());
                }
                Err(e) => rejected.push((current, e.to_string())),
            }
        }
    }
    (files, rejected)
}
