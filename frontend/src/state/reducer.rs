//! The page's state and the actions that change it; see [`crate::state`] for the rules.

use std::rc::Rc;

use shared::{ErrorCode, MAX_BY, OpId, ServerMessage};
use yew::Reducible;

use super::pending_op::{Delivery, PendingOp};
use super::saved::{Confirmed, Saved};
use super::status::Status;
use super::{MAX_AGE_MS, QUEUE_LIMIT};

/// Everything that can happen to the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A socket opened.
    Connected,
    /// The socket that was open closed or failed.
    Disconnected,
    /// The browser's network status changed (`navigator.onLine` and its events).
    BrowserOnline(bool),
    /// A frame arrived from the server.
    Received(ServerMessage),
    /// The person pressed a button (+1 or −1) at this time (ms since the epoch).
    Press { delta: i64, at_ms: u64 },
    /// Drops presses that waited longer than [`MAX_AGE_MS`] by `now_ms`.
    Expire { now_ms: u64 },
    /// The pause after a passing refusal is over: send the refused ops again.
    RetryDue,
}

/// A refusal from the server, kept to show until the next press. The words for people are
/// the notice's business ([`crate::components::notice`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// What was refused, which decides the words shown.
    pub code: ErrorCode,
    /// The server's own sentence: meant for developers, shown only for codes a press should
    /// never cause.
    pub message: String,
}

/// The page's state. See the module documentation of [`crate::state`] for the rules it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Starts every `op_id` this page makes, so ids from different tabs and phones never meet
    /// in the server's dedupe records.
    client_id: String,
    /// The number in the next `op_id`; with `client_id` it makes every id unique.
    next_seq: u64,
    /// The server's last report; `None` until the first `state` frame, because a made-up 0
    /// would be a number people might act on.
    confirmed: Option<Confirmed>,
    /// Presses not yet settled, oldest first.
    pending: Vec<PendingOp>,
    /// Moves whenever the presses kept on the device change (one made or grown, settled or
    /// dropped), so the page stores them at once without comparing them on every render.
    ops_revision: u64,
    /// How many frames have been handed to sockets over the page's life: numbers them, so the
    /// send loop writes each exactly once.
    handed_out: u64,
    /// Whether a socket is open now.
    socket_open: bool,
    /// True from the moment a socket opens until its first `state` frame, which is then taken
    /// whatever its version (the store may have been reset).
    awaiting_first_state: bool,
    /// A newer `state` that came while presses of this page were in flight on the socket: it
    /// may already include them, and showing it plus those presses would count them twice for
    /// a moment. It is taken once they are answered (or the socket goes).
    held: Option<Confirmed>,
    /// What the browser says about the network; it decides between `offline` and
    /// `reconnecting`.
    browser_online: bool,
    /// How many sockets watch the counter, all replicas together; `None` while unknown.
    online: Option<u64>,
    /// The last refusal from the server, until the next press.
    error: Option<Refusal>,
    /// Set when a press was refused because [`QUEUE_LIMIT`] presses already wait; cleared
    /// when the queue drains.
    queue_full: bool,
    /// Presses dropped because they waited longer than [`MAX_AGE_MS`], to tell the person.
    expired: u64,
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut state = Rc::unwrap_or_clone(self);
        state.apply(action);
        Rc::new(state)
    }
}

impl State {
    /// A page that has not connected yet. `client_id` must be unique among the clients of the
    /// counter (the page draws it at random) and at most 40 bytes, so ids stay within
    /// [`shared::MAX_OP_ID_LEN`].
    pub fn new(client_id: String) -> Self {
        Self {
            client_id,
            next_seq: 1,
            confirmed: None,
            pending: Vec::new(),
            ops_revision: 0,
            handed_out: 0,
            socket_open: false,
            awaiting_first_state: true,
            held: None,
            browser_online: true,
            online: None,
            error: None,
            queue_full: false,
            expired: 0,
        }
    }

