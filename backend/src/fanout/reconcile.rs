//! The reconcile: re-reads every counter this replica serves and offers what it finds to the
//! hub, so that sockets converge on Redis's value when pub/sub dropped a message or someone
//! changed a value behind the service's back (`redis-cli SET`).
//!
//! A round is one batch of reads ([`RedisStore::reconcile_many`]) and runs in a task of its
//! own, started by the subscriber: changes keep reaching the sockets while it runs, and the
//! hub keeps whichever state is newer, the round's or pub/sub's.

use std::sync::Arc;

use super::Hub;
use crate::metrics::Metrics;
use crate::store::redis::Served;
use crate::store::{RedisStore, StoreError, damaged_counter};

/// Re-reads every counter served here. One counter whose keys are damaged, or whose repair
/// Redis refuses, is passed over and tried again next round; only an unreachable Redis ends
/// the round with an error (and the subscriber connection, which is then rebuilt).
pub async fn round(store: RedisStore, hub: Hub, metrics: Arc<Metrics>) -> Result<(), StoreError> {
    let served: Vec<Served> = hub
        .served()
        .into_iter()
        .map(|(name, known, _, owned)| (name, known, owned))
        .collect();
    let outcomes = store.reconcile_many(&served).await?;
    for ((name, _, _), outcome) in served.into_iter().zip(outcomes) {
        match outcome {
            // An owned counter deleted while this replica missed the event: its sockets
            // close, as on the event.
            Err(StoreError::NotFound) => {
                tracing::info!(counter = %name, "counter deleted; closing its sockets");
                hub.gone(&name);
            }
            Ok(state) => {
                hub.publish(state);
                if hub.set_fault(&name, None) {
                    tracing::info!(counter = %name, "counter repaired");
                }
            }
            Err(StoreError::Damaged { counter, key, why }) => {
                metrics.damaged(&key);
                if hub.set_fault(&counter, Some(damaged_counter())) {
                    tracing::error!(
                        %counter, %key, %why,
                        "damaged key: this counter's sockets are told, the others carry on"
                    );
                }
            }
            Err(StoreError::Refused(detail)) => {
                tracing::warn!(counter = %name, %detail, "Redis refused a repair; retried next round");
            }
            Err(err) => {
                tracing::warn!(counter = %name, error = %err, "counter not reconciled; retried next round");
            }
        }
    }
    Ok(())
}
