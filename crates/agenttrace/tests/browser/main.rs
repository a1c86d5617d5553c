//! The web UI in a real browser: starts `agenttrace serve` on a fresh data folder and runs the
//! browser suite (`tests/browser/ui.test.mjs`: Debian's Chromium driven by playwright-core).
//! Screenshots of every page land in `target/ui-screenshots/`.
//!
//! It needs `node`, `/usr/bin/chromium` and `npm ci --prefix tests/browser`; `.ci/run`
//! installs them. Without them the test fails under CI and is skipped, loudly, elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn missing_tools(suite: &Path) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node");
    }
    if !Path::new("/usr/bin/chromium").exists() && std::env::var_os("CHROMIUM").is_none() {
        missing.push("chromium (apt-get install chromium)");
    }
    if !suite.join("node_modules/playwright-core").exists() {
        missing.push("playwright-core (npm ci --prefix tests/browser)");
    }
    missing
}

#[test]
fn the_web_ui_works_in_a_real_browser() {
    let suite = repo().join("tests/browser");
    let missing = missing_tools(&suite);
    if !missing.is_empty() {
        let message = format!("browser tests need: {}", missing.join(", "));
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("\n*** SKIPPED the browser tests: {message} ***\n");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_agenttrace"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        .env_remove("APP_ENV")
        .env_remove("JWT_SECRET_KEY")
        .env_remove("ALLOWED_ORIGINS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL printed: {line:?}"))
        .to_owned();
    let shots = repo().join("target/ui-screenshots");
    let output = Command::new("node")
        .arg("ui.test.mjs")
        .current_dir(&suite)
        .env("AGENTTRACE_URL", &url)
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{said}");
    assert!(output.status.success(), "the browser suite failed:\n{said}");
}
