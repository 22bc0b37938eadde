//! Presence: how many sockets watch each counter over all replicas.
//!
//! Once a second the replica reports its own count per counter and reads back the total;
//! sockets are told only when the total changes, so a crowd joining at once costs each
//! socket at most one `presence` frame a second.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::hub::Hub;
use crate::store::Store;

const EVERY: Duration = Duration::from_secs(1);

pub async fn run(store: Arc<Store>, hub: Hub, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while shutdown.run_until_cancelled(tick.tick()).await.is_some() {
        for (name, _, local) in hub.served() {
            match store.presence(&name, local).await {
                Ok(online) => hub.set_presence(&name, online),
                // Presence is a nicety: a store outage is reported by /readyz, not here.
                Err(err) => tracing::debug!(error = %err, "presence not updated"),
            }
        }
    }
}
