//! Fan-out inside one replica: one latest-value channel per counter that has sockets here.
//!
//! A change is serialised once into a [`StateFrame`], down to its WebSocket frame's bytes,
//! and shared by every socket watching the counter. The channel is a `tokio::sync::watch`,
//! which holds only the newest value: a slow socket that wakes up late reads the latest
//! state, never a backlog. States are accepted only when their version is newer, so no
//! socket ever sees a version go backwards, whichever path (pub/sub, the local apply, a
//! reconcile) delivered them first.
//!
//! Each frame carries a [`Delivery`] record for the fan-out latency histogram: a socket that
//! writes the frame raises the record's latest write time (one atomic), and the record
//! reports it when the last holder lets go of the frame. Nothing is counted per socket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use prometheus_client::metrics::histogram::Histogram;
use shared::{CounterName, CounterState, ProtocolError, ServerMessage};
use tokio::sync::watch;
use tokio::time::Instant;
use tungstenite::Utf8Bytes;

use crate::access::Standing;
use crate::ws::frame;

/// Version 2: what a counter's sockets know of its access rules and settings.
#[derive(Clone, Debug)]
pub enum Access {
    /// Open or owned, with its keys and settings.
    Known(Standing),
    /// Deleted: its sockets close (4404). `rev` is the last revision known, so that a
    /// counter created again under the name (a newer revision) is taken.
    Gone { rev: u64 },
}

/// An [`Access`] with its `meta` frame serialised once for every socket.
#[derive(Clone, Debug)]
pub struct AccessFrame {
    pub access: Access,
    /// The `meta` frame's JSON (empty when gone).
    pub meta: Utf8Bytes,
}

impl AccessFrame {
    fn new(access: Access) -> Self {
        let meta = match &access {
            Access::Known(standing) => ServerMessage::Meta(standing.meta()).to_json().into(),
            Access::Gone { .. } => Utf8Bytes::default(),
        };
        Self { access, meta }
    }

    fn rev(&self) -> u64 {
        match &self.access {
            Access::Known(standing) => standing.rev(),
            Access::Gone { rev } => *rev,
        }
    }
}

/// A counter state with its `state` frame already built.
#[derive(Clone, Debug)]
pub struct StateFrame {
    /// The state itself, to order frames and to answer reconciles.
    pub state: CounterState,
    /// The whole WebSocket frame carrying the `state` message, as written to every socket
    /// (shared by reference among them).
    pub frame: Bytes,
    /// How long this frame took to reach the last socket that wrote it.
    pub delivery: Arc<Delivery>,
}

impl StateFrame {
    fn new(state: CounterState, latency: &Histogram) -> Self {
        let frame = frame::text(&ServerMessage::State(state.clone()).to_json());
        let delivery = Arc::new(Delivery {
            published_at: Instant::now(),
            last_written: AtomicU64::new(0),
            latency: latency.clone(),
        });
        Self {
            state,
            frame,
            delivery,
        }
    }
}

/// One frame's fan-out: when the hub took it, and when a socket last wrote it. It is
/// observed into the histogram when dropped, that is once the channel holds a newer frame
/// (or closed) and every socket that took this one has written it.
#[derive(Debug)]
pub struct Delivery {
    /// When the hub took the state.
    published_at: Instant,
    /// The latest write to a socket, in nanoseconds after `published_at`; 0 until one.
    last_written: AtomicU64,
    /// Where the latency goes: the replica's fan-out histogram.
    latency: Histogram,
}

impl Delivery {
    /// Notes that one socket finished writing the frame at `at`.
    pub fn written(&self, at: Instant) {
        let nanos = u64::try_from(at.saturating_duration_since(self.published_at).as_nanos())
            .unwrap_or(u64::MAX);
        // At least 1, so that a write is told from none.
        self.last_written.fetch_max(nanos.max(1), Ordering::Relaxed);
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // A frame no socket wrote (every socket skipped it for a newer one) says nothing of
        // the fan-out.
        let nanos = *self.last_written.get_mut();
        if nanos > 0 {
            self.latency.observe(nanos as f64 / 1e9);
        }
    }
}