    /// A page that starts from what an earlier page of this counter kept: its last known
    /// value and its unsettled presses, minus those too old by `now_ms`.
    pub fn restore(client_id: String, saved: Saved, now_ms: u64) -> Self {
        let mut state = Self::new(client_id);
        state.confirmed = saved.confirmed;
        state.pending = saved
            .ops
            .into_iter()
            .filter(|op| op.delta != 0 && op.delta.abs() <= MAX_BY)
            .map(PendingOp::restored)
            .collect();
        state.apply(Action::Expire { now_ms });
        state
    }

    /// What to keep across reloads.
    pub fn saved(&self) -> Saved {
        Saved {
            confirmed: self.confirmed,
            ops: self.pending.iter().map(PendingOp::saved).collect(),
        }
    }

    /// The server's last word, as the device keeps it.
    pub fn confirmed(&self) -> Option<Confirmed> {
        self.confirmed
    }

    /// Where the unsettled presses are in their changes; see the field.
    pub fn ops_revision(&self) -> u64 {
        self.ops_revision
    }

    /// Whether a press was just refused because the queue is full.
    pub fn queue_full(&self) -> bool {
        self.queue_full
    }

    /// How many presses were dropped for waiting too long.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// The number to show: the server's value plus every unsettled press; `None` until the
    /// server has reported once.
    pub fn displayed_value(&self) -> Option<i64> {
        let confirmed = self.confirmed?;
        let pending = self
            .pending
            .iter()
            .fold(0i64, |sum, op| sum.saturating_add(op.delta));
        Some(confirmed.value.saturating_add(pending))
    }

    /// What the connection indicator shows. The browser's own "no network" wins, because it
    /// is what the person can act on (a socket to a server on the same machine may stay open).
    pub fn status(&self) -> Status {
        if !self.browser_online {
            Status::Offline
        } else if self.socket_open {
            Status::Live
        } else {
            Status::Reconnecting
        }
    }

    /// How many people watch the counter, when known.
    pub fn online(&self) -> Option<u64> {
        self.online
    }

    /// The last refusal to show, if any.
    pub fn error(&self) -> Option<&Refusal> {
        self.error.as_ref()
    }

    /// How many presses wait for the server. Merged presses count one each, since every
    /// press moves the counter by one.
    pub fn unsettled_presses(&self) -> u64 {
        self.pending.iter().map(|op| op.delta.unsigned_abs()).sum()
    }

    /// How many frames have been handed out so far: where the send loop's next `written`
    /// mark goes once it has written [`State::outbox`].
    pub fn handed_out(&self) -> u64 {
        self.handed_out
    }

    /// The ops handed to the open socket after the `written`-th frame, oldest first: what the
    /// send loop writes now. (Ops are independent changes, so the order among those written
    /// together does not matter to the server.)
    pub fn outbox(&self, written: u64) -> impl Iterator<Item = &PendingOp> {
        self.pending
            .iter()
            .filter(move |op| op.in_flight().is_some_and(|seq| seq > written))
    }

    /// Whether some ops wait for [`Action::RetryDue`]; the page then schedules one.
    pub fn retry_wanted(&self) -> bool {
        self.pending
            .iter()
            .any(|op| op.delivery == Delivery::AwaitingRetry)
    }

