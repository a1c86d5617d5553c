//! Starting and stopping the server: open the store, bind, serve until a shutdown signal, let
//! in-flight requests finish, then close the database cleanly.

use crate::api::auth::LoginThrottle;
use crate::app::{AppState, router};
use crate::auth::jwt::{JwtKeys, load_or_create_secret, secret_from_env_value};
use crate::checks::load_server_config;
use crate::config::{AppEnv, Config, HttpLimits};
use crate::layers::{SecurityHeaders, Tls};
use crate::metrics::{Metrics, MetricsAccess};
use crate::production::{production_problems, refusal_text};
use crate::security::rate_limit::{MemoryRateLimiter, RateLimiter};
use agenttrace_core::redact::Redactor;
use agenttrace_store::{SqliteStore, Store, StoreError, TraceStore};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Production found unsafe settings; the text lists each with its fix.
    #[error("{0}")]
    Unsafe(String),
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
    tls: Option<TlsAcceptor>,
    http: HttpLimits,
}

impl Server {
    /// Checks the configuration (production refuses unsafe settings, listing them all), opens
    /// the store (creating the data folder and database on first start, running migrations),
    /// loads the TLS certificate and binds the listening socket.
    pub async fn bind(config: &Config) -> Result<Server, ServerError> {
        config.limits.validate().map_err(ServerError::Config)?;
        if config.env == AppEnv::Production {
            let problems = production_problems(config);
            if !problems.is_empty() {
                return Err(ServerError::Unsafe(refusal_text(&problems)));
            }
        }
        let tls = match &config.tls {
            Some(paths) => Some(TlsAcceptor::from(
                load_server_config(&paths.cert, &paths.key)
                    .map_err(|e| ServerError::Config(e.to_string()))?,
            )),
            None => None,
        };
        let security_headers = SecurityHeaders::new(config.csp_policy.as_deref(), tls.is_some())
            .map_err(ServerError::Config)?;
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
        let limiter = if config.rate_limit_enabled() {
            let limiter = Arc::new(MemoryRateLimiter::new(
                config.rate_limit.clone(),
                Arc::clone(&config.clock),
            ));
            limiter.spawn_cleanup();
            Some(limiter as Arc<dyn RateLimiter>)
        } else {
            tracing::info!(
                "rate limiting is off (development mode; RATE_LIMIT_ENABLED=true turns it on)"
            );
            None
        };
        let metrics_access = match (&config.metrics_token, config.env) {
            (Some(token), _) => MetricsAccess::Token(token.clone()),
            (None, AppEnv::Development) => MetricsAccess::Open,
            (None, AppEnv::Production) => MetricsAccess::Off,
        };
        let max_in_flight = config.http.max_concurrent_requests.max(1);
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
            env: config.env,
            limiter,
            rate_limit_rules: Arc::new(config.rate_limit.clone()),
            metrics: Arc::new(Metrics::new()),
            metrics_access: Arc::new(metrics_access),
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            trusted_proxies: config.trusted_proxies.clone().into(),
            allowed_origins: config.allowed_origins.clone().unwrap_or_default().into(),
            security_headers: Arc::new(security_headers),
            sentry_enabled: config.sentry_enabled,
            data_dir: Arc::new(config.data_dir.clone()),
            min_free_disk_bytes: config.min_free_disk_bytes,
            max_header_bytes: config.http.max_header_bytes,
        };
        Ok(Server {
            listener,
            state,
            sqlite,
            shutdown_grace: config.shutdown_grace,
            tls,
            http: config.http,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (for at most the
    /// shutdown grace) and closes the database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = router(self.state);
        let builder = Arc::new(connection_builder(&self.http));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors, say: wait a little rather than spin.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            tokio::spawn(serve_connection(
                stream,
                peer,
                app.clone(),
                Arc::clone(&builder),
                self.tls.clone(),
                self.http.header_read_timeout,
                graceful.watcher(),
            ));
        }
        drop(self.listener);
        match tokio::time::timeout(self.shutdown_grace, graceful.shutdown()).await {
            Ok(()) => tracing::info!("no requests in flight; closing the database"),
            Err(_) => tracing::warn!(
                grace_secs = self.shutdown_grace.as_secs(),
                "requests still in flight after the grace period were cut; closing the database"
            ),
        }
        self.sqlite.close().await;
        Ok(())
    }
}

/// HTTP/1.1 and HTTP/2 with the connection limits: a header-read timeout (a client that trickles
/// its headers is cut), the size of the request head and the number of headers.
fn connection_builder(http: &HttpLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(http.header_read_timeout)
        .max_buf_size(http.max_header_bytes.max(MIN_HEADER_BUFFER))
        .max_headers(http.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(http.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    builder
}

/// hyper's smallest read buffer.
const MIN_HEADER_BUFFER: usize = 8192;

/// One connection: the TLS handshake when configured (bounded by the header-read timeout), then
/// HTTP until the client leaves or a shutdown asks the connection to finish.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _ = stream.set_nodelay(true);
    let secure = tls.is_some();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        if secure {
            request.extensions_mut().insert(Tls);
        }
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let result = match tls {
        None => {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(connection).await
        }
        Some(acceptor) => {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let connection =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
                Ok(Err(e)) => {
                    tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                    Ok(())
                }
                Err(_) => {
                    tracing::debug!(peer = %peer, "TLS handshake timed out");
                    Ok(())
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
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
