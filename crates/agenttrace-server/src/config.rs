//! Server configuration: one struct, filled by the binary from defaults, environment and flags.

use agenttrace_core::Limits;
use agenttrace_core::redact::RedactConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The default address: loopback only, so a fresh install is not reachable from the network.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub limits: Limits,
    pub redact: RedactConfig,
}

impl Config {
    /// A configuration with the defaults, storing in `data_dir`.
    pub fn new(bind: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            bind,
            data_dir,
            limits: Limits::default(),
            redact: RedactConfig::default(),
        }
    }
}
