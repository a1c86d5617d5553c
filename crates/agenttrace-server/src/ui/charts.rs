//! Small charts drawn on the server as SVG text: columns and lines over time buckets, and the
//! meters of the tools and models tables.
//!
//! The SVG goes into the page as it is (askama's `|safe`), so every text written here passes
//! through [`escape`]: tool and model names come from traces, which anyone with an ingest key
//! writes. Colours come from CSS classes (`dashboard.css`), never from `style` attributes, which
//! the Content-Security-Policy forbids; hover values are `<title>` elements, so no script runs.

use crate::ui::format;
use std::fmt::Write as _;
use time::OffsetDateTime;

/// The drawing's size in its own units; CSS scales it to the card.
const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 200.0;
/// Room for the y-axis labels on the left and the x-axis labels below.
const LEFT: f64 = 58.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;
/// At most this many labels under the x-axis.
const MAX_X_LABELS: usize = 8;

/// Text made safe inside SVG (and HTML) text and attribute values: the five markup characters
/// as entities, and control characters (which XML does not allow) left out.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// What the values of a chart measure, for its tick labels and hover texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Whole things: traces, calls.
    Count,
    /// Microseconds, shown as ms, s, min or h.
    DurationUs,
    Tokens,
    /// US dollars.
    Dollars,
}

impl Unit {
    /// A short label for an axis tick.
    fn tick(self, value: f64) -> String {
        if value == 0.0 {
            return match self {
                Unit::Dollars => "$0".to_owned(),
                _ => "0".to_owned(),
            };
        }
        match self {
            Unit::Count => compact(value),
            Unit::Tokens => compact(value),
            Unit::Dollars => format!("${}", trimmed(value, 4)),
            Unit::DurationUs => short_duration(value),
        }
    }

    /// The exact value, with its unit, for a hover text.
    fn exact(self, value: f64) -> String {
        match self {
            Unit::Count => format::count(value.max(0.0).round() as u64),
            Unit::Tokens => format!("{} tokens", format::count(value.max(0.0).round() as u64)),
            Unit::Dollars => format::cost(value),
            Unit::DurationUs => format::duration_ms(value / 1000.0),
        }
    }

    /// Whether ticks must be whole numbers.
    fn whole(self) -> bool {
        matches!(self, Unit::Count | Unit::Tokens)
    }
}

/// A number with at most `decimals` decimals and no trailing zeros: `1.5`, `2`, `0.025`.
fn trimmed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// `950`, `1.2k`, `15k`, `3.4M`.
fn compact(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e9 {
        format!("{}G", trimmed(value / 1e9, 1))
    } else if abs >= 1e6 {
        format!("{}M", trimmed(value / 1e6, 1))
    } else if abs >= 1e3 {
        format!("{}k", trimmed(value / 1e3, 1))
    } else {
        trimmed(value, 2)
    }
}

/// A duration tick: `250 µs`, `40 ms`, `1.5 s`, `2 min`, `1.5 h`.
fn short_duration(us: f64) -> String {
    if us < 1000.0 {
        format!("{} µs", trimmed(us, 0))
    } else if us < 1e6 {
        format!("{} ms", trimmed(us / 1e3, 1))
    } else if us < 60e6 {
        format!("{} s", trimmed(us / 1e6, 2))
    } else if us < 3600e6 {
        format!("{} min", trimmed(us / 60e6, 1))
    } else {
        format!("{} h", trimmed(us / 3600e6, 1))
    }
}

/// A "nice" scale from 0 for values up to `max`: the top of the axis and the distance between
/// ticks, about four ticks, each step 1, 2, 2.5 or 5 times a power of ten.
fn scale(max: f64, whole: bool) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, if whole { 1.0 } else { 0.5 });
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powi(raw.log10().floor() as i32);
    let mut step = magnitude * 10.0;
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * magnitude >= raw {
            step = m * magnitude;
            break;
        }
    }
    if whole {
        step = step.max(1.0).ceil();
    }
    let top = ((max / step).ceil() * step).max(step);
    (top, step)
}

/// The time buckets along the x-axis, each with a short label (for the axis) and a long one
/// (for hover texts). Times are UTC.
#[derive(Debug, Clone)]
pub struct TimeAxis {
    short: Vec<String>,
    long: Vec<String>,
}

