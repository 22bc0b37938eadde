//! The replica's one Redis subscriber: brings every change made on any replica to this
//! replica's [`Hub`], and keeps the hub right when pub/sub drops messages.
//!
//! Redis pub/sub is at-most-once: a message published while the subscriber is reconnecting
//! is gone. So after every (re)subscribe, and then periodically, the subscriber has every
//! counter this replica serves re-read ([`reconcile`](super::reconcile)), which also catches
//! values changed behind the service's back. A round runs in a task of its own: this loop
//! only starts it and hears how it ended, and meanwhile goes on delivering messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use shared::CounterState;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Hub, reconcile};
use crate::access::Standing;
use crate::metrics::Metrics;
use crate::serving::Serving;
use crate::store::redis::refuses_writes;
use crate::store::{RedisStore, StoreError};

/// The longest pause between two attempts to resubscribe.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Keeps the subscriber running until `shutdown`, resubscribing after every failure. When it
/// has been down for `close_after`, the replica's sockets are closed (once per outage): they
/// would hear of no change, and a load balancer can move their clients to a replica that
/// still reaches Redis. New sockets are refused meanwhile ([`Hub::live`]).
pub async fn run(
    store: RedisStore,
    hub: Hub,
    metrics: Arc<Metrics>,
    reconcile_every: Duration,
    serving: Arc<Serving>,
    close_after: Option<Duration>,
    shutdown: CancellationToken,
) {
    if store.is_cluster() {
        // STOPGAP until the fan-out subscribes on a cluster (see cluster_stopgap.rs).
        let stopgap = super::cluster_stopgap::run(store, hub, metrics, reconcile_every, shutdown);
        return stopgap.await;
    }
    let mut backoff = Duration::from_millis(50);
    // When the subscriber last went down, while its sockets are still open.
    let mut lost_since: Option<Instant> = None;
    loop {
        let result = shutdown
            .run_until_cancelled(subscribe_and_follow(
                &store,
                &hub,
                &metrics,
                reconcile_every,
                &mut backoff,
            ))
            .await;
        if hub.live() {
            lost_since = Some(Instant::now());
        }
        hub.set_live(false);
        match result {
            None => return,
            Some(err) => tracing::warn!(error = %err, "Redis subscriber lost; resubscribing"),
        }
        // The primary may have moved (a failover): with Sentinel, ask where it is now.
        if shutdown
            .run_until_cancelled(store.follow_primary())
            .await
            .is_none()
        {
            return;
        }
        if let (Some(since), Some(after)) = (lost_since, close_after)
            && since.elapsed() >= after
        {
            tracing::warn!(
                sockets = hub.sockets(),
                "Redis unreachable for {after:?}: closing this replica's WebSockets (1013) so \
                 their clients reconnect elsewhere"
            );
            serving.close_all();
            lost_since = None;
        }
        if shutdown
            .run_until_cancelled(tokio::time::sleep(backoff))
            .await
            .is_none()
        {
            return;
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One subscriber connection's life; returns why it ended.
async fn subscribe_and_follow(
    store: &RedisStore,
    hub: &Hub,
    metrics: &Arc<Metrics>,
    reconcile_every: Duration,
    backoff: &mut Duration,
) -> StoreError {
    let unavailable = |err: redis::RedisError| StoreError::Unavailable(err.to_string());
    let timeout = store.timeout();
    let connect = async {
        if store.client().is_none() {
            store.follow_primary().await;
        }
        let Some(client) = store.client() else {
            return Err(StoreError::Unavailable(
                "Sentinel has named no Redis primary yet".into(),
            ));
        };
        let pubsub = client.get_async_pubsub().await.map_err(unavailable)?;
        let (mut sink, stream) = pubsub.split();
        sink.psubscribe(store.keys().channel_pattern())
            .await
            .map_err(unavailable)?;
        Ok::<_, StoreError>((sink, stream))
    };
    let (mut sink, mut stream) = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(err)) => return err,
        Err(_) => return StoreError::Unavailable("subscribing timed out".into()),
    };
    // Subscribed first, then re-read: a change made in between arrives by pub/sub, and the
    // hub drops whichever copy is older. The replica is live once that first round is done.
    // At most one round runs at a time; dropping the set (the connection ended) aborts it.
    let mut rounds = JoinSet::new();
    let start_round = |rounds: &mut JoinSet<_>| {
        rounds.spawn(reconcile::round(
            store.clone(),
            hub.clone(),
            Arc::clone(metrics),
        ));
    };
    start_round(&mut rounds);
    let mut tick = tokio::time::interval(reconcile_every);
    // A reconcile slower than the period must not be followed by another at once.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return StoreError::Unavailable("the subscriber connection closed".into());
                };
                deliver(store, hub, metrics, message.get_channel_name(), message.get_payload_bytes());
            }
            Some(ended) = rounds.join_next(), if !rounds.is_empty() => {
                match ended {
                    Ok(Ok(())) if !hub.live() => {
                        hub.set_live(true);
                        *backoff = Duration::from_millis(50);
                        tracing::info!("Redis subscriber live");
                    }
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => return err,
                    Err(err) => return StoreError::Unavailable(format!("reconcile task: {err}")),
                }
            }
            _ = tick.tick() => {
                // A ping proves the subscriber connection itself still works; a hung or
                // half-open connection would otherwise go unnoticed. In subscribed mode Redis
                // answers PING with an array, not a string: any answer will do.
                match tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await {
                    // A Redis refusing writes answers PING with MISCONF: an answer too.
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) if refuses_writes(&err) => {}
                    Ok(Err(err)) => return unavailable(err),
                    Err(_) => return StoreError::Unavailable("subscriber ping timed out".into()),
                }
                // A round still running (a slow Redis, many counters) is not doubled.
                if rounds.is_empty() {
                    start_round(&mut rounds);
                }
            }
        }
    }
}

