//! `GET /dashboard?project_id=…&range=24h|7d|30d`: traces and errors over time, duration
//! percentiles, tokens and cost, and the most used tools and models, as server-drawn SVG.
//!
//! Without a `project_id` the dashboard covers every project the user can read (the page says
//! so), like the trace list does. Buckets are whole UTC hours for the last 24 hours and whole
//! UTC days otherwise; the last bucket is the one that holds now.

use crate::app::AppState;
use crate::problem::Problem;
use crate::ui::charts::{self, Series, TimeAxis, Unit};
use crate::ui::format;
use crate::ui::pages::{Layout, signed_in};
use agenttrace_store::Dashboard;
use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

#[derive(Debug, Default, Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    project_id: String,
    #[serde(default)]
    range: String,
}

/// A time range the page offers: its URL value, its label, how many buckets of which size.
struct Range {
    value: &'static str,
    label: &'static str,
    buckets: i64,
    hourly: bool,
}

const RANGES: [Range; 3] = [
    Range {
        value: "24h",
        label: "24 hours",
        buckets: 24,
        hourly: true,
    },
    Range {
        value: "7d",
        label: "7 days",
        buckets: 7,
        hourly: false,
    },
    Range {
        value: "30d",
        label: "30 days",
        buckets: 30,
        hourly: false,
    },
];

const DEFAULT_RANGE: usize = 1;

impl Range {
    fn bucket_us(&self) -> i64 {
        if self.hourly { HOUR_US } else { DAY_US }
    }

    fn per(&self) -> &'static str {
        if self.hourly { "hour" } else { "day" }
    }
}

/// A link of the range selector.
struct RangeLink {
    label: &'static str,
    url: String,
    current: bool,
}

/// A figure over the whole period, above the charts.
struct Tile {
    label: &'static str,
    value: String,
    note: String,
    bad: bool,
}

struct ToolRow {
    name: String,
    calls: String,
    mean: String,
    p95: String,
    error_rate: String,
    bad: bool,
    meter: String,
}

struct ModelRow {
    name: String,
    calls: String,
    tokens: String,
    cost: String,
    meter: String,
}

