//! `annotask serve`: the hosted Tasks API over HTTP, answered from the same task files and
//! index as the CLI. The only module that knows HTTP. Owns the listener, the routes, API keys
//! and request limits; must not print or exit (the CLI reports the address and any error),
//! and must not decide task rules: every write goes through [`crate::repo::Repo`], file first,
//! then index, as the CLI's writes do.
//!
//! Handlers run on tokio's async threads, each call with a [`Repo`](crate::repo::Repo) from a
//! small pool: reads of an index a watcher keeps current run in place, and other repo work
//! (writes, syncs) on tokio's blocking threads. Writers serialise on
//! the repo's cross-process write lock and SQLite's busy timeout, so concurrent requests
//! neither fail on a lock nor lose a write.

mod auth;
mod connections;
mod export;
mod grpc;
mod query;
mod reply;
mod repos;
pub mod requests;
mod routes;
mod tls;
mod transport;
mod web;

pub use auth::{Keys, KeysError};
pub use tls::{TlsError, TlsFiles};

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tower_service::Service as _;

use connections::Connections;
use reply::Failure;
use tls::TlsAcceptor;
use transport::{Holding, Socket, Stalling, Stream};

use crate::repo;
use repos::Repos;

/// Runs repo work, which blocks on SQLite and the file system, off the async threads.
async fn blocking<T, F>(repos: Arc<Repos>, work: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Repos) -> Result<T, Failure> + Send + 'static,
{
    tokio::task::spawn_blocking(move || work(&repos))
        .await
        .unwrap_or_else(|e| Err(Failure::internal(format!("the request failed: {e}"))))
}

/// Runs a read on a repo whose index answers for the files as they are now. While a watcher
/// keeps the index current, a read is a few B-tree lookups of a few microseconds, so it runs
/// where it is called, on the async thread: handing it to a blocking thread and back cost
/// more than the read (GetTask answered at 42% of the rate of a route that does no work).
/// Without a watcher a read syncs first, a stat of every file, so it runs on a blocking
/// thread.
async fn read<T, F>(repos: Arc<Repos>, work: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&repo::Repo) -> Result<T, Failure> + Send + 'static,
{
    if repos.watched() {
        return work(&*repos.checkout()?);
    }
    blocking(repos, move |repos| work(&*repos.fresh()?)).await
}

/// Where `annotask serve` listens unless told otherwise: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Larger request bodies are refused with 413: a PostTasks body of 10,000 tasks is ~6 MiB.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// Blocking threads, and so at most this many repo connections at once; more concurrent
/// requests wait their turn.
const MAX_BLOCKING_THREADS: usize = 64;

pub struct Config {
    pub root: PathBuf,
    pub db: Option<PathBuf>,
    pub addr: SocketAddr,
    /// When set, every request must carry `Authorization: Key <api_key>`.
    pub api_key: Option<String>,
    /// When set, every request must carry one of this file's keys, and acts as its user.
    pub keys: Option<PathBuf>,
    /// Told what a person running the server should know (the tasks folder went missing, a
    /// watch failed); the server itself prints nothing.
    pub warn: fn(&str),
    /// When set, both faces are served over TLS with this certificate and key.
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "refusing to listen on {0} without an API key: anyone who can reach it could read and change every task"
    )]
    NeedsKey(SocketAddr),
    #[error("the API key is empty")]
    EmptyKey,
    #[error("--api-key and --keys both say who may call: use one of them")]
    KeyAndKeys,
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Project(#[from] crate::Error),
}

/// A server bound to its address, not yet answering.
pub struct Server {
    listener: TcpListener,
    repos: Arc<Repos>,
    app: Router,
    grpc: grpc::Service,
    tls: Option<TlsAcceptor>,
    /// Keeps the index current while the server runs; stopped after the last request.
    watcher: Option<repos::OwnWatcher>,
}