/// Version 2: an owned counter's meta changed (`meta`: keys rotated, settings changed, just
/// created) or it was deleted (`deleted`). A counter without sockets here is none of this
/// replica's business. Otherwise the meta is read again (the event says only that it
/// changed, so a forged one changes nothing) and offered to the hub, whose sockets then
/// learn their new role and settings; a deleted counter's sockets close.
fn event(store: &RedisStore, hub: &Hub, name: shared::CounterName, payload: &[u8]) {
    if !hub.serves(&name) {
        return;
    }
    let (store, hub) = (store.clone(), hub.clone());
    let deleted = payload == b"deleted";
    tokio::spawn(async move {
        match store.owned(&name).await {
            Ok(Some(owned)) => {
                hub.offer_standing(&name, Standing::Owned(Arc::new(owned)));
            }
            Ok(None) if deleted => hub.gone(&name),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(counter = %name, error = %err, "could not read a changed meta; the reconcile will");
            }
        }
    });
}

/// Hands one pub/sub message to the hub. Anyone allowed to publish on a counter's channel
/// can put anything there, so only a state the store can have published for that counter
/// is taken; anything else is counted, logged and dropped, never allowed to stop the
/// subscriber or to set a version no change made. The pattern covers every channel under
/// the prefix; only `prefix{name}` and `prefix{name}:events` are ours (a message on
/// `counter:global` comes from a replica of version 1's layout, still running).
fn deliver(store: &RedisStore, hub: &Hub, metrics: &Metrics, channel: &str, payload: &[u8]) {
    if let Some(name) = store.keys().name_of_events(channel) {
        return event(store, hub, name, payload);
    }
    match store.keys().name_of_channel(channel) {
        Some(name) => match serde_json::from_slice::<CounterState>(payload) {
            Ok(state) if state.is_published_state_of(&name) => {
                hub.publish(state);
            }
            _ => dropped(metrics, channel, payload, "not a state of its counter"),
        },
        None => dropped(metrics, channel, payload, "not on a counter's channel"),
    }
}

/// Counts and logs a pub/sub message that is not taken.
fn dropped(metrics: &Metrics, channel: &str, payload: &[u8], why: &str) {
    metrics.pubsub_dropped.inc();
    // A prefix is enough to recognise it; the rest could be megabytes.
    let start = &payload[..payload.len().min(120)];
    let payload = String::from_utf8_lossy(start);
    tracing::warn!(channel, %payload, "dropped a message that is {why}");
}
