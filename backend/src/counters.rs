//! The one place a change is applied (store, then local fan-out, then metrics) and a socket
//! joins a counter. REST and WebSocket both go through here. Version 2 adds what an owned
//! counter needs: what a name is (open, owned, neither), creating, configuring, rotating
//! keys, deleting, and the history.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;

use shared::{
    CounterMeta, CounterName, CounterState, Create, Created, HistoryEntry, ProtocolError, Role,
    SettingsPatch,
};

use crate::access::{self, KeyHash, OpenCounters, Owned, Standing};
use crate::fanout::{Hub, Membership};
use crate::metrics::Metrics;
use crate::single_flight::SingleFlight;
use crate::store::{Credential, HistoryQuery, MetaUpdate, Store, StoreError, Write, not_found};

/// The counters as handlers see them: stored, fanned out, counted; cheap to clone.
#[derive(Clone)]
pub struct Counters {
    /// Where the truth lives.
    pub store: Arc<Store>,
    /// This replica's sockets, per counter.
    pub hub: Hub,
    /// What `/metrics` reports of the changes and refusals.
    pub metrics: Arc<Metrics>,
    /// `--open-counters`.
    pub open: Arc<OpenCounters>,
    /// `--max-counters`.
    pub max_counters: u64,
    /// Reads of a counter that callers at once share.
    pub reads: Arc<Reads>,
}

/// The reads that callers at the same moment share (a reconnect storm): a counter's meta,
/// and its state.
#[derive(Default)]
pub struct Reads {
    owned: SingleFlight<Result<Option<Owned>, ProtocolError>>,
    state: SingleFlight<Result<CounterState, ProtocolError>>,
}

/// How often an owner's update is tried again when another update came between its read
/// and its write.
const UPDATE_TRIES: usize = 5;

