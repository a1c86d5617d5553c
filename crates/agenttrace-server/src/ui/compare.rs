//! `/compare?a={id}&b={id}`: two runs side by side, their steps aligned by kind and name.

use super::pages::{Layout, render, signed_in};
use crate::api::traces::find_trace;
use crate::app::AppState;
use crate::principal::Principal;
use crate::problem::Problem;
use crate::ui::format;
use agenttrace_core::align::{Aligned, Key, align};
use agenttrace_store::{StepOutline, TraceFilter, TraceRecord};
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct CompareQuery {
    #[serde(default)]
    a: String,
    #[serde(default)]
    b: String,
}

/// A number of A, of B, and how B differs: `better` when lower.
struct Delta {
    a: String,
    b: String,
    change: String,
    /// `better`, `worse` or `same`.
    class: &'static str,
}

fn delta(a: Option<f64>, b: Option<f64>, show: impl Fn(f64) -> String) -> Delta {
    let text = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), &show);
    let (change, class) = match (a, b) {
        (Some(a), Some(b)) if (b - a).abs() > f64::EPSILON => {
            let sign = if b > a { "+" } else { "−" };
            let pct = if a.abs() > f64::EPSILON {
                format!(" ({sign}{:.0}%)", ((b - a) / a * 100.0).abs())
            } else {
                String::new()
            };
            (
                format!("{sign}{}{pct}", show((b - a).abs())),
                if b < a { "better" } else { "worse" },
            )
        }
        (Some(_), Some(_)) => ("=".to_owned(), "same"),
        _ => (String::new(), "same"),
    };
    Delta {
        a: text(a),
        b: text(b),
        change,
        class,
    }
}

struct Side {
    id: String,
    kind: &'static str,
    name: String,
    error: bool,
}

struct Row {
    /// `both`, `removed` (only in A) or `added` (only in B).
    class: &'static str,
    a: Option<Side>,
    b: Option<Side>,
    duration: Delta,
    tokens: Delta,
    cost: Delta,
}