/// What one counter's sockets on this replica share.
struct Channel {
    /// The newest state known here; `None` until the first read from the store.
    state: watch::Sender<Option<StateFrame>>,
    /// People watching this counter over all replicas, as last computed.
    presence: watch::Sender<u64>,
    /// While the counter's keys are damaged, the `error` frame its sockets are sent; a
    /// damaged counter must hurt only its own sockets.
    fault: watch::Sender<Option<Utf8Bytes>>,
    /// Version 2: open or owned (keys, settings) or deleted; `None` until first read.
    access: watch::Sender<Option<AccessFrame>>,
    /// Sockets on this replica watching the counter; the channel goes when it drops to zero.
    sockets: usize,
}

/// The replica's counters that have at least one socket; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    /// Shared by every clone: the router's state, the subscriber, presence and each socket.
    inner: Arc<Inner>,
}

struct Inner {
    /// Counter name to its channel. A plain mutex: it is held only for map lookups, never
    /// across an await.
    channels: Mutex<HashMap<CounterName, Channel>>,
    /// Whether changes made on other replicas reach this hub now: always with the embedded
    /// store (there are no others), with Redis while the subscriber is subscribed and has
    /// re-read the served counters. A socket opened while it is false would never hear of
    /// them, so upgrades are refused and `/readyz` fails meanwhile.
    live: AtomicBool,
    /// Each frame's [`Delivery`] reports into it.
    fanout_latency: Histogram,
}

/// A socket's membership of one counter's channel; leaving is dropping it.
pub struct Membership {
    /// The hub to leave on drop.
    hub: Hub,
    /// The channel to leave on drop.
    name: CounterName,
    /// Wakes the socket on every accepted state.
    pub state: watch::Receiver<Option<StateFrame>>,
    /// Wakes the socket when the presence count changes.
    pub presence: watch::Receiver<u64>,
    /// Wakes the socket when the counter is found damaged (or repaired).
    pub fault: watch::Receiver<Option<Utf8Bytes>>,
    /// Wakes the socket when the counter's keys or settings change, or it is deleted.
    pub access: watch::Receiver<Option<AccessFrame>>,
}

