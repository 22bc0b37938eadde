//! The one place a change is applied: store, then local fan-out, then metrics. REST and
//! WebSocket both go through here.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use shared::{Change, CounterName, CounterState, ProtocolError};

use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

#[derive(Clone)]
pub struct Counters {
    /// Where the truth lives.
    pub store: Arc<Store>,
    /// This replica's sockets, per counter.
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
}

impl Counters {
    /// Applies a change and returns the state right after it.
    pub async fn apply(
        &self,
        name: &CounterName,
        change: &Change,
    ) -> Result<CounterState, ProtocolError> {
        let applied = self
            .store
            .apply(name, change)
            .await
            .map_err(|err| self.refuse(err))?;
        let counter = if applied.duplicate {
            &self.metrics.ops_duplicate
        } else {
            &self.metrics.ops_applied
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // The local sockets need not wait for the pub/sub round trip; the hub drops the
        // pub/sub copy when it arrives, as it is not newer.
        self.hub.publish(applied.state.clone());
        Ok(applied.state)
    }

    pub async fn get(&self, name: &CounterName) -> Result<CounterState, ProtocolError> {
        self.store.get(name).await.map_err(|err| self.refuse(err))
    }

    /// Logs a store failure, counts it, and turns it into what the client is told.
    fn refuse(&self, err: StoreError) -> ProtocolError {
        match &err {
            StoreError::Overflow => {}
            StoreError::Unavailable(detail) => tracing::warn!(%detail, "store unavailable"),
            StoreError::NotInteger(name) => {
                tracing::error!(counter = %name, "stored value is not an integer");
            }
        }
        let err = ProtocolError::from(err);
        self.metrics.refused(err.code);
        err
    }
}
