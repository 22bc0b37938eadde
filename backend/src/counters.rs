//! The one place a change is applied (store, then local fan-out, then metrics) and a socket
//! joins a counter. REST and WebSocket both go through here.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use shared::{Change, CounterName, CounterState, ProtocolError};

use crate::fanout::{Hub, Membership};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// The counters as handlers see them: stored, fanned out, counted; cheap to clone.
#[derive(Clone)]
pub struct Counters {
    /// Where the truth lives.
    pub store: Arc<Store>,
    /// This replica's sockets, per counter.
    pub hub: Hub,
    /// What `/metrics` reports of the changes and refusals.
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
            let started = Instant::now();
            let applied = this.store.apply(&name, &change).await;
            this.metrics
                .change_latency
                .observe(started.elapsed().as_secs_f64());
            let applied = applied?;
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
        counter.inc();
        Ok(applied.state)
    }

    pub async fn get(&self, name: &CounterName) -> Result<CounterState, ProtocolError> {
        self.store.get(name).await.map_err(|err| self.refuse(err))
    }

    /// The counter's state now, for a page about to be served: the hub's when this replica
    /// watches the counter (no round trip), else one store read bounded by `within`. `None`
    /// when the store fails or is slower: the page then starts without a value, and is not
    /// held up for it.
    pub async fn current(&self, name: &CounterName, within: Duration) -> Option<CounterState> {
        if let Some(state) = self.hub.latest(name) {
            return Some(state);
        }
        match tokio::time::timeout(within, self.store.get(name)).await {
            Ok(Ok(state)) => Some(state),
            Ok(Err(err)) => {
                tracing::debug!(counter = %name, %err, "no value for the page");
                None
            }
            Err(_) => {
                tracing::debug!(counter = %name, "no value for the page in time");
                None
            }
        }
    }

    /// Adds a socket to the counter's channel, reading the counter from the store if this
    /// replica has no state of it yet; a store that cannot be read refuses the socket.
    pub async fn join(&self, name: &CounterName) -> Result<Membership, ProtocolError> {
        let membership = self.hub.join(name);
        // Joined first, then read: a change in between reaches the hub by pub/sub or the
        // local apply, and the hub keeps whichever is newer.
        if !membership.has_state() {
            let state = self.get(name).await?;
            self.hub.publish(state);
        }
        Ok(membership)
    }

    /// Ok when the store answers and changes made anywhere reach this replica's sockets.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.ready().await?;
        if self.hub.live() {
            Ok(())
        } else {
            Err(StoreError::Unavailable("the subscriber is not live".into()))
        }
    }

    /// Logs a store failure, counts it, and turns it into what the client is told.
    fn refuse(&self, err: StoreError) -> ProtocolError {
        match &err {
            StoreError::Overflow => {}
            StoreError::Unavailable(detail) => tracing::warn!(%detail, "store unavailable"),
            StoreError::Refused(detail) => tracing::warn!(%detail, "store refuses writes"),
            StoreError::Damaged { counter, key, why } => {
                self.metrics.damaged(key);
                tracing::error!(%counter, %key, %why, "damaged key: the counter is refused");
            }
        }
        let err = ProtocolError::from(err);
        self.metrics.refused(err.code);
        err
    }
}
