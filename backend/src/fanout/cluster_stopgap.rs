//! STOPGAP (issue 14, store side): on a Redis Cluster this replica does not subscribe yet —
//! the fan-out's per-counter `SSUBSCRIBE` replaces this file. Until then the replica hears
//! of other replicas' changes only through the periodic reconcile rounds (every
//! --reconcile-interval-ms), and of its own at once (the hub is offered every applied
//! state). It is live once a round has reached the cluster.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Hub, reconcile};
use crate::metrics::Metrics;
use crate::store::RedisStore;

/// Runs reconcile rounds until `shutdown`; the hub is live while they succeed.
pub async fn run(
    store: RedisStore,
    hub: Hub,
    metrics: Arc<Metrics>,
    reconcile_every: Duration,
    shutdown: CancellationToken,
) {
    tracing::warn!(
        "Redis Cluster: no pub/sub subscriber yet; other replicas' changes arrive by reconcile"
    );
    loop {
        let round = reconcile::round(store.clone(), hub.clone(), metrics.clone());
        match shutdown.run_until_cancelled(round).await {
            None => return,
            Some(Ok(())) => hub.set_live(true),
            Some(Err(err)) => {
                tracing::warn!(error = %err, "Redis Cluster unreachable");
                hub.set_live(false);
            }
        }
        let pause = tokio::time::sleep(reconcile_every);
        if shutdown.run_until_cancelled(pause).await.is_none() {
            return;
        }
    }
}