/// The charts, as SVG text made by [`charts`] (every text in it escaped there).
struct Charts {
    traces: String,
    duration: String,
    tokens: String,
    cost: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    l: Layout,
    ranges: Vec<RangeLink>,
    range: &'static str,
    range_label: &'static str,
    per: &'static str,
    /// `(id, name)` of every project the user can read, their personal one first.
    projects: Vec<(String, String)>,
    project_id: String,
    /// What the numbers cover, in words.
    scope: String,
    error: Option<String>,
    /// No trace in the period.
    empty: bool,
    tiles: Vec<Tile>,
    charts: Option<Charts>,
    tools: Vec<ToolRow>,
    models: Vec<ModelRow>,
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The dashboard's URL for a range and project.
fn url(range: &str, project_id: &str) -> String {
    if project_id.is_empty() {
        format!("/dashboard?range={range}")
    } else {
        format!("/dashboard?range={range}&project_id={}", encode(project_id))
    }
}

fn render(status: StatusCode, page: &DashboardPage) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

fn percent(share: f64) -> String {
    if share <= 0.0 {
        "0%".to_owned()
    } else if share < 0.001 {
        "<0.1%".to_owned()
    } else if share < 0.1 {
        format!("{:.1}%", share * 100.0)
    } else {
        format!("{:.0}%", share * 100.0)
    }
}

fn duration_text(us: Option<f64>) -> String {
    us.map_or_else(|| "–".to_owned(), |us| format::duration_ms(us / 1000.0))
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<DashboardQuery>, QueryRejection>,
) -> Response {
    let (principal, csrf) = match signed_in(&state, &headers, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut error = None;

    let range_index = match RANGES.iter().position(|r| r.value == q.range) {
        Some(i) => i,
        None => {
            if !q.range.is_empty() {
                error = Some("Unknown time range; showing the last 7 days.".to_owned());
            }
            DEFAULT_RANGE
        }
    };
    let range = &RANGES[range_index];

    // Every project the user can read, their personal one first.
    let mut projects: Vec<(String, String)> = Vec::new();
    if let Some(user) = principal.user() {
        match state.store.projects_of(&user.id).await {
            Ok(found) => {
                for (project, _role) in found {
                    let entry = (project.id, project.name);
                    if project.personal_of.as_deref() == Some(user.id.as_str()) {
                        projects.insert(0, entry);
                    } else {
                        projects.push(entry);
                    }
                }
            }
            Err(e) => return Problem::from(e).into_response(),
        }
    }

    let mut status = StatusCode::OK;
    let (ids, scope): (Vec<String>, String) = if q.project_id.is_empty() {
        let scope = match projects.len() {
            0 => "You are not a member of any project yet.".to_owned(),
            1 => format!("Project {}", projects[0].1),
            n => format!("All {n} projects you can read"),
        };
        (projects.iter().map(|(id, _)| id.clone()).collect(), scope)
    } else if let Some((id, name)) = projects.iter().find(|(id, _)| *id == q.project_id) {
        (vec![id.clone()], format!("Project {name}"))
    } else {
        // Not a project of this user's: as if it did not exist.
        status = StatusCode::NOT_FOUND;
        error = Some(
            "There is no such project, or it is not one you can read. Pick one of yours below."
                .to_owned(),
        );
        (Vec::new(), "No project".to_owned())
    };

    let bucket_us = range.bucket_us();
    let now = state.clock.now_us();
    let end = (now.div_euclid(bucket_us) + 1) * bucket_us;
    let since = end - range.buckets * bucket_us;
    let dashboard = match state.store.dashboard(&ids, since, bucket_us).await {
        Ok(d) => d,
        Err(e) => return Problem::from(e).into_response(),
    };

    let empty = dashboard.totals.traces == 0;
    let (tiles, charts, tools, models) = if empty {
        (Vec::new(), None, Vec::new(), Vec::new())
    } else {
        (
            tiles(&dashboard),
            Some(draw(&dashboard, range)),
            tool_rows(&dashboard),
            model_rows(&dashboard),
        )
    };

    let project_id = if status == StatusCode::OK {
        q.project_id
    } else {
        String::new()
    };
    let ranges = RANGES
        .iter()
        .enumerate()
        .map(|(i, r)| RangeLink {
            label: r.label,
            url: url(r.value, &project_id),
            current: i == range_index,
        })
        .collect();
    render(
        status,
        &DashboardPage {
            l: Layout::for_user("dashboard", &principal, &csrf),
            ranges,
            range: range.value,
            range_label: range.label,
            per: range.per(),
            projects,
            project_id,
            scope,
            error,
            empty,
            tiles,
            charts,
            tools,
            models,
        },
    )
}

fn tiles(d: &Dashboard) -> Vec<Tile> {
    let t = &d.totals;
    let error_share = if t.traces > 0 {
        t.error_traces as f64 / t.traces as f64
    } else {
        0.0
    };
    vec![
        Tile {
            label: "Traces",
            value: format::count(t.traces),
            note: String::new(),
            bad: false,
        },
        Tile {
            label: "With errors",
            value: format::count(t.error_traces),
            note: percent(error_share),
            bad: t.error_traces > 0,
        },
        Tile {
            label: "Duration p50",
            value: duration_text(t.p50_duration_us.map(|v| v as f64)),
            note: String::new(),
            bad: false,
        },
        Tile {
            label: "Duration p95",
            value: duration_text(t.p95_duration_us.map(|v| v as f64)),
            note: String::new(),
            bad: false,
        },
        Tile {
            label: "Tokens",
            value: format::count(t.total_tokens),
            note: String::new(),
            bad: false,
        },
        Tile {
            label: "Cost",
            value: format::cost(t.cost),
            note: String::new(),
            bad: false,
        },
    ]
}

/// Draws the four time charts, with a value for every bucket of the range (the store leaves
/// empty buckets out).
fn draw(d: &Dashboard, range: &Range) -> Charts {
    let index = |start_us: i64| usize::try_from((start_us - d.since_us) / d.bucket_us).ok();
    // A trace received a moment after the server read its clock may fall past the last bucket:
    // the axis grows to hold it rather than lose it.
    let count = d
        .buckets
        .iter()
        .filter_map(|b| index(b.start_us))
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
        .max(usize::try_from(range.buckets).unwrap_or(0));
    let mut traces = vec![0u64; count];
    let mut errors = vec![0u64; count];
    let mut p50 = vec![None; count];
    let mut p95 = vec![None; count];
    let mut tokens = vec![Some(0.0); count];
    let mut cost = vec![Some(0.0); count];
    for b in &d.buckets {
        let Some(i) = index(b.start_us).filter(|&i| i < count) else {
            continue;
        };
        traces[i] = b.traces;
        errors[i] = b.error_traces;
        p50[i] = b.p50_duration_us.map(|v| v as f64);
        p95[i] = b.p95_duration_us.map(|v| v as f64);
        tokens[i] = Some(b.total_tokens as f64);
        cost[i] = Some(b.cost);
    }
    let axis = TimeAxis::new(d.since_us, d.bucket_us, count, range.hourly);
    let per = range.per();
    Charts {
        traces: charts::columns(
            &axis,
            &format!("Traces per {per}, with the traces that had errors"),
            &traces,
            &errors,
            |n, e| {
                format!(
                    "{} {}, {} with errors",
                    format::count(n),
                    if n == 1 { "trace" } else { "traces" },
                    format::count(e)
                )
            },
        ),
        duration: charts::lines(
            &axis,
            &format!("Trace duration per {per}: median (p50) and 95th percentile (p95)"),
            Unit::DurationUs,
            &[
                Series {
                    name: "p50",
                    class: "s-p50",
                    values: &p50,
                },
                Series {
                    name: "p95",
                    class: "s-p95",
                    values: &p95,
                },
            ],
        ),
        tokens: charts::lines(
            &axis,
            &format!("Tokens per {per}"),
            Unit::Tokens,
            &[Series {
                name: "tokens",
                class: "s-tokens",
                values: &tokens,
            }],
        ),
        cost: charts::lines(
            &axis,
            &format!("Cost per {per} in US dollars"),
            Unit::Dollars,
            &[Series {
                name: "cost",
                class: "s-cost",
                values: &cost,
            }],
        ),
    }
}

fn tool_rows(d: &Dashboard) -> Vec<ToolRow> {
    let most = d.tools.iter().map(|t| t.calls).max().unwrap_or(0) as f64;
    d.tools
        .iter()
        .map(|t| {
            let calls = format::count(t.calls);
            let rate = percent(t.error_rate());
            ToolRow {
                meter: charts::meter(
                    t.calls as f64,
                    most,
                    t.errors as f64,
                    &format!("{}: {calls} calls, {} failed ({rate})", t.name, t.errors),
                ),
                name: t.name.clone(),
                calls,
                mean: duration_text(t.mean_duration_us),
                p95: duration_text(t.p95_duration_us.map(|v| v as f64)),
                error_rate: rate,
                bad: t.errors > 0,
            }
        })
        .collect()
}

fn model_rows(d: &Dashboard) -> Vec<ModelRow> {
    let most = d.models.iter().map(|m| m.calls).max().unwrap_or(0) as f64;
    d.models
        .iter()
        .map(|m| {
            let calls = format::count(m.calls);
            let tokens = format::count(m.total_tokens);
            ModelRow {
                meter: charts::meter(
                    m.calls as f64,
                    most,
                    0.0,
                    &format!("{}: {calls} calls, {tokens} tokens", m.name),
                ),
                name: m.name.clone(),
                calls,
                tokens,
                cost: format::cost(m.cost),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_project() {
        assert_eq!(url("24h", ""), "/dashboard?range=24h");
        assert_eq!(
            url("7d", "a b&c"),
            "/dashboard?range=7d&project_id=a%20b%26c"
        );
    }

    #[test]
    fn percentages_read_well() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.0004), "<0.1%");
        assert_eq!(percent(0.025), "2.5%");
        assert_eq!(percent(1.0 / 3.0), "33%");
    }
}