impl Server {
    /// Checks the configuration, opens the project (bringing its index up to date) and binds.
    pub fn bind(config: Config) -> Result<Server, StartError> {
        if config
            .api_key
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            return Err(StartError::EmptyKey);
        }
        let access = match (&config.api_key, &config.keys) {
            (Some(_), Some(_)) => return Err(StartError::KeyAndKeys),
            (Some(key), None) => auth::Access::Key(key.trim().into()),
            (None, Some(file)) => auth::Access::Keys(Keys::load(file, &config.root)?.into()),
            (None, None) if !config.addr.ip().is_loopback() => {
                return Err(StartError::NeedsKey(config.addr));
            }
            (None, None) => auth::Access::Open,
        };
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let (repos, watcher) = Repos::open(&config.root, config.db.as_deref(), config.warn)?;
        let repos = Arc::new(repos);
        let grpc = grpc::Service::new(repos.clone(), access.clone());
        let secrets = config.keys.iter().cloned().collect();
        let api = routes::router(repos.clone())
            .merge(web::protected(repos.clone(), secrets))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn(refuse_announced_excess))
            .layer(middleware::from_fn_with_state(access, auth::require_key));
        let app = web::pages().merge(api);
        let bind_error = |source| StartError::Bind {
            addr: config.addr,
            source,
        };
        let listener = TcpListener::bind(config.addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        Ok(Server {
            listener,
            repos,
            app,
            grpc,
            tls,
            watcher: Some(watcher),
        })
    }

    /// The address it listens on; with port 0 asked for, the port the system picked.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// How many work lines the replay warns about, as the server starts.
    pub fn flagged_lines(&self) -> crate::Result<usize> {
        self.repos.flagged_lines()
    }

    /// How many task files are invalid, and so not served, as the server starts.
    pub fn invalid_files(&self) -> crate::Result<usize> {
        self.repos.invalid_files()
    }

    /// The process that keeps the index current: this one, or another (`None` when its pid
    /// cannot be told).
    pub fn watched_by(&self) -> crate::Result<Option<u32>> {
        if self
            .watcher
            .as_ref()
            .is_some_and(repos::OwnWatcher::is_running)
        {
            return Ok(Some(std::process::id()));
        }
        Ok(self.repos.checkout()?.watcher().and_then(|w| w.pid))
    }

    /// Whether both faces are served over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Answers requests until Ctrl-C or SIGTERM, then finishes the requests in flight.
    pub fn run(self) -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(MAX_BLOCKING_THREADS)
            .build()?;
        let faces = Arc::new(Faces {
            app: self.app,
            grpc: self.grpc,
        });
        let (listener, tls) = (self.listener, self.tls);
        let served = runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            accept(listener, tls, faces).await;
            Ok(())
        });
        drop(self.watcher);
        served
    }
}

/// The two faces of one port: a request is gRPC by its content type, else JSON.
struct Faces {
    app: Router,
    grpc: grpc::Service,
}

impl Faces {
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Result<Response, Infallible> {
        let request = request.map(|body| Body::new(Stalling::new(body, STALL_TIMEOUT)));
        if grpc::is_grpc(&request) {
            Ok(self.grpc.clone().call(request).await.map(Body::new))
        } else {
            self.app.clone().call(request).await
        }
    }
}

