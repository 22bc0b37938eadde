//! Presence: how many sockets watch each counter over all replicas.
//!
//! Once a second the replica reports its own count per counter and reads back the total;
//! sockets are told only when the total changes, so a crowd joining at once costs each
//! socket at most one `presence` frame a second.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use shared::CounterName;

use super::Hub;
use crate::store::Store;

const EVERY: Duration = Duration::from_secs(1);

pub async fn run(store: Arc<Store>, hub: Hub, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Counters reported last time: one whose last socket here left is reported once more,
    // as 0, so other replicas stop counting this replica's sockets at once.
    let mut reported: HashSet<CounterName> = HashSet::new();
    while shutdown.run_until_cancelled(tick.tick()).await.is_some() {
        let served = hub.served();
        let now: HashSet<CounterName> = served.iter().map(|(name, _, _)| name.clone()).collect();
        for name in reported.difference(&now) {
            let _ = store.presence(name, 0).await;
        }
        for (name, _, local) in served {
            match store.presence(&name, local).await {
                Ok(online) => hub.set_presence(&name, online),
                // Presence is a nicety: a store outage is reported by /readyz, not here.
                Err(err) => tracing::debug!(error = %err, "presence not updated"),
            }
        }
        reported = now;
    }
    // Shutting down: this replica's sockets are closing.
    for name in &reported {
        let _ = store.presence(name, 0).await;
    }
}
