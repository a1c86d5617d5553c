//! The stylesheets, scripts and icon, embedded at build time and served with a version in
//! their URL so browsers can keep them.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// `(name, content type, bytes)` of every static file.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/dashboard.css"),
    ),
    (
        "trace.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/trace.css"),
    ),
    (
        "trace.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/trace.js"),
    ),
    (
        "trace-actions.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/trace-actions.js"),
    ),
    (
        "traces.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/traces.js"),
    ),
    (
        "upload.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/upload.js"),
    ),
    (
        "compare.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/compare.js"),
    ),
    (
        "settings.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/settings.js"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/common.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
];

/// A short hash of every static file: it changes whenever one does, so the pages' `?v=` links
/// make browsers fetch the new files and keep the old ones no longer.
pub fn asset_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hash = Sha256::new();
        for (name, _, bytes) in FILES {
            hash.update(name.as_bytes());
            hash.update(bytes);
        }
        hash.finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// `GET /static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some((_, content_type, bytes)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return crate::problem::Problem::not_found("file").into_response();
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The URL carries the files' version: a changed file has a new URL.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        *bytes,
    )
        .into_response()
}