struct Run {
    id: String,
    name: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    l: Layout,
    a: Run,
    b: Run,
    totals: Vec<(&'static str, Delta)>,
    rows: Vec<Row>,
    same: usize,
    added: usize,
    removed: usize,
}

#[derive(Template)]
#[template(path = "compare_pick.html")]
struct PickPage {
    l: Layout,
    a: String,
    a_name: String,
    choices: Vec<(String, String, String)>,
    error: Option<String>,
}

fn ms(us: Option<i64>) -> Option<f64> {
    us.map(|us| us as f64 / 1000.0)
}

fn step_duration(s: &StepOutline) -> Option<f64> {
    ms(s.duration_us
        .or_else(|| s.start_us.zip(s.end_us).map(|(a, b)| b - a)))
}

fn side(s: &StepOutline) -> Side {
    Side {
        id: s.id.clone(),
        kind: s.kind.as_str(),
        name: s.name.clone(),
        error: s.has_error || s.status == agenttrace_core::Status::Error,
    }
}

fn tokens(v: f64) -> String {
    format::count(v.round() as u64)
}

fn run(record: &TraceRecord) -> Run {
    Run {
        id: record.id.clone(),
        name: record.name.clone(),
        status: record.status.as_str(),
    }
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<CompareQuery>, QueryRejection>,
) -> Response {
    let (principal, csrf) = match signed_in(&state, &headers, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let l = Layout::for_user("compare", &principal, &csrf);
    let not_found = |l: Layout| {
        super::pages::message(
            StatusCode::NOT_FOUND,
            l,
            "Trace not found",
            "One of the traces to compare does not exist, or is in a project you cannot see.",
        )
    };
    let a = match readable(&state, &principal, &q.a).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            return pick(
                &state,
                &principal,
                l,
                None,
                Some("Choose a trace from the list to compare."),
            )
            .await;
        }
        Err(problem) if problem.status == 404 => return not_found(l),
        Err(problem) => return problem.into_response(),
    };
    let b = match readable(&state, &principal, &q.b).await {
        Ok(Some(record)) => record,
        Ok(None) => return pick(&state, &principal, l, Some(&a), None).await,
        Err(problem) if problem.status == 404 => return not_found(l),
        Err(problem) => return problem.into_response(),
    };
    let (steps_a, steps_b) = match (
        state.store.get_outline(&a.id).await,
        state.store.get_outline(&b.id).await,
    ) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => return Problem::from(e).into_response(),
    };
    let keys = |steps: &[StepOutline]| -> Vec<(&'static str, String)> {
        steps
            .iter()
            .map(|s| (s.kind.as_str(), s.name.clone()))
            .collect()
    };
    let (ka, kb) = (keys(&steps_a), keys(&steps_b));
    // Up to millions of cells for big runs: on a blocking thread, not the async one.
    let aligned = match tokio::task::spawn_blocking(move || {
        let ka: Vec<Key<'_>> = ka.iter().map(|(kind, name)| Key { kind, name }).collect();
        let kb: Vec<Key<'_>> = kb.iter().map(|(kind, name)| Key { kind, name }).collect();
        align(&ka, &kb)
    })
    .await
    {
        Ok(aligned) => aligned,
        Err(e) => return Problem::internal(&e).into_response(),
    };
    let (mut same, mut added, mut removed) = (0, 0, 0);
    let rows = aligned
        .iter()
        .map(|row| {
            let (sa, sb, class) = match *row {
                Aligned::Both(i, j) => {
                    same += 1;
                    (Some(&steps_a[i]), Some(&steps_b[j]), "both")
                }
                Aligned::OnlyA(i) => {
                    removed += 1;
                    (Some(&steps_a[i]), None, "removed")
                }
                Aligned::OnlyB(j) => {
                    added += 1;
                    (None, Some(&steps_b[j]), "added")
                }
            };
            Row {
                class,
                duration: delta(
                    sa.and_then(step_duration),
                    sb.and_then(step_duration),
                    format::duration_ms,
                ),
                tokens: delta(
                    sa.and_then(|s| s.total_tokens).map(|t| t as f64),
                    sb.and_then(|s| s.total_tokens).map(|t| t as f64),
                    tokens,
                ),
                cost: delta(
                    sa.and_then(|s| s.cost),
                    sb.and_then(|s| s.cost),
                    format::cost,
                ),
                a: sa.map(side),
                b: sb.map(side),
            }
        })
        .collect();
    let (sa, sb) = (&a.stats, &b.stats);
    let totals = vec![
        (
            "Duration",
            delta(ms(sa.duration_us), ms(sb.duration_us), format::duration_ms),
        ),
        (
            "Steps",
            delta(
                Some(f64::from(sa.step_count)),
                Some(f64::from(sb.step_count)),
                tokens,
            ),
        ),
        (
            "Errors",
            delta(
                Some(f64::from(sa.error_count)),
                Some(f64::from(sb.error_count)),
                tokens,
            ),
        ),
        (
            "Tokens",
            delta(
                sa.usage.total_tokens.map(|t| t as f64),
                sb.usage.total_tokens.map(|t| t as f64),
                tokens,
            ),
        ),
        ("Cost", delta(sa.cost, sb.cost, format::cost)),
    ];
    render(
        StatusCode::OK,
        &ComparePage {
            l,
            a: run(&a),
            b: run(&b),
            totals,
            rows,
            same,
            added,
            removed,
        },
    )
}

/// The trace `id` when the caller may read it; `None` when no id was given.
async fn readable(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Option<TraceRecord>, Problem> {
    if id.trim().is_empty() {
        return Ok(None);
    }
    find_trace(state, principal, id.trim())
        .await
        .map(|(record, _)| Some(record))
}

/// Asks for the other trace: the caller's recent traces, as links.
async fn pick(
    state: &AppState,
    principal: &Principal,
    l: Layout,
    a: Option<&TraceRecord>,
    error: Option<&str>,
) -> Response {
    let projects = match principal.readable_projects(state).await {
        Ok(projects) => projects,
        Err(problem) => return problem.into_response(),
    };
    let page = match state
        .store
        .list_traces(&TraceFilter {
            project_ids: Some(projects),
            limit: 30,
            ..TraceFilter::default()
        })
        .await
    {
        Ok(page) => page,
        Err(e) => return Problem::from(e).into_response(),
    };
    let now = state.clock.now_us();
    let choices = page
        .items
        .iter()
        .filter(|r| a.is_none_or(|a| a.id != r.id))
        .map(|r| {
            (
                r.id.clone(),
                r.name.clone(),
                format::age(r.created_at_us, now),
            )
        })
        .collect();
    render(
        StatusCode::OK,
        &PickPage {
            l,
            a: a.map(|r| r.id.clone()).unwrap_or_default(),
            a_name: a.map(|r| r.name.clone()).unwrap_or_default(),
            choices,
            error: error.map(str::to_owned),
        },
    )
}
