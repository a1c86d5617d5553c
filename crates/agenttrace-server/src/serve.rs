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
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
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
        let max_in_flight = config
            .http
            .max_concurrent_requests
            .clamp(1, Semaphore::MAX_PERMITS);
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
            proxy_header: config.proxy_header,
            allowed_origins: config.allowed_origins.clone().unwrap_or_default().into(),
            security_headers: Arc::new(security_headers),
            sentry_enabled: config.sentry_enabled,
            data_dir: Arc::new(config.data_dir.clone()),
            min_free_disk_bytes: config.min_free_disk_bytes,
            max_header_bytes: config.http.max_header_bytes,
            max_headers: config.http.max_headers,
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
        let connections = Arc::new(Semaphore::new(
            self.http.max_connections.clamp(1, Semaphore::MAX_PERMITS),
        ));
        let mut tasks = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // At the connection limit, stop accepting: new clients wait in the listen queue.
            let permit = tokio::select! {
                permit = Arc::clone(&connections).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
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
            while tasks.try_join_next().is_some() {}
            tasks.spawn(serve_connection(
                Connection {
                    stream,
                    peer,
                    _permit: permit,
                },
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
            Err(_) => {
                tracing::warn!(
                    grace_secs = self.shutdown_grace.as_secs(),
                    "requests still in flight after the grace period are cut; closing the database"
                );
                tasks.abort_all();
            }
        }
        while tasks.join_next().await.is_some() {}
        self.sqlite.close().await;
        Ok(())
    }
}

/// An accepted connection and its place under the connection limit.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
}

/// HTTP/1.1 and HTTP/2 with the connection limits: a header-read timeout (a client that trickles
/// its headers is cut), the size of the request head and the number of headers.
fn connection_builder(http: &HttpLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own limits are the backstop, set above the configured ones: the application
    // checks those exactly and answers with a problem document and the security headers. The
    // read buffer also carries request bodies, so it stays at hyper's usual size.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(http.header_read_timeout)
        .max_buf_size(
            http.max_header_bytes
                .saturating_mul(4)
                .max(HYPER_READ_BUFFER),
        )
        .max_headers(http.max_headers.saturating_mul(2).max(100));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(
            u32::try_from(http.max_header_bytes.saturating_mul(4)).unwrap_or(u32::MAX),
        )
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// hyper's default read buffer (about 400 KiB): smaller ones slow large uploads down.
const HYPER_READ_BUFFER: usize = 400 * 1024;

/// One connection: the TLS handshake when configured (bounded by the header-read timeout), then
/// HTTP until the client leaves or a shutdown asks the connection to finish.
async fn serve_connection(
    connection: Connection,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let Connection {
        stream,
        peer,
        _permit,
    } = connection;
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
            let stream = FirstByteDeadline::new(stream, handshake_timeout);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(connection).await
        }
        Some(acceptor) => {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let stream = FirstByteDeadline::new(stream, handshake_timeout);
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

/// Ends a connection whose client sends nothing within the deadline. hyper times out a request
/// head once it knows the protocol, but not a connection that never sends its first byte (or
/// stops in the HTTP/2 preface); this covers that, over TCP and TLS alike.
struct FirstByteDeadline<S> {
    inner: S,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> FirstByteDeadline<S> {
    fn new(inner: S, within: Duration) -> FirstByteDeadline<S> {
        FirstByteDeadline {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(within))),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstByteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.deadline = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent nothing within the header-read timeout",
                    )))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstByteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
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