impl Counters {
    /// Applies a write made with `key` and returns the state right after it.
    ///
    /// The store call and the fan-out run in a task of their own: if the caller goes away
    /// mid-way (a client disconnects, its socket is dropped), a change the store made is
    /// still announced to every socket, instead of sitting unseen until the next one.
    pub async fn apply(
        &self,
        name: &CounterName,
        write: &Write,
        key: Option<KeyHash>,
    ) -> Result<CounterState, ProtocolError> {
        let credential = Credential {
            open: self.open.contains(name),
            key,
        };
        let (this, name, write) = (self.clone(), name.clone(), write.clone());
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let applied = this.store.apply(&name, &write, &credential).await;
            this.metrics
                .change_latency
                .observe(started.elapsed().as_secs_f64());
            let applied = match applied {
                Ok(applied) => applied,
                Err(err @ (StoreError::Unauthorized | StoreError::NotFound)) => {
                    // The store knows better than this replica: a key rotated or a counter
                    // deleted (or created) while the event has not arrived yet. The
                    // sockets here learn it now.
                    if this.hub.serves(&name) {
                        this.refresh(&name).await;
                    }
                    return Err(err);
                }
                Err(err) => return Err(err),
            };
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

    /// What a name is now: open, owned, or `not_found`. From the hub while this replica
    /// serves the counter (no round trip), else from the store.
    pub async fn standing(&self, name: &CounterName) -> Result<Standing, ProtocolError> {
        if let Some(standing) = self.hub.standing(name) {
            return Ok(standing);
        }
        // A name listed as open can never be owned (creating it is refused), so a socket on
        // `global` costs no read before its upgrade, as in version 1. With `*` a name may
        // have been created, so it is read.
        if let OpenCounters::Names(names) = &*self.open
            && names.contains(name)
        {
            return Ok(Standing::Open);
        }
        // Sockets opening at once on a counter not served here share one read.
        let this = self.clone();
        let read = {
            let name = name.clone();
            move || {
                async move {
                    this.store
                        .owned(&name)
                        .await
                        .map_err(|err| this.refuse(err))
                }
                .boxed()
            }
        };
        self.standing_of(name, self.reads.owned.run(name, read).await?)
    }

    /// What a name is, given its meta as read.
    fn standing_of(
        &self,
        name: &CounterName,
        owned: Option<Owned>,
    ) -> Result<Standing, ProtocolError> {
        match owned {
            Some(owned) => Ok(Standing::Owned(Arc::new(owned))),
            None if self.open.contains(name) => Ok(Standing::Open),
            None => Err(not_found()),
        }
    }

    /// [`Counters::standing`] from the store, always: what an owner's request acts on.
    async fn read_standing(&self, name: &CounterName) -> Result<Standing, ProtocolError> {
        let owned = self
            .store
            .owned(name)
            .await
            .map_err(|err| self.refuse(err))?;
        self.standing_of(name, owned)
    }

    /// Reads a served counter's meta again and tells its sockets what changed.
    pub async fn refresh(&self, name: &CounterName) {
        match self.store.owned(name).await {
            Ok(Some(owned)) => {
                self.hub
                    .offer_standing(name, Standing::Owned(Arc::new(owned)));
            }
            Ok(None) => {
                if matches!(self.hub.standing(name), Some(Standing::Owned(_))) {
                    self.hub.gone(name);
                }
            }
            Err(err) => tracing::debug!(counter = %name, %err, "meta not read again"),
        }
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
    /// `standing` is what the upgrade found the counter to be.
    pub async fn join(
        &self,
        name: &CounterName,
        standing: Standing,
    ) -> Result<Membership, ProtocolError> {
        let membership = self.hub.join(name);
        // Joined first, then read: a change in between reaches the hub by pub/sub or the
        // local apply, and the hub keeps whichever is newer.
        self.hub.offer_standing(name, standing);
        if !membership.has_state() {
            let this = self.clone();
            let read = {
                let name = name.clone();
                move || async move { this.get(&name).await }.boxed()
            };
            let state = self.reads.state.run(name, read).await?;
            self.hub.publish(state);
        }
        Ok(membership)
    }

    /// Creates an owned counter and returns its keys (shown this once).
    pub async fn create(&self, create: Create) -> Result<Created, ProtocolError> {
        let explicit = create.name.is_some();
        let name = create.name.unwrap_or_else(access::new_name);
        if explicit && self.open.contains(&name) && !matches!(*self.open, OpenCounters::All) {
            return Err(self.refuse(StoreError::NameTaken));
        }
        let (owner_key, staff_key) = (access::new_key(), access::new_key());
        let owned = Owned {
            settings: shared::Settings {
                title: create.title,
                capacity: create.capacity,
                warn_at: None,
            },
            owner: KeyHash::of(&owner_key),
            staff: KeyHash::of(&staff_key),
            rev: 0,
        };
        let rev = self
            .store
            .create(&name, &owned, self.max_counters)
            .await
            .map_err(|err| self.refuse(err))?;
        // With `*`, sockets may watch the name already, as an open counter.
        self.hub
            .offer_standing(&name, Standing::Owned(Arc::new(Owned { rev, ..owned })));
        Ok(Created {
            name,
            owner_key,
            staff_key,
        })
    }

    /// The owned counter's meta, when `key` is its owner's; the refusal otherwise (an open
    /// counter has no owner: `forbidden`).
    async fn as_owner(
        &self,
        name: &CounterName,
        key: Option<KeyHash>,
    ) -> Result<(Owned, KeyHash), ProtocolError> {
        let owned = match self.read_standing(name).await? {
            Standing::Open => return Err(self.refuse(StoreError::Forbidden)),
            Standing::Owned(owned) => owned,
        };
        match (owned.role(key.as_ref()), key) {
            (Role::Owner, Some(key)) => Ok(((*owned).clone(), key)),
            (Role::Staff, _) => Err(self.refuse(StoreError::Forbidden)),
            _ => Err(self.refuse(StoreError::Unauthorized)),
        }
    }

    /// Applies an owner's update to the meta: read, compute, write if nothing came
    /// between (else again). Returns the meta as written.
    async fn update(
        &self,
        name: &CounterName,
        key: Option<KeyHash>,
        change: impl Fn(&Owned) -> Result<MetaUpdate, ProtocolError>,
    ) -> Result<Owned, ProtocolError> {
        for _ in 0..UPDATE_TRIES {
            let (owned, key) = self.as_owner(name, key).await?;
            let update = change(&owned)?;
            match self.store.update(name, &key, owned.rev, &update).await {
                Ok(rev) => {
                    let mut next = Owned { rev, ..owned };
                    match update {
                        MetaUpdate::Settings(settings) => next.settings = settings,
                        MetaUpdate::Key(Role::Owner, hash) => next.owner = hash,
                        MetaUpdate::Key(_, hash) => next.staff = hash,
                    }
                    self.hub
                        .offer_standing(name, Standing::Owned(Arc::new(next.clone())));
                    return Ok(next);
                }
                Err(StoreError::Stale) => continue,
                Err(err) => return Err(self.refuse(err)),
            }
        }
        Err(self.refuse(StoreError::Stale))
    }

    /// `PATCH`: the owner's new settings; returns them as the public see them.
    pub async fn configure(
        &self,
        name: &CounterName,
        key: Option<KeyHash>,
        patch: &SettingsPatch,
    ) -> Result<CounterMeta, ProtocolError> {
        let owned = self
            .update(name, key, |owned| {
                Ok(MetaUpdate::Settings(owned.settings.patched(patch)?))
            })
            .await?;
        Ok(owned.settings.public())
    }

    /// Replaces the staff or owner key; returns the new key (shown this once). Once this
    /// has returned, the store refuses every change made with the old key.
    pub async fn rotate(
        &self,
        name: &CounterName,
        key: Option<KeyHash>,
        role: Role,
    ) -> Result<String, ProtocolError> {
        let new_key = access::new_key();
        let hash = KeyHash::of(&new_key);
        self.update(name, key, |_| Ok(MetaUpdate::Key(role, hash)))
            .await?;
        Ok(new_key)
    }

    /// Deletes an owned counter; its sockets here close at once (elsewhere on the event).
    pub async fn delete(
        &self,
        name: &CounterName,
        key: Option<KeyHash>,
    ) -> Result<(), ProtocolError> {
        let (_, key) = self.as_owner(name, key).await?;
        self.store
            .delete(name, &key)
            .await
            .map_err(|err| self.refuse(err))?;
        self.hub.gone(name);
        Ok(())
    }

    /// One page of history: anyone's on an open counter, the owner's on an owned one.
    pub async fn history(
        &self,
        name: &CounterName,
        key: Option<KeyHash>,
        query: &HistoryQuery,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), ProtocolError> {
        if let Standing::Owned(_) = self.read_standing(name).await? {
            self.as_owner(name, key).await?;
        }
        self.store
            .history(name, query)
            .await
            .map_err(|err| self.refuse(err))
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
            StoreError::Unavailable(detail) => tracing::warn!(%detail, "store unavailable"),
            StoreError::Refused(detail) => tracing::warn!(%detail, "store refuses writes"),
            StoreError::Damaged { counter, key, why } => {
                self.metrics.damaged(key);
                tracing::error!(%counter, %key, %why, "damaged key: the counter is refused");
            }
            _ => {}
        }
        let err = ProtocolError::from(err);
        self.metrics.refused(err.code);
        err
    }
}