/// Accepts connections until Ctrl-C or SIGTERM, then waits for the requests in flight. Each
/// connection speaks HTTP/1.1 or HTTP/2 (cleartext or by ALPN), as its first bytes say:
/// gRPC clients open HTTP/2, JSON clients and curl HTTP/1.1, and either face answers either.
async fn accept(listener: tokio::net::TcpListener, tls: Option<TlsAcceptor>, faces: Arc<Faces>) {
    let stop = stop_signal();
    tokio::pin!(stop);
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    // At the cap the connection idle the longest is closed to make room; only when every
    // connection is busy do new ones wait in the listen queue, rather than take the
    // descriptors the index and the task files need.
    let connections = Connections::new(connection_cap());
    loop {
        let place = tokio::select! {
            place = connections.admit() => place,
            () = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, or a connection reset before it was accepted:
                // the listener itself is fine, so wait a moment and go on.
                Err(_) => {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Small request and response frames: without this, Nagle's algorithm holds HTTP/2's
        // frames back for the peer's delayed ACK.
        let _ = stream.set_nodelay(true);
        let (faces, tls, stopped) = (faces.clone(), tls.clone(), stopped.clone());
        tokio::spawn(serve_connection(stream, place, tls, faces, stopped));
    }
    let _ = stopping.send(true);
    connections.all_closed().await;
}

/// Serves one connection until it closes, is idle past [`IDLE_TIMEOUT`], is shed to make room,
/// or the server stops; a connection asked to close finishes its requests in flight first
/// (HTTP/2 sends GOAWAY), within [`CLOSE_GRACE`].
async fn serve_connection(
    stream: tokio::net::TcpStream,
    place: connections::Connection,
    tls: Option<TlsAcceptor>,
    faces: Arc<Faces>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    // Which protocol a connection speaks is read from its first bytes, which hyper waits for
    // without a limit: a connection that sends nothing in time, or is shed first, is closed.
    let opened = async {
        match tls {
            None => {
                let first = tokio::time::timeout(HEADER_TIMEOUT, stream.peek(&mut [0u8; 1])).await;
                matches!(first, Ok(Ok(n)) if n > 0).then_some(Stream::Plain(stream))
            }
            Some(tls) => match tokio::time::timeout(HEADER_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => Some(Stream::Tls(Box::new(stream))),
                _ => None,
            },
        }
    };
    let stream = tokio::select! {
        stream = opened => stream,
        () = place.shed() => None,
        _ = stopped.wait_for(|s| *s) => None,
    };
    // A connection that fails (a reset, a client speaking neither protocol, a failed TLS
    // handshake) ends alone; there is nothing to report to anyone.
    let Some(stream) = stream else { return };
    let place = Arc::new(place);
    let service = service_fn({
        let place = place.clone();
        move |request| {
            let in_flight = place.request();
            let faces = faces.clone();
            async move {
                // Busy until the answer's body is sent: an export streams for a while.
                let answer = faces.answer(request).await;
                answer.map(|response| response.map(|body| Body::new(Holding::new(body, in_flight))))
            }
        }
    });
    let mut builder = ConnBuilder::new(TokioExecutor::new());
    // Headers must arrive within the timeout, also between requests on a kept-alive
    // connection: a client that sends a byte at a time, or stays idle, is cut off.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    // Pings find peers that vanished with streams open; idle connections are closed below.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(HEADER_TIMEOUT);
    let connection =
        builder.serve_connection_with_upgrades(TokioIo::new(Socket::new(stream)), service);
    tokio::pin!(connection);
    let far = || tokio::time::Instant::now() + IDLE_TIMEOUT;
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let idle = place.idle_until(IDLE_TIMEOUT).unwrap_or_else(far);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = place.shed(), if closing.is_none() => {}
            _ = stopped.wait_for(|s| *s), if closing.is_none() => {}
            () = tokio::time::sleep_until(idle), if closing.is_none() => {
                if place.idle_until(IDLE_TIMEOUT).is_none_or(|at| at > tokio::time::Instant::now()) {
                    continue;
                }
            }
            () = tokio::time::sleep_until(closing.unwrap_or_else(far)), if closing.is_some() => return,
        }
        connection.as_mut().graceful_shutdown();
        closing = Some(tokio::time::Instant::now() + CLOSE_GRACE);
    }
}

/// How long a client has to send a request's headers, and a kept-alive HTTP/1.1 connection
/// may stay idle between requests; also how long a TLS handshake and a ping's answer may take.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection (an HTTP/2 one, in practice: HTTP/1.1 is cut by [`HEADER_TIMEOUT`])
/// may stay open with no request in flight before it is closed, with a GOAWAY.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a request body may send nothing before it fails and its stream is reset.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an HTTP/2 connection with requests in flight pings its peer.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);

/// How long a connection asked to close may take to finish its requests in flight.
const CLOSE_GRACE: Duration = Duration::from_secs(30);

/// The most connections open at once: the process's descriptor limit, less room for the index,
/// the task files and the watcher.
fn connection_cap() -> usize {
    const RESERVED: u64 = 256;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        1024
    };
    soft.saturating_sub(RESERVED).clamp(64, 1 << 16) as usize
}

/// How long `accept` waits after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Refuses a body whose Content-Length is over the limit before reading any of it. Bodies
/// sent without one are cut off at the limit as they are read.
async fn refuse_announced_excess(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Failure::too_large().into_response();
    }
    next.run(request).await
}

/// Completes on Ctrl-C or, on Unix, SIGTERM: how a terminal and a service manager ask a
/// server to stop.
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