impl TimeAxis {
    /// `count` buckets of `bucket_us` from `since_us`; `hourly` labels them by hour, otherwise
    /// by day.
    pub fn new(since_us: i64, bucket_us: i64, count: usize, hourly: bool) -> TimeAxis {
        let mut short = Vec::with_capacity(count);
        let mut long = Vec::with_capacity(count);
        for i in 0..count {
            let start = since_us.saturating_add((i as i64).saturating_mul(bucket_us));
            let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(start) * 1000) else {
                short.push(String::new());
                long.push(String::new());
                continue;
            };
            let month = &at.month().to_string()[..3];
            let weekday = &at.weekday().to_string()[..3];
            if hourly {
                short.push(format!("{:02}:00", at.hour()));
                long.push(format!(
                    "{weekday} {} {month}, {:02}:00–{:02}:00 UTC",
                    at.day(),
                    at.hour(),
                    (at.hour() + 1) % 24
                ));
            } else {
                short.push(format!("{} {month}", at.day()));
                long.push(format!(
                    "{weekday} {} {month} {} (UTC)",
                    at.day(),
                    at.year()
                ));
            }
        }
        TimeAxis { short, long }
    }

    fn len(&self) -> usize {
        self.short.len()
    }

    /// The hover label of bucket `i`.
    fn long(&self, i: usize) -> &str {
        self.long.get(i).map_or("", String::as_str)
    }
}

/// The frame every time chart shares: the plot area and its coordinates.
struct Frame {
    buckets: usize,
    top: f64,
}

impl Frame {
    fn plot_width() -> f64 {
        WIDTH - LEFT - RIGHT
    }

    fn plot_height() -> f64 {
        HEIGHT - TOP - BOTTOM
    }

    /// The width of one bucket's column.
    fn column(&self) -> f64 {
        Self::plot_width() / self.buckets.max(1) as f64
    }

    /// The middle of bucket `i`.
    fn x(&self, i: usize) -> f64 {
        LEFT + (i as f64 + 0.5) * self.column()
    }

    fn y(&self, value: f64) -> f64 {
        let share = (value / self.top).clamp(0.0, 1.0);
        TOP + Self::plot_height() * (1.0 - share)
    }
}

