//! The HTTP/1.1 server: accepts connections, caps how many are open, bounds how long a client
//! may take to send a request, and bounds how long a stopping replica waits for them.
//!
//! axum's `serve` does none of this: a client sending one byte a second held its connection,
//! and a stopping replica, for as long as it liked. WebSockets start here as plain requests;
//! once upgraded they leave this loop (and its cap) for their own task, their own caps
//! (`connection_limits.rs`) and their own drain on shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::body_deadline;
use crate::config::Config;

/// The bounds on plain HTTP connections, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Connections open at once; more are closed unanswered.
    pub max_connections: usize,
    /// How long a request head may take, and an idle keep-alive connection may wait.
    pub header_read_timeout: Duration,
    /// How long a request body may take after its head.
    pub body_read_timeout: Duration,
    /// How long shutdown waits for requests in progress.
    pub shutdown_timeout: Duration,
}

impl HttpLimits {
    pub fn new(config: &Config) -> Self {
        Self {
            max_connections: config.max_http_connections.get(),
            header_read_timeout: config.header_read_timeout(),
            body_read_timeout: config.body_read_timeout(),
            shutdown_timeout: config.shutdown_timeout(),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled; then stops accepting, lets the
/// requests in progress finish for at most `shutdown_timeout`, drops the connections still
/// open and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    refused: Counter,
    shutdown: CancellationToken,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    // Cancelled when the shutdown wait is over: the connections still open are dropped.
    let abandon = CancellationToken::new();
    let mut http = http1::Builder::new();
    // hyper starts this clock when it waits for a request head, so it bounds an idle
    // keep-alive connection as well as a slow one.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
        };
        // At the cap a connection is closed at once rather than left in the kernel's queue:
        // a load balancer then tries another replica at once (nginx: proxy_next_upstream
        // error), and a client retries instead of waiting on a server that is not reading.
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refused.inc();
            tracing::debug!(%peer, "HTTP connection refused: at --max-http-connections");
            continue;
        };
        // Small frames must leave at once: with Nagle's algorithm, an ack waited for the
        // peer's delayed ACK, 40 ms on Linux (BENCHMARKS.md).
        let _ = stream.set_nodelay(true);
        let service = ConnectionService {
            app: app.clone(),
            peer,
            body_read_timeout: limits.body_read_timeout,
        };
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        connections.spawn(serve_connection(
            connection,
            permit,
            shutdown.clone(),
            abandon.clone(),
        ));
    }
    // New connections are refused from here on, not queued.
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.shutdown_timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::info!(
            open = connections.len(),
            "shutdown: dropping HTTP connections still in progress"
        );
        abandon.cancel();
        connections.wait().await;
    }
}

/// One connection's life: served until it closes or upgrades (either frees its place), asked
/// to finish its request in progress on shutdown, dropped when the wait is over.
async fn serve_connection(
    connection: Connection,
    _permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
    abandon: CancellationToken,
) {
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "HTTP connection ended");
            }
            return;
        }
        () = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = connection => {}
        () = abandon.cancelled() => {}
    }
}

/// One HTTP/1.1 connection that may be upgraded to a WebSocket.
type Connection = http1::UpgradeableConnection<TokioIo<TcpStream>, ConnectionService>;

/// The router as one connection's hyper service: it notes the peer's address (for the
/// per-address socket cap) and bounds each request's body.
#[derive(Clone)]
struct ConnectionService {
    /// The whole HTTP surface.
    app: Router,
    /// The client's address, handed to handlers as `ConnectInfo`.
    peer: SocketAddr,
    /// How long a request body may take.
    body_read_timeout: Duration,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let request = request.map(|body| body_deadline::limit(body, self.body_read_timeout));
        // A router is always ready, so it is called without waiting for readiness.
        tower_service::Service::call(&mut self.app.clone(), request)
    }
}

/// What axum's `serve` does when `accept` fails: errors of one connection (it was reset
/// before it was taken) are passed over; others, such as running out of file descriptors,
/// are logged and the loop pauses, rather than spinning.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accept failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
