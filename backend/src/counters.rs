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
    ///
    /// The store call and the fan-out run in a task of their own: if the caller goes away
    /// mid-way (a client disconnects, its socket is dropped), a change the store made is
    /// still announced to every socket, instead of sitting unseen until the next one.
    pub async fn apply(
        &self,
        name: &CounterName,
        change: &Change,
    ) -> Result<CounterState, ProtocolError> {
        let (this, name, change) = (self.clone(), name.clone(), change.clone());
        let task = tokio::spawn(async move {
            let applied = this.store.apply(&name, &change).await?;
            // The local sockets need not wait for the pub/sub round trip; the hub drops the
            // pub/sub copy when it arrives, as it is not newer.
            this.hub.publish(applied.state.clone());
            Ok::<_, StoreError>(applied)
        });
        let applied = match task.await {
            Ok(result) => result.map_err(|err| self.refuse(err))?,
            Err(err) => return Err(self.refuse(StoreError::Unavailable(err.to_string()))),
        };
        let counter = if applied.duplicate {
            &self.metrics.ops_duplicate
        } else {
            &self.metrics.ops_applied
        };
        counter.fetch_add(1, Ordering::Relaxed);
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