/// Opens the `<svg>` with its accessible name, draws the horizontal grid with the y-axis tick
/// labels and the x-axis labels.
fn open(out: &mut String, label: &str, axis: &TimeAxis, frame: &Frame, unit: Unit, step: f64) {
    let label = escape(label);
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    out.push_str(r#"<g class="grid">"#);
    let ticks = (frame.top / step).round() as usize;
    for t in 0..=ticks {
        let value = step * t as f64;
        let y = frame.y(value);
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/>"#,
            x2 = WIDTH - RIGHT
        );
        let _ = write!(
            out,
            r#"<text class="ytick" x="{x:.1}" y="{ty:.1}">{text}</text>"#,
            x = LEFT - 6.0,
            ty = y + 3.5,
            text = escape(&unit.tick(value))
        );
    }
    out.push_str("</g>");
    let every = axis.len().div_ceil(MAX_X_LABELS).max(1);
    out.push_str(r#"<g class="xaxis">"#);
    let _ = write!(
        out,
        r#"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/>"#,
        x2 = WIDTH - RIGHT,
        y = frame.y(0.0)
    );
    for i in (0..axis.len()).step_by(every) {
        let _ = write!(
            out,
            r#"<text class="xtick" x="{x:.1}" y="{y:.1}">{text}</text>"#,
            x = frame.x(i),
            y = HEIGHT - 7.0,
            text = escape(&axis.short[i])
        );
    }
    out.push_str("</g>");
}

/// Columns over time: `totals` per bucket, with `parts` of them (the errors) drawn over their
/// lower end in the part's colour. Hovering a column shows `describe(total, part)`.
pub fn columns(
    axis: &TimeAxis,
    label: &str,
    totals: &[u64],
    parts: &[u64],
    describe: impl Fn(u64, u64) -> String,
) -> String {
    let max = totals.iter().copied().max().unwrap_or(0) as f64;
    let (top, step) = scale(max, true);
    let frame = Frame {
        buckets: axis.len(),
        top,
    };
    let mut out = String::with_capacity(4096);
    open(&mut out, label, axis, &frame, Unit::Count, step);
    let column = frame.column();
    let gap = (column * 0.15).min(4.0);
    let width = (column - 2.0 * gap).max(1.0);
    let base = frame.y(0.0);
    out.push_str(r#"<g class="columns">"#);
    for i in 0..axis.len() {
        let value = totals.get(i).copied().unwrap_or(0);
        let errors = parts.get(i).copied().unwrap_or(0).min(value);
        let x = LEFT + i as f64 * column + gap;
        let title = escape(&format!("{}: {}", axis.long(i), describe(value, errors)));
        let _ = write!(out, "<g><title>{title}</title>");
        // The whole column takes the pointer, so the hover text shows over empty buckets too.
        let _ = write!(
            out,
            r#"<rect class="hit" x="{x:.1}" y="{TOP}" width="{width:.1}" height="{h:.1}"/>"#,
            h = Frame::plot_height()
        );
        if value > 0 {
            let y = frame.y(value as f64);
            let _ = write!(
                out,
                r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{h:.1}"/>"#,
                h = base - y
            );
        }
        if errors > 0 {
            let y = frame.y(errors as f64);
            let _ = write!(
                out,
                r#"<rect class="bar-part" x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{h:.1}"/>"#,
                h = base - y
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</g></svg>");
    out
}

/// One line of a line chart: a value per bucket, `None` where there is none (the line breaks).
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    pub name: &'a str,
    /// The CSS class that colours it (`s1`, `s2`, …).
    pub class: &'a str,
    pub values: &'a [Option<f64>],
}

/// Lines over time, a point per bucket with its value on hover.
pub fn lines(axis: &TimeAxis, label: &str, unit: Unit, series: &[Series<'_>]) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .fold(0.0f64, f64::max);
    let (top, step) = scale(max, unit.whole());
    let frame = Frame {
        buckets: axis.len(),
        top,
    };
    let mut out = String::with_capacity(8192);
    open(&mut out, label, axis, &frame, unit, step);

    // Under the lines, a column per bucket that shows every series' value on hover.
    let column = frame.column();
    out.push_str(r#"<g class="hits">"#);
    for i in 0..axis.len() {
        let values: Vec<String> = series
            .iter()
            .map(|s| {
                let value = s.values.get(i).copied().flatten();
                format!(
                    "{} {}",
                    s.name,
                    value.map_or_else(|| "–".to_owned(), |v| unit.exact(v))
                )
            })
            .collect();
        let _ = write!(
            out,
            r#"<rect class="hit" x="{x:.1}" y="{TOP}" width="{column:.1}" height="{h:.1}"><title>{title}</title></rect>"#,
            x = LEFT + i as f64 * column,
            h = Frame::plot_height(),
            title = escape(&format!("{}: {}", axis.long(i), values.join(", ")))
        );
    }
    out.push_str("</g>");

    for s in series {
        let class = escape(s.class);
        let mut path = String::new();
        let mut pen_down = false;
        for i in 0..axis.len() {
            match s.values.get(i).copied().flatten() {
                Some(v) => {
                    let _ = write!(
                        path,
                        "{}{:.1} {:.1}",
                        if pen_down { " L" } else { " M" },
                        frame.x(i),
                        frame.y(v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !path.is_empty() {
            let _ = write!(
                out,
                r#"<path class="line {class}" d="{}"/>"#,
                path.trim_start()
            );
        }
        let _ = write!(out, r#"<g class="points {class}">"#);
        for i in 0..axis.len() {
            if let Some(v) = s.values.get(i).copied().flatten() {
                let _ = write!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.6"><title>{title}</title></circle>"#,
                    x = frame.x(i),
                    y = frame.y(v),
                    title = escape(&format!("{}: {} {}", axis.long(i), s.name, unit.exact(v)))
                );
            }
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// A small horizontal bar for a table row: `value` out of `max`, with `part` of it (the
/// errors) in the part's colour, and `title` on hover.
pub fn meter(value: f64, max: f64, part: f64, title: &str) -> String {
    let share = |v: f64| {
        if max > 0.0 && v.is_finite() {
            (v / max).clamp(0.0, 1.0) * 100.0
        } else {
            0.0
        }
    };
    let width = share(value);
    // A used row never disappears entirely.
    let width = if value > 0.0 { width.max(1.0) } else { width };
    let mut out = format!(
        r#"<svg class="meter" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" aria-label="{title}"><title>{title}</title><rect class="track" x="0" y="0" width="100" height="8"/>"#,
        title = escape(title)
    );
    if width > 0.0 {
        let _ = write!(
            out,
            r#"<rect class="bar" x="0" y="0" width="{width:.2}" height="8"/>"#
        );
    }
    let part = share(part.min(value));
    if part > 0.0 {
        let _ = write!(
            out,
            r#"<rect class="bar-part" x="0" y="0" width="{:.2}" height="8"/>"#,
            part.max(0.5)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            escape(r#"a & b "c" 'd'"#),
            "a &amp; b &quot;c&quot; &#39;d&#39;"
        );
        assert_eq!(
            escape("]]><x>\u{0}\u{7}tab\there"),
            "]]&gt;&lt;x&gt;tab here"
        );
        assert_eq!(escape("plain – ünïcode"), "plain – ünïcode");
        // Escaping is not undone by escaping twice in the wrong order.
        assert_eq!(escape("&lt;"), "&amp;lt;");
    }

    #[test]
    fn names_from_traces_are_escaped_everywhere_they_go() {
        let evil = "<script>alert(1)</script>";
        let axis = TimeAxis::new(0, 3_600_000_000, 3, true);
        let svg = lines(
            &axis,
            evil,
            Unit::Count,
            &[Series {
                name: evil,
                class: "s1\"><script>",
                values: &[Some(1.0), None, Some(2.0)],
            }],
        );
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let svg = columns(&axis, evil, &[3, 0, 1], &[1, 0, 0], |_, _| evil.to_owned());
        assert!(!svg.contains("<script"), "{svg}");
        let svg = meter(3.0, 4.0, 1.0, evil);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn scales_are_round() {
        let near = |(top, step): (f64, f64), want: (f64, f64)| {
            assert!(
                (top - want.0).abs() < want.0 * 1e-9 && (step - want.1).abs() < want.1 * 1e-9,
                "{top} {step} instead of {want:?}"
            );
        };
        near(scale(0.0, true), (1.0, 1.0));
        near(scale(3.0, true), (3.0, 1.0));
        near(scale(7.0, true), (8.0, 2.0));
        near(scale(95.0, true), (100.0, 25.0));
        near(scale(3_000_000.0, false), (3_000_000.0, 1_000_000.0));
        near(scale(0.3, false), (0.3, 0.1));
        near(scale(0.75, false), (0.8, 0.2));
        let (top, step) = scale(1234.0, true);
        assert!(top >= 1234.0 && (top / step) <= 5.0, "{top} {step}");
    }

    #[test]
    fn ticks_carry_units() {
        assert_eq!(Unit::DurationUs.tick(1_500_000.0), "1.5 s");
        assert_eq!(Unit::DurationUs.tick(250_000.0), "250 ms");
        assert_eq!(Unit::DurationUs.tick(120_000_000.0), "2 min");
        assert_eq!(Unit::DurationUs.tick(0.0), "0");
        assert_eq!(Unit::Tokens.tick(12_500.0), "12.5k");
        assert_eq!(Unit::Tokens.tick(3_000_000.0), "3M");
        assert_eq!(Unit::Dollars.tick(0.25), "$0.25");
        assert_eq!(Unit::Dollars.tick(0.0), "$0");
        assert_eq!(Unit::Count.tick(40.0), "40");
        assert_eq!(Unit::DurationUs.exact(2_510_000.0), "2.51 s");
        assert_eq!(Unit::Tokens.exact(1284.0), "1,284 tokens");
    }

    #[test]
    fn time_labels_are_utc() {
        // 2025-03-03T14:00:00Z, a Monday.
        let at = 1_741_010_400_000_000;
        let hourly = TimeAxis::new(at, 3_600_000_000, 2, true);
        assert_eq!(hourly.short, ["14:00", "15:00"]);
        assert_eq!(hourly.long(0), "Mon 3 Mar, 14:00–15:00 UTC");
        let daily = TimeAxis::new(at - 14 * 3_600_000_000, 86_400_000_000, 2, false);
        assert_eq!(daily.short, ["3 Mar", "4 Mar"]);
        assert_eq!(daily.long(1), "Tue 4 Mar 2025 (UTC)");
    }

    #[test]
    fn a_column_per_bucket_with_its_numbers_on_hover() {
        let axis = TimeAxis::new(1_741_010_400_000_000, 3_600_000_000, 3, true);
        let svg = columns(&axis, "Traces", &[4, 0, 2], &[1, 0, 0], |n, e| {
            format!("{n} traces, {e} with errors")
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>Mon 3 Mar, 14:00–15:00 UTC: 4 traces, 1 with errors</title>"));
        assert!(svg.contains("<title>Mon 3 Mar, 15:00–16:00 UTC: 0 traces, 0 with errors</title>"));
        assert_eq!(svg.matches(r#"class="bar""#).count(), 2);
        assert_eq!(svg.matches(r#"class="bar-part""#).count(), 1);
        assert!(!svg.contains("style="));
    }

    #[test]
    fn lines_break_where_a_bucket_has_no_value() {
        let axis = TimeAxis::new(0, 86_400_000_000, 4, false);
        let values = [Some(1_000_000.0), Some(2_000_000.0), None, Some(500_000.0)];
        let svg = lines(
            &axis,
            "Duration",
            Unit::DurationUs,
            &[Series {
                name: "p50",
                class: "s1",
                values: &values,
            }],
        );
        let d = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("p50 2.00 s"));
        assert!(svg.contains("p50 –"));
    }

    #[test]
    fn meters_fill_their_share() {
        let svg = meter(50.0, 200.0, 10.0, "search: 50 calls");
        assert!(
            svg.contains(r#"class="bar" x="0" y="0" width="25.00""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="bar-part" x="0" y="0" width="5.00""#),
            "{svg}"
        );
        let empty = meter(0.0, 0.0, 0.0, "nothing");
        assert!(!empty.contains(r#"class="bar""#));
    }
}
