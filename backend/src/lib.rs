//! The Shared Counter server.
//!
//! One replica serves REST, WebSockets and the built frontend. Counters live in Redis (any
//! number of replicas) or in an embedded file (one replica). The path of one change:
//!
//! - [`ws`] or [`api`] decodes a request with the `shared` crate's types and hands it to
//! - [`counters`], the one place a change is applied: [`store`] makes it atomically
//!   (Redis: one Lua script that dedupes, increments, bumps the version and publishes), then
//! - [`fanout`] gives the new state, serialised once, to every socket of this replica
//!   watching that counter; on other replicas its subscriber does the same when the Redis
//!   message arrives.
//!
//! Around them: [`config`] (flags and env), [`app`] (the router), [`state`] (what handlers
//! share), [`http_server`] (connections: their cap, their read deadlines with
//! [`body_deadline`], their drain), [`public_hosts`] (which `Host` names are served),
//! [`origin`] (who may open a socket), [`connection_limits`], [`rate_limit`], [`metrics`],
//! [`serving`] (closing every socket when the replica lost its store), [`static_files`],
//! [`error`].

pub mod access;
pub mod api;
pub mod app;
pub mod body_deadline;
pub mod client_address;
pub mod config;
pub mod connection_limits;
pub mod counters;
pub mod error;
pub mod fanout;
pub mod http_server;
pub mod metrics;
pub mod origin;
pub mod public_hosts;
pub mod rate_limit;
pub mod serving;
pub mod single_flight;
pub mod state;
pub mod static_files;
pub mod store;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::OpenCounters;
use crate::config::Config;
use crate::counters::Counters;
use crate::fanout::Hub;
use crate::http_server::HttpLimits;
use crate::metrics::Metrics;
use crate::public_hosts::{InvalidHost, PublicHosts};
use crate::serving::Serving;
use crate::state::AppState;
use crate::store::redis::{RedisAt, RedisSettings};
use crate::store::{EmbeddedStore, RedisStore, Store};

/// How long shutdown waits for the background tasks (subscriber, presence) to end.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// How often the embedded store drops expired dedupe records.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Why the server could not start. The cause is the error's source, not part of its message:
/// `main` prints the chain (anyhow's "Caused by"), which would otherwise say it twice.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen")]
    Listen(#[from] std::io::Error),
    #[error("invalid Redis URL")]
    RedisUrl(#[from] redis::RedisError),
    #[error("cannot open the embedded store")]
    Embedded(#[from] store::embedded::OpenError),
    #[error(transparent)]
    PublicHosts(#[from] InvalidHost),
    /// `--open-counters` or `--trusted-proxies` does not parse.
    #[error("{0}")]
    Config(String),
}

/// Serves until `shutdown` is cancelled, then closes every socket with 1001 and returns.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    // `rediss://` needs a TLS crypto provider; installing it twice (as tests that start
    // several servers in one process do) is harmless, hence the ignored result.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let public_hosts = Arc::new(PublicHosts::from_config(&config.public_hosts)?);
    let open =
        Arc::new(OpenCounters::from_config(&config.open_counters).map_err(StartError::Config)?);
    let drain_time = ws::drain_time(&config);
    // With Redis, other replicas' changes reach this one once the subscriber is live.
    let metrics = Arc::new(Metrics::default());
    let redis_at = match (&config.redis_url, config.redis_cluster_seeds()) {
        (Some(url), _) => Some(RedisAt::Url(url)),
        (None, Some(seeds)) => Some(RedisAt::Cluster(seeds)),
        (None, None) => None,
    };
    let hub = Hub::new(redis_at.is_none(), metrics.fanout_latency.clone());
    let tasks = TaskTracker::new();
    let serving = Arc::new(Serving::new(shutdown.clone()));

    let store = match redis_at {
        Some(at) => {
            let store = RedisStore::new(RedisSettings {
                at,
                ca_file: config.redis_ca_file.as_deref(),
                key_prefix: &config.key_prefix,
                op_ttl: config.op_ttl(),
                timeout: config.store_timeout(),
                wait: config.replica_wait(),
                history_limit: config.history_limit,
            })?;
            tasks.spawn(fanout::subscriber::run(
                store.clone(),
                hub.clone(),
                metrics.clone(),
                config.reconcile_interval(),
                serving.clone(),
                config.store_lost_close(),
                shutdown.clone(),
            ));
            tracing::info!("store: Redis");
            Store::Redis(store)
        }
        None => {
            let store = EmbeddedStore::open(
                &config.data_dir,
                config.op_ttl(),
                config.store_timeout(),
                config.history_limit,
                metrics.store_commits.clone(),
            )?;
            tasks.spawn(purge_expired_ops(store.clone(), shutdown.clone()));
            tracing::info!(data_dir = %config.data_dir.display(), "store: embedded");
            Store::Embedded(store)
        }
    };
    let store = Arc::new(store);
    // Bound only once the store is open: a replica whose data folder is locked or unreadable
    // fails here with nothing listening, rather than taking traffic it cannot serve.
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    tasks.spawn(fanout::presence::run(
        store.clone(),
        hub.clone(),
        shutdown.clone(),
    ));

    let counters = Counters {
        store,
        hub: hub.clone(),
        metrics,
        open,
        max_counters: config.max_counters,
        reads: Default::default(),
    };
    let state =
        AppState::new(config, counters, serving, public_hosts).map_err(StartError::Config)?;
    // Scripts and people read this line to learn the address (the port may have been 0).
    println!("listening on http://{address}");
    tracing::info!(%address, "listening");
    let limits = HttpLimits::new(&state.config);
    let refused = state.counters.metrics.http_refused.clone();
    let http = http_server::serve(listener, app::app(state), limits, refused, shutdown.clone());
    // Upgraded sockets live outside the HTTP server's connections; once the replica stops
    // they answer their last frames and close, in parallel with the requests in progress.
    let sockets = async {
        shutdown.cancelled().await;
        let deadline = tokio::time::Instant::now() + drain_time;
        while hub.sockets() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::join!(http, sockets);
    tasks.close();
    let _ = tokio::time::timeout(CLOSE_GRACE, tasks.wait()).await;
    Ok(())
}

async fn purge_expired_ops(store: EmbeddedStore, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    while shutdown.run_until_cancelled(tick.tick()).await.is_some() {
        match store.purge_expired_ops().await {
            Ok(removed) => tracing::debug!(removed, "expired op records purged"),
            Err(err) => tracing::warn!(error = %err, "purging op records failed"),
        }
    }
}
