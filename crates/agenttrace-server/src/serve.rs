//! Starting and stopping the server: open the store, bind, serve until a shutdown signal, let
//! in-flight requests finish, then close the database cleanly.

use crate::api::auth::LoginThrottle;
use crate::app::{AppState, router};
use crate::auth::jwt::{JwtKeys, load_or_create_secret, secret_from_env_value};
use crate::config::{AppEnv, Config};
use agenttrace_core::redact::Redactor;
use agenttrace_store::{SqliteStore, Store, StoreError, TraceStore};
use std::future::Future;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
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
    shutdown_grace: Duration,
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
        let jwt = jwt_keys(config)?;
        // Computes the dummy hash now, so the first sign-in with an unknown email is not the one
        // request that answers measurably slower.
        if let Err(e) = crate::auth::password::warm_up().await {
            tracing::warn!(error = %e, "password hashing warm-up failed");
        }
        let state = AppState {
            store: Arc::new(sqlite.clone()) as Arc<dyn Store>,
            limits: config.limits,
            redactor: Arc::new(redactor),
            jwt: Arc::new(jwt),
            auth: config.auth.clone(),
            registration_open: config.registration_open(),
            clock: Arc::clone(&config.clock),
            login_throttle: Arc::new(LoginThrottle::default()),
            request_timeout: config.request_timeout,
        };
        Ok(Server {
            listener,
            state,
            sqlite,
            shutdown_grace: config.shutdown_grace,
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
        let (signalled, on_signal) = tokio::sync::oneshot::channel::<()>();
        let serving = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = signalled.send(());
        })
        .into_future();
        let grace = self.shutdown_grace;
        let deadline = async move {
            if on_signal.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let served = tokio::select! {
            served = serving => {
                tracing::info!("no requests in flight; closing the database");
                served
            }
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period were cut; closing the database");
                Ok(())
            }
        };
        self.sqlite.close().await;
        served.map_err(ServerError::from)
    }
}

/// Token signing keys: `JWT_SECRET_KEY` when set; otherwise, in development only, a secret
/// generated on first start and kept in the data folder with owner-only permissions.
fn jwt_keys(config: &Config) -> Result<JwtKeys, ServerError> {
    let secret = match (&config.auth.jwt_secret, config.env) {
        (Some(value), _) => secret_from_env_value(value),
        (None, AppEnv::Development) => load_or_create_secret(&config.data_dir),
        (None, AppEnv::Production) => {
            return Err(ServerError::Config(
                "JWT_SECRET_KEY is not set: production needs a random secret of at least 32 bytes \
                 (for example `openssl rand -base64 48`)"
                    .to_owned(),
            ));
        }
    }
    .map_err(|e| ServerError::Config(e.to_string()))?;
    JwtKeys::new(secret.expose_secret(), JWT_ISSUER, JWT_AUDIENCE)
        .map_err(|e| ServerError::Config(e.to_string()))
}

/// The issuer and audience every access token carries and every check demands.
pub const JWT_ISSUER: &str = "agenttrace";
pub const JWT_AUDIENCE: &str = "agenttrace-api";

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
