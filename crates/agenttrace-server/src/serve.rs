//! Starting and stopping the server: open the store, bind, serve until a shutdown signal, let
//! in-flight requests finish, then close the database cleanly.

use crate::app::{AppState, router};
use crate::config::Config;
use agenttrace_core::redact::Redactor;
use agenttrace_store::{SqliteStore, Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    sqlite: SqliteStore,
}

impl Server {
    /// Opens the store (creating the data folder and database on first start, running
    /// migrations) and binds the listening socket.
    pub async fn bind(config: &Config) -> Result<Server, ServerError> {
        config.limits.validate().map_err(ServerError::Config)?;
        let redactor =
            Redactor::new(&config.redact).map_err(|e| ServerError::Config(e.to_string()))?;
        for rule in redactor.disabled_rules() {
            tracing::warn!(rule = %rule, "a built-in redaction rule could not be compiled and is off");
        }
        let sqlite = SqliteStore::open(&config.data_dir).await?;
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let state = AppState {
            store: Arc::new(sqlite.clone()) as Arc<dyn Store>,
            limits: config.limits,
            redactor: Arc::new(redactor),
        };
        Ok(Server {
            listener,
            state,
            sqlite,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish and closes the
    /// database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = router(self.state);
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        tracing::info!("no requests in flight; closing the database");
        self.sqlite.close().await;
        served.map_err(ServerError::from)
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