    /// Applies one action, then hands whatever may go out to the open socket.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Connected => {
                self.socket_open = true;
                self.awaiting_first_state = true;
                self.held = None;
                self.take_back_in_flight();
            }
            Action::Disconnected => {
                self.socket_open = false;
                self.awaiting_first_state = true;
                self.held = None;
                // The count came from that socket; a stale one would mislead.
                self.online = None;
                self.take_back_in_flight();
            }
            Action::BrowserOnline(online) => self.browser_online = online,
            Action::Received(message) => self.receive(message),
            Action::Press { delta, at_ms } => self.press(delta, at_ms),
            Action::Expire { now_ms } => {
                let before = self.unsettled_presses();
                self.retain_ops(|op| now_ms.saturating_sub(op.created_ms) < MAX_AGE_MS);
                self.expired += before - self.unsettled_presses();
                self.update_queue_full();
            }
            Action::RetryDue => {
                for op in &mut self.pending {
                    if op.delivery == Delivery::AwaitingRetry {
                        op.delivery = Delivery::Resend;
                    }
                }
            }
        }
        self.hand_out();
    }

    fn receive(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::State(state) => {
                let report = Confirmed {
                    value: state.value,
                    version: state.version,
                };
                let newer = self.confirmed.is_none_or(|c| state.version > c.version);
                if self.awaiting_first_state {
                    self.confirmed = Some(report);
                    self.awaiting_first_state = false;
                } else if newer && self.in_flight() {
                    if self.held.is_none_or(|held| report.version > held.version) {
                        self.held = Some(report);
                    }
                } else if newer {
                    self.confirmed = Some(report);
                }
            }
            ServerMessage::Ack {
                op_id,
                value,
                version,
            } => {
                if let Some(op_id) = op_id {
                    self.settle(&op_id);
                }
                // The ack often comes before the `state` frame of the same change; taking its
                // value now keeps the number from dipping back for a moment. An ack for a
                // resent op carries its first, older result and is ignored here.
                let newer = self.confirmed.is_none_or(|c| version > c.version);
                if !self.awaiting_first_state && newer {
                    self.confirmed = Some(Confirmed { value, version });
                }
                self.release_held();
            }
            ServerMessage::Error {
                code,
                message,
                op_id,
            } => {
                let passing = matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited);
                match op_id {
                    Some(op_id) if passing => {
                        // Same op_id when it goes again: the server applies it once even if
                        // the refusal raced with an apply.
                        for op in self.pending.iter_mut().filter(|op| op.op_id == op_id) {
                            op.delivery = Delivery::AwaitingRetry;
                        }
                    }
                    Some(op_id) => self.settle(&op_id),
                    None => {}
                }
                self.release_held();
                self.error = Some(Refusal { code, message });
            }
            ServerMessage::Presence { online } => self.online = Some(online),
        }
    }

    fn press(&mut self, delta: i64, at_ms: u64) {
        let delta = delta.clamp(-MAX_BY, MAX_BY);
        if delta == 0 {
            return;
        }
        if self.unsettled_presses() + delta.unsigned_abs() > QUEUE_LIMIT {
            self.queue_full = true;
            return;
        }
        self.error = None;
        self.expired = 0;
        self.ops_revision += 1;
        // Presses made while no socket is open would otherwise pile up as one frame each and
        // run into the server's rate limit on reconnect; one that never left the page can
        // simply grow instead.
        if let Some(last) = self.pending.last_mut() {
            let same_way = last.delta.signum() == delta.signum();
            if last.delivery == Delivery::Unsent && same_way && (last.delta + delta).abs() <= MAX_BY
            {
                last.delta += delta;
                return;
            }
        }
        let op_id = OpId::try_from(format!("{}-{}", self.client_id, self.next_seq))
            .expect("a client id of at most 40 bytes and a number make a valid op_id");
        self.next_seq += 1;
        self.pending.push(PendingOp::new(op_id, delta, at_ms));
    }

    /// Hands every op that waits for a socket to the open one, numbering the frames.
    fn hand_out(&mut self) {
        if !self.socket_open {
            return;
        }
        for op in self.pending.iter_mut().filter(|op| op.wants_socket()) {
            self.handed_out += 1;
            op.delivery = Delivery::InFlight {
                seq: self.handed_out,
            };
        }
    }

    /// Whether presses of this page are out on the socket, unanswered.
    fn in_flight(&self) -> bool {
        self.pending.iter().any(|op| op.in_flight().is_some())
    }

    /// Takes the held `state` once nothing is in flight any more.
    fn release_held(&mut self) {
        if self.in_flight() {
            return;
        }
        if let Some(held) = self.held.take()
            && self.confirmed.is_none_or(|c| held.version > c.version)
        {
            self.confirmed = Some(held);
        }
    }

    /// Forgets an op the server has answered.
    fn settle(&mut self, op_id: &OpId) {
        self.retain_ops(|op| &op.op_id != op_id);
        self.update_queue_full();
    }

    /// Keeps the unsettled ops that `keep` says, and notes a change for the page to store.
    fn retain_ops(&mut self, keep: impl FnMut(&PendingOp) -> bool) {
        let before = self.pending.len();
        self.pending.retain(keep);
        if self.pending.len() != before {
            self.ops_revision += 1;
        }
    }

    /// The "queue is full" notice stays until there is room again.
    fn update_queue_full(&mut self) {
        if self.unsettled_presses() < QUEUE_LIMIT {
            self.queue_full = false;
        }
    }

    /// The ops that were out on a socket that is gone (or replaced) go out again on the next.
    fn take_back_in_flight(&mut self) {
        for op in &mut self.pending {
            if op.in_flight().is_some() {
                op.delivery = Delivery::Resend;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::{Deref, DerefMut};

    use shared::{ClientMessage, CounterName, CounterState};

    use super::*;

    fn press(delta: i64) -> Action {
        Action::Press { delta, at_ms: 0 }
    }

    fn state_frame(value: i64, version: u64) -> Action {
        Action::Received(ServerMessage::State(CounterState {
            name: CounterName::global(),
            value,
            version,
        }))
    }

    fn ack(op_id: &OpId, value: i64, version: u64) -> Action {
        Action::Received(ServerMessage::Ack {
            op_id: Some(op_id.clone()),
            value,
            version,
        })
    }

    /// The page as the tests drive it: the reducer, and the send loop's mark of what it has
    /// written.
    struct Page {
        /// The reducer under test.
        state: State,
        /// The number of the last frame the send loop wrote.
        written: u64,
    }

    impl Page {
        fn new(client_id: &str) -> Self {
            Self {
                state: State::new(client_id.into()),
                written: 0,
            }
        }

        /// The ops the send loop would write now.
        fn outbox(&self) -> impl Iterator<Item = &PendingOp> {
            self.state.outbox(self.written)
        }
    }

    impl Deref for Page {
        type Target = State;

        fn deref(&self) -> &State {
            &self.state
        }
    }

    impl DerefMut for Page {
        fn deref_mut(&mut self) -> &mut State {
            &mut self.state
        }
    }

    /// A page with an open socket that has seen `value` at `version`.
    fn live(value: i64, version: u64) -> Page {
        let mut state = Page::new("c1");
        state.apply(Action::Connected);
        state.apply(state_frame(value, version));
        state
    }

    /// Plays the page's send loop once: writes what the reducer has handed out since.
    fn flush(page: &mut Page) -> Vec<ClientMessage> {
        let frames = page.outbox().map(PendingOp::frame).collect();
        page.written = page.handed_out();
        frames
    }

    fn json(frames: &[ClientMessage]) -> Vec<String> {
        frames
            .iter()
            .map(|frame| serde_json::to_string(frame).unwrap())
            .collect()
    }

    #[test]
    fn shows_nothing_until_the_server_reports() {
        let mut state = Page::new("c1");
        assert_eq!(state.displayed_value(), None);
        assert_eq!(state.status(), Status::Reconnecting);
        state.apply(Action::Connected);
        assert_eq!(state.status(), Status::Live);
        assert_eq!(state.displayed_value(), None);
        state.apply(state_frame(-7, 3));
        assert_eq!(state.displayed_value(), Some(-7));
    }

    #[test]
    fn a_press_shows_at_once_and_goes_out_as_the_contract_spells_it() {
        let mut state = live(41, 10);
        state.apply(press(1));
        assert_eq!(state.displayed_value(), Some(42));
        assert_eq!(
            json(&flush(&mut state)),
            [r#"{"type":"increment","by":1,"op_id":"c1-1"}"#]
        );
        state.apply(press(-1));
        assert_eq!(
            json(&flush(&mut state)),
            [r#"{"type":"decrement","by":1,"op_id":"c1-2"}"#]
        );
        assert_eq!(state.displayed_value(), Some(41));
        assert!(flush(&mut state).is_empty(), "each op goes out once");
    }

    #[test]
    fn an_ack_settles_its_op_without_a_dip() {
        let mut state = live(0, 1);
        state.apply(press(1));
        let op = state.outbox().next().unwrap().op_id.clone();
        flush(&mut state);
        state.apply(ack(&op, 1, 2));
        assert_eq!(state.unsettled_presses(), 0);
        assert_eq!(state.displayed_value(), Some(1));
        // The state frame of the same change changes nothing.
        state.apply(state_frame(1, 2));
        assert_eq!(state.displayed_value(), Some(1));
    }

    #[test]
    fn an_older_state_is_ignored_within_a_connection() {
        let mut state = live(5, 9);
        state.apply(state_frame(3, 8));
        state.apply(state_frame(4, 9));
        assert_eq!(state.displayed_value(), Some(5));
        state.apply(state_frame(6, 10));
        assert_eq!(state.displayed_value(), Some(6));
    }

    #[test]
    fn the_first_state_of_a_new_connection_wins_whatever_its_version() {
        let mut state = live(100, 50);
        state.apply(Action::Disconnected);
        state.apply(Action::Connected);
        // The store was reset: the version went backwards.
        state.apply(state_frame(2, 1));
        assert_eq!(state.displayed_value(), Some(2));
        state.apply(state_frame(1, 1));
        assert_eq!(state.displayed_value(), Some(2));
    }

    #[test]
    fn unsettled_ops_are_resent_with_the_same_id_after_a_reconnect() {
        let mut state = live(0, 1);
        state.apply(press(1));
        let first = json(&flush(&mut state));
        state.apply(Action::Disconnected);
        assert_eq!(state.status(), Status::Reconnecting);
        assert_eq!(
            state.outbox().count(),
            0,
            "nothing goes out without a socket"
        );
        assert_eq!(state.displayed_value(), Some(1), "the press still shows");
        state.apply(Action::Connected);
        assert_eq!(json(&flush(&mut state)), first);
    }

    #[test]
    fn an_op_handed_to_a_socket_that_closed_goes_out_on_the_next() {
        let mut state = live(0, 1);
        state.apply(press(1));
        // The socket closes before the send loop has written the press.
        state.apply(Action::Disconnected);
        state.apply(Action::Connected);
        assert_eq!(state.outbox().count(), 1);
        assert_eq!(
            json(&flush(&mut state)),
            [r#"{"type":"increment","by":1,"op_id":"c1-1"}"#]
        );
    }

    #[test]
    fn presses_without_a_socket_merge_but_never_into_a_sent_op() {
        let mut state = live(0, 1);
        state.apply(press(1));
        flush(&mut state);
        state.apply(Action::Disconnected);
        for _ in 0..3 {
            state.apply(press(1));
        }
        state.apply(press(-1));
        assert_eq!(state.displayed_value(), Some(3));
        assert_eq!(state.unsettled_presses(), 5);
        state.apply(Action::Connected);
        assert_eq!(
            json(&flush(&mut state)),
            [
                r#"{"type":"increment","by":1,"op_id":"c1-1"}"#,
                r#"{"type":"increment","by":3,"op_id":"c1-2"}"#,
                r#"{"type":"decrement","by":1,"op_id":"c1-3"}"#,
            ]
        );
    }

    #[test]
    fn a_final_error_settles_its_op_and_is_kept_to_show() {
        let mut state = live(10, 1);
        state.apply(press(1));
        let op = state.outbox().next().unwrap().op_id.clone();
        flush(&mut state);
        state.apply(Action::Received(ServerMessage::Error {
            code: ErrorCode::Overflow,
            message: "too far".into(),
            op_id: Some(op),
        }));
        assert_eq!(state.displayed_value(), Some(10));
        assert_eq!(state.unsettled_presses(), 0);
        assert_eq!(state.error().map(|e| e.code), Some(ErrorCode::Overflow));
        state.apply(press(-1));
        assert_eq!(state.error(), None, "the next press clears it");
    }

    #[test]
    fn a_passing_error_keeps_the_op_until_the_retry() {
        for code in [ErrorCode::RateLimited, ErrorCode::Unavailable] {
            let mut state = live(10, 1);
            state.apply(press(-1));
            let op = state.outbox().next().unwrap().op_id.clone();
            flush(&mut state);
            state.apply(Action::Received(ServerMessage::Error {
                code,
                message: "later".into(),
                op_id: Some(op.clone()),
            }));
            assert_eq!(state.displayed_value(), Some(9), "the press still shows");
            assert!(state.error().is_some());
            assert!(state.retry_wanted());
            assert_eq!(
                state.outbox().count(),
                0,
                "no resend before the pause is over"
            );
            state.apply(Action::RetryDue);
            assert!(!state.retry_wanted());
            let again: Vec<_> = state.outbox().map(|op| op.op_id.clone()).collect();
            assert_eq!(again, [op], "sent again under the same op_id");
        }
    }

    #[test]
    fn status_follows_the_socket_and_the_browser() {
        let mut state = live(0, 1);
        state.apply(Action::Received(ServerMessage::Presence { online: 3 }));
        assert_eq!(state.online(), Some(3));
        state.apply(Action::BrowserOnline(false));
        assert_eq!(state.status(), Status::Offline);
        state.apply(Action::Disconnected);
        assert_eq!(state.status(), Status::Offline);
        assert_eq!(state.online(), None);
        state.apply(Action::BrowserOnline(true));
        assert_eq!(state.status(), Status::Reconnecting);
        assert_eq!(Status::Reconnecting.as_str(), "reconnecting");
    }

    #[test]
    fn op_ids_are_unique_and_within_the_limit() {
        let mut state = Page::new(&"x".repeat(40));
        state.apply(Action::Connected);
        state.next_seq = u64::MAX - 2;
        state.apply(press(1));
        flush(&mut state);
        state.apply(press(1));
        let ids: Vec<_> = state.pending.iter().map(|op| op.op_id.clone()).collect();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
    }

    #[test]
    fn unsettled_presses_survive_a_reload_under_the_same_ids() {
        let mut before = live(10, 4);
        before.apply(press(1));
        flush(&mut before);
        before.apply(Action::Disconnected);
        before.apply(press(1));
        before.apply(press(1));
        let saved = before.saved();
        assert_eq!(saved.ops.len(), 2);
        let kept: Saved =
            serde_json::from_str(&serde_json::to_string(&saved).unwrap()).expect("round trip");

        let mut after = Page {
            state: State::restore("c2".into(), kept, 1_000),
            written: 0,
        };
        assert_eq!(
            after.displayed_value(),
            Some(13),
            "last value and the presses show"
        );
        assert_eq!(after.status(), Status::Reconnecting);
        after.apply(press(1));
        after.apply(Action::Connected);
        assert_eq!(
            json(&flush(&mut after)),
            [
                r#"{"type":"increment","by":1,"op_id":"c1-1"}"#,
                r#"{"type":"increment","by":2,"op_id":"c1-2"}"#,
                r#"{"type":"increment","by":1,"op_id":"c2-1"}"#,
            ],
            "restored ops keep their ids and are never grown"
        );
        // The server's first state wins, even if it is older than the kept one.
        after.apply(state_frame(11, 2));
        assert_eq!(after.displayed_value(), Some(15));
    }

    #[test]
    fn the_queue_is_bounded_and_says_so() {
        let mut state = Page::new("c1");
        state.apply(state_frame(0, 1));
        state.apply(Action::Press {
            delta: QUEUE_LIMIT as i64,
            at_ms: 0,
        });
        assert!(!state.queue_full());
        state.apply(press(1));
        assert!(state.queue_full(), "one press too many");
        assert_eq!(state.unsettled_presses(), QUEUE_LIMIT);
        state.apply(Action::Connected);
        state.apply(state_frame(0, 1));
        let op = state.outbox().next().unwrap().op_id.clone();
        flush(&mut state);
        state.apply(ack(&op, 1_000, 2));
        assert!(!state.queue_full(), "room again");
        assert_eq!(state.displayed_value(), Some(1_000));
    }

    #[test]
    fn presses_older_than_a_day_are_dropped_and_counted() {
        let mut state = Page::new("c1");
        state.apply(Action::Press {
            delta: 1,
            at_ms: 1_000,
        });
        state.apply(Action::Press {
            delta: -1,
            at_ms: 5_000,
        });
        state.apply(Action::Expire {
            now_ms: 1_000 + MAX_AGE_MS,
        });
        assert_eq!(state.expired(), 1);
        assert_eq!(state.unsettled_presses(), 1);
        let restored = State::restore("c2".into(), state.saved(), 5_000 + MAX_AGE_MS);
        assert_eq!(restored.unsettled_presses(), 0);
        assert_eq!(restored.expired(), 1);
    }

    #[test]
    fn a_state_that_may_include_a_press_in_flight_waits_for_its_ack() {
        let mut state = live(10, 1);
        state.apply(press(1));
        let op = state.outbox().next().unwrap().op_id.clone();
        flush(&mut state);
        // The change's own state frame overtakes its ack (pub/sub is faster than the reply).
        state.apply(state_frame(11, 2));
        assert_eq!(
            state.displayed_value(),
            Some(11),
            "the press is not counted twice"
        );
        // Someone else's change arrives too, still before the ack.
        state.apply(state_frame(15, 3));
        assert_eq!(state.displayed_value(), Some(11));
        state.apply(Action::Received(ServerMessage::Ack {
            op_id: Some(op),
            value: 11,
            version: 2,
        }));
        assert_eq!(
            state.displayed_value(),
            Some(15),
            "the held state is taken after the ack"
        );
        assert_eq!(state.unsettled_presses(), 0);
    }

    #[test]
    fn with_nothing_in_flight_states_show_at_once() {
        let mut state = live(10, 1);
        state.apply(state_frame(12, 2));
        assert_eq!(state.displayed_value(), Some(12));
        // A press made offline is pending but not in flight: others' changes still show.
        state.apply(Action::Disconnected);
        state.apply(press(1));
        state.apply(Action::Connected);
        state.apply(state_frame(20, 5));
        assert_eq!(state.displayed_value(), Some(21));
    }

    #[test]
    fn the_ops_revision_moves_exactly_when_the_kept_presses_change() {
        let mut state = live(10, 1);
        let mut seen = state.ops_revision();
        let mut moved = |state: &Page| {
            let before = std::mem::replace(&mut seen, state.ops_revision());
            before != seen
        };
        // Another client's change and the socket's comings and goings keep nothing new.
        state.apply(state_frame(12, 2));
        assert!(!moved(&state), "a state frame");
        state.apply(press(1));
        assert!(moved(&state), "a press");
        let op = state.outbox().next().unwrap().op_id.clone();
        flush(&mut state);
        state.apply(Action::Disconnected);
        state.apply(Action::Connected);
        assert!(!moved(&state), "a resend keeps the same op");
        state.apply(Action::Disconnected);
        state.apply(press(1));
        assert!(moved(&state), "a second press, offline");
        state.apply(press(1));
        assert!(moved(&state), "a press that grows an unsent op");
        state.apply(ack(&op, 13, 3));
        assert!(moved(&state), "an ack settles an op");
        state.apply(ack(&op, 13, 3));
        assert!(!moved(&state), "an ack for an op already settled");
        state.apply(Action::Expire { now_ms: MAX_AGE_MS });
        assert!(moved(&state), "presses dropped for age");
        assert_eq!(state.unsettled_presses(), 0);
    }
}