impl Hub {
    /// An empty hub; `live` says whether it hears of other replicas' changes from the start.
    pub fn new(live: bool, fanout_latency: Histogram) -> Self {
        Self {
            inner: Arc::new(Inner {
                channels: Mutex::default(),
                live: AtomicBool::new(live),
                fanout_latency,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CounterName, Channel>> {
        // The map is consistent after every statement, so a panic elsewhere cannot leave it
        // half-updated; carrying on is safe.
        self.inner
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether changes made on other replicas reach this hub now. It costs no round trip, so
    /// every WebSocket upgrade can ask.
    pub fn live(&self) -> bool {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Set by the subscriber as it follows Redis or loses it.
    pub fn set_live(&self, live: bool) {
        self.inner.live.store(live, Ordering::Release);
    }

    /// Adds a socket to the counter's channel, creating the channel for the first one.
    pub fn join(&self, name: &CounterName) -> Membership {
        let mut channels = self.lock();
        let channel = channels.entry(name.clone()).or_insert_with(|| Channel {
            state: watch::Sender::new(None),
            presence: watch::Sender::new(0),
            fault: watch::Sender::new(None),
            access: watch::Sender::new(None),
            sockets: 0,
        });
        channel.sockets += 1;
        let mut fault = channel.fault.subscribe();
        // A socket joining a counter already known damaged is told too.
        if fault.borrow().is_some() {
            fault.mark_changed();
        }
        Membership {
            hub: self.clone(),
            name: name.clone(),
            state: channel.state.subscribe(),
            presence: channel.presence.subscribe(),
            fault,
            access: channel.access.subscribe(),
        }
    }

    /// Offers what a counter is now (read from the store, or learnt from a change of this
    /// replica). It is taken when newer than what the sockets have: a higher revision, or
    /// anything at all while nothing is known. Returns whether it was taken.
    pub fn offer_standing(&self, name: &CounterName, standing: Standing) -> bool {
        let channels = self.lock();
        let Some(channel) = channels.get(name) else {
            return false;
        };
        channel.access.send_if_modified(|current| {
            let newer = match current {
                None => true,
                Some(frame) => frame.rev() < standing.rev(),
            };
            if newer {
                *current = Some(AccessFrame::new(Access::Known(standing)));
            }
            newer
        })
    }

    /// Marks a counter deleted: its sockets close.
    pub fn gone(&self, name: &CounterName) {
        let channels = self.lock();
        if let Some(channel) = channels.get(name) {
            channel.access.send_if_modified(|current| {
                let rev = match current {
                    Some(AccessFrame {
                        access: Access::Gone { .. },
                        ..
                    }) => return false,
                    Some(frame) => frame.rev(),
                    None => 0,
                };
                *current = Some(AccessFrame::new(Access::Gone { rev }));
                true
            });
        }
    }

    /// Whether a counter has sockets here.
    pub fn serves(&self, name: &CounterName) -> bool {
        self.lock().contains_key(name)
    }

    /// What this replica knows a counter to be, while changes made anywhere reach it.
    pub fn standing(&self, name: &CounterName) -> Option<Standing> {
        if !self.live() {
            return None;
        }
        let channels = self.lock();
        let frame = channels.get(name)?.access.borrow();
        match frame.as_ref()?.access.clone() {
            Access::Known(standing) => Some(standing),
            Access::Gone { .. } => None,
        }
    }

    /// Offers a state to the counter's sockets. It is taken only if it is newer than what
    /// they have; a counter without sockets here is ignored. Returns whether it was taken.
    pub fn publish(&self, state: CounterState) -> bool {
        let channels = self.lock();
        let Some(channel) = channels.get(&state.name) else {
            return false;
        };
        channel.state.send_if_modified(|current| {
            let newer = current
                .as_ref()
                .is_none_or(|frame| frame.state.version < state.version);
            if newer {
                *current = Some(StateFrame::new(state, &self.inner.fanout_latency));
            }
            newer
        })
    }

    /// Sets how many people watch a counter over all replicas.
    pub fn set_presence(&self, name: &CounterName, online: u64) {
        if let Some(channel) = self.lock().get(name) {
            channel.presence.send_if_modified(|current| {
                let changed = *current != online;
                *current = online;
                changed
            });
        }
    }

    /// Marks a counter damaged, with the error its sockets are sent, or sound again
    /// (`None`). Returns whether that changed, so the caller logs only the change.
    pub fn set_fault(&self, name: &CounterName, fault: Option<ProtocolError>) -> bool {
        let frame = fault.map(|err| ServerMessage::error(err, None).to_json().into());
        let channels = self.lock();
        let Some(channel) = channels.get(name) else {
            return false;
        };
        channel.fault.send_if_modified(|current| {
            let changed = current.is_some() != frame.is_some();
            if changed {
                *current = frame;
            }
            changed
        })
    }

    /// The counters served here, with the newest state known of each, the number of
    /// sockets on this replica, and whether it is known as owned.
    pub fn served(&self) -> Vec<(CounterName, Option<CounterState>, usize, bool)> {
        self.lock()
            .iter()
            .map(|(name, channel)| {
                let state = channel.state.borrow().as_ref().map(|f| f.state.clone());
                let owned = matches!(
                    channel.access.borrow().as_ref().map(|frame| &frame.access),
                    Some(Access::Known(Standing::Owned(_)))
                );
                (name.clone(), state, channel.sockets, owned)
            })
            .collect()
    }

    /// The newest state of a counter this replica serves, while changes made anywhere reach
    /// it (so the state is current); `None` otherwise.
    pub fn latest(&self, name: &CounterName) -> Option<CounterState> {
        if !self.live() {
            return None;
        }
        let channels = self.lock();
        let frame = channels.get(name)?.state.borrow();
        frame.as_ref().map(|frame| frame.state.clone())
    }

    /// Sockets connected to this replica, over all counters.
    pub fn sockets(&self) -> usize {
        self.lock().values().map(|channel| channel.sockets).sum()
    }
}

impl Membership {
    /// Whether this replica knows the counter's state yet.
    pub fn has_state(&self) -> bool {
        self.state.borrow().is_some()
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut channels = self.hub.lock();
        if let Some(channel) = channels.get_mut(&self.name) {
            channel.sockets -= 1;
            if channel.sockets == 0 {
                channels.remove(&self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Hub {
        Hub::new(true, Histogram::new([1.0]))
    }

    fn state(value: i64, version: u64) -> CounterState {
        CounterState {
            name: CounterName::global(),
            value,
            version,
        }
    }

    #[test]
    fn only_newer_versions_are_taken() {
        let hub = hub();
        let member = hub.join(&CounterName::global());
        assert!(hub.publish(state(5, 2)));
        assert!(!hub.publish(state(4, 1)));
        assert!(!hub.publish(state(9, 2)));
        assert!(hub.publish(state(6, 3)));
        let frame = member.state.borrow().clone().unwrap();
        assert_eq!(frame.state, state(6, 3));
        // The frame's header is two bytes: FIN and text, then the length (under 126).
        assert_eq!(
            &frame.frame[2..],
            br#"{"type":"state","name":"global","value":6,"version":3}"#
        );
    }

    #[test]
    fn a_channel_lives_while_it_has_sockets() {
        let hub = hub();
        assert!(
            !hub.publish(state(1, 1)),
            "no sockets, nothing to publish to"
        );
        let first = hub.join(&CounterName::global());
        let second = hub.join(&CounterName::global());
        assert_eq!(hub.sockets(), 2);
        drop(first);
        assert!(hub.publish(state(1, 1)));
        assert_eq!(second.state.borrow().clone().unwrap().state.value, 1);
        drop(second);
        assert!(hub.served().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_reports_its_last_write_once_replaced() {
        let latency = Histogram::new([0.005, 0.05]);
        let hub = Hub::new(true, latency.clone());
        let member = hub.join(&CounterName::global());
        hub.publish(state(1, 1));
        let delivery = member.state.borrow().as_ref().unwrap().delivery.clone();
        tokio::time::advance(std::time::Duration::from_millis(3)).await;
        delivery.written(Instant::now());
        tokio::time::advance(std::time::Duration::from_millis(7)).await;
        delivery.written(Instant::now());
        drop(delivery);
        assert_eq!(latency.count(), 0, "the channel still holds the frame");
        hub.publish(state(2, 2));
        assert_eq!(latency.count(), 1);
        assert!((latency.sum() - 0.010).abs() < 1e-6, "{}", latency.sum());
        hub.publish(state(3, 3));
        assert_eq!(latency.count(), 1, "a frame no socket wrote is not counted");
    }

    #[test]
    fn a_fault_wakes_the_counters_sockets_once_and_new_ones_at_join() {
        let hub = hub();
        let mut member = hub.join(&CounterName::global());
        let err = ProtocolError::new(shared::ErrorCode::Internal, "damaged");
        assert!(hub.set_fault(&CounterName::global(), Some(err.clone())));
        assert!(!hub.set_fault(&CounterName::global(), Some(err)));
        assert!(member.fault.has_changed().unwrap());
        let frame = member.fault.borrow_and_update().clone().unwrap();
        assert!(
            frame
                .as_str()
                .starts_with(r#"{"type":"error","code":"internal""#)
        );
        let late = hub.join(&CounterName::global());
        assert!(late.fault.has_changed().unwrap());
        assert!(hub.set_fault(&CounterName::global(), None));
        assert!(member.fault.borrow_and_update().is_none());
    }

    #[test]
    fn the_latest_state_is_known_only_while_the_hub_is_live() {
        let hub = hub();
        let name = CounterName::global();
        assert_eq!(hub.latest(&name), None, "not served here");
        let _member = hub.join(&name);
        assert_eq!(hub.latest(&name), None, "not read yet");
        hub.publish(state(7, 3));
        assert_eq!(hub.latest(&name), Some(state(7, 3)));
        hub.set_live(false);
        assert_eq!(
            hub.latest(&name),
            None,
            "other replicas' changes may be missing"
        );
    }

    #[test]
    fn presence_wakes_only_on_change() {
        let hub = hub();
        let mut member = hub.join(&CounterName::global());
        hub.set_presence(&CounterName::global(), 3);
        assert!(member.presence.has_changed().unwrap());
        assert_eq!(*member.presence.borrow_and_update(), 3);
        hub.set_presence(&CounterName::global(), 3);
        assert!(!member.presence.has_changed().unwrap());
    }
}
