//! Presence: how many sockets watch each counter over all replicas.
//!
//! Once a second the replica reads the total of every counter it serves, in one batch (a few
//! round trips, however many counters), and records its own count where it changed or is due
//! for a refresh; sockets are told only when the total changes, so a crowd joining at once
//! costs each socket at most one `presence` frame a second. It runs in its own task, beside
//! the one that delivers changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use shared::CounterName;

use super::Hub;
use crate::store::{PRESENCE_REFRESH, Presence, Store};

const EVERY: Duration = Duration::from_secs(1);

pub async fn run(store: Arc<Store>, hub: Hub, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // What this replica last recorded per counter, and when. A counter whose last socket
    // here left is recorded once more, as 0, so other replicas stop counting this replica's
    // sockets at once.
    let mut recorded: HashMap<CounterName, (usize, Instant)> = HashMap::new();
    while shutdown.run_until_cancelled(tick.tick()).await.is_some() {
        let now = Instant::now();
        let mut counts: Vec<Presence> = hub
            .served()
            .into_iter()
            .map(|(name, _, local, _)| {
                let record = recorded.get(&name).is_none_or(|&(last, at)| {
                    last != local || now.duration_since(at) >= PRESENCE_REFRESH
                });
                Presence {
                    name,
                    local,
                    record,
                }
            })
            .collect();
        let served: HashSet<&CounterName> = counts.iter().map(|count| &count.name).collect();
        let left: Vec<Presence> = recorded
            .keys()
            .filter(|name| !served.contains(name))
            .map(|name| Presence {
                name: name.clone(),
                local: 0,
                record: true,
            })
            .collect();
        counts.extend(left);
        match store.presence_many(&counts).await {
            Ok(totals) => {
                for (count, total) in counts.into_iter().zip(totals) {
                    match total {
                        Ok(online) => {
                            hub.set_presence(&count.name, online);
                            if count.local == 0 {
                                recorded.remove(&count.name);
                            } else if count.record {
                                recorded.insert(count.name, (count.local, now));
                            }
                        }
                        // Presence is a nicety: a store outage is reported by /readyz, not
                        // here. The count is recorded again next round.
                        Err(err) => {
                            tracing::debug!(counter = %count.name, error = %err, "presence not updated");
                        }
                    }
                }
            }
            Err(err) => tracing::debug!(error = %err, "presence not updated"),
        }
    }
    // Shutting down: this replica's sockets are closing.
    let gone: Vec<Presence> = recorded
        .into_keys()
        .map(|name| Presence {
            name,
            local: 0,
            record: true,
        })
        .collect();
    let _ = store.presence_many(&gone).await;
}
