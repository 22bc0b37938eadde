//! The page's state and the actions that change it; see [`crate::state`] for the rules.

use std::rc::Rc;

use shared::{CounterMeta, ErrorCode, MAX_BY, OpId, Role, ServerMessage};
use yew::Reducible;

use super::capacity::Capacity;
use super::pending_op::{Delivery, PendingOp};
use super::saved::{Confirmed, Saved};
use super::status::Status;
use super::{MAX_AGE_MS, QUEUE_LIMIT, UNDO_WINDOW_MS};

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
    /// Takes back the last press while [`State::undo_available`], at this time.
    Undo { at_ms: u64 },
    /// The last press can no longer be undone if its window is over by `now_ms`.
    UndoExpire { now_ms: u64 },
    /// The label sent with every press from now on ("north door"); `None` for none.
    SetLabel(Option<String>),
    /// The counter is gone for good; no socket will be opened again.
    Gone(Gone),
}

/// Why a counter's page has nothing more to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gone {
    /// The name is neither open nor created (the server answers 404 `not_found`).
    NotFound,
    /// The owner deleted the counter while the page was open (close code 4404).
    Deleted,
}

/// The last press, which may be undone for [`UNDO_WINDOW_MS`] once the server has applied it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LastPress {
    /// The change an undo names.
    op_id: OpId,
    /// Its signed change, taken back by the undo (shown at once, like a press).
    delta: i64,
    /// When it was pressed (ms since the epoch); the window starts here.
    at_ms: u64,
    /// Whether its ack came: an undo of a change the server has not applied would be refused.
    applied: bool,
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
    /// Whether this page presents a key (`auth`) first on every socket.
    has_key: bool,
    /// What the server last said this page may do (or what it said on an earlier visit);
    /// `None` until known.
    role: Option<Role>,
    /// The `access` frames still to come on this socket before it may carry changes: the one
    /// every socket gets after connecting, and the answer to the key when one was sent. Until
    /// then unsettled presses wait, so presses queued offline never go out under a key that
    /// no longer works.
    accesses_awaited: u8,
    /// Set when the server refused this page's key (after a rotation): the page says why.
    key_refused: bool,
    /// The counter's title, capacity and warn level, from the last `meta` frame.
    meta: CounterMeta,
    /// Sent with every press.
    label: Option<String>,
    /// The last press, while it may still become undoable.
    last_press: Option<LastPress>,
    /// Set when the counter does not exist (any more).
    gone: Option<Gone>,
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
            has_key: false,
            role: None,
            accesses_awaited: 1,
            key_refused: false,
            meta: CounterMeta::default(),
            label: None,
            last_press: None,
            gone: None,
        }
    }

    /// This page presents a key on every socket, and starts from the role the server gave on
    /// an earlier visit (shown until the server says it again) and the place's label.
    pub fn with_access(mut self, has_key: bool, role: Option<Role>, label: Option<String>) -> Self {
        self.has_key = has_key;
        self.role = role;
        self.label = label;
        self
    }

    /// The role to show: the server's word, or until it comes, staff (an open counter, or a
    /// key this device holds; a viewer's presses made meanwhile are refused and dropped).
    pub fn role(&self) -> Role {
        self.role.unwrap_or(Role::Staff)
    }

    /// Whether the server has said what this page may do, on this page or an earlier one.
    pub fn role_known(&self) -> bool {
        self.role.is_some()
    }

    /// Whether the server refused this page's key: the staff link no longer works.
    pub fn key_refused(&self) -> bool {
        self.key_refused
    }

    /// The counter's settings as the server last sent them.
    pub fn meta(&self) -> &CounterMeta {
        &self.meta
    }

    /// How full the counter is, by the number shown.
    pub fn capacity(&self) -> Capacity {
        Capacity::of(self.displayed_value(), &self.meta)
    }

    /// The label sent with every press.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Whether the counter is gone, and why.
    pub fn gone(&self) -> Option<Gone> {
        self.gone
    }

    /// Whether the last press can be undone now: the server applied it and its window is
    /// not over (the page dispatches [`Action::UndoExpire`] at [`State::undo_deadline`]).
    pub fn undo_available(&self) -> bool {
        self.last_press.as_ref().is_some_and(|last| last.applied)
    }

    /// When the last press's undo window ends, while there is one.
    pub fn undo_deadline(&self) -> Option<u64> {
        self.last_press
            .as_ref()
            .map(|last| last.at_ms + UNDO_WINDOW_MS)
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
                self.accesses_awaited = 1 + u8::from(self.has_key);
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
            Action::Undo { at_ms } => self.undo(at_ms),
            Action::UndoExpire { now_ms } => {
                if self
                    .undo_deadline()
                    .is_some_and(|deadline| deadline <= now_ms)
                {
                    self.last_press = None;
                }
            }
            Action::SetLabel(label) => {
                self.label = label.filter(|label| !label.trim().is_empty());
            }
            Action::Gone(gone) => {
                self.gone = Some(gone);
                self.socket_open = false;
                self.online = None;
                // Nothing kept for this counter can ever be applied.
                self.retain_ops(|_| false);
                self.last_press = None;
                self.update_queue_full();
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
                    if let Some(last) = self.last_press.as_mut()
                        && last.op_id == op_id
                    {
                        last.applied = true;
                    }
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
                    Some(op_id) => {
                        if self
                            .last_press
                            .as_ref()
                            .is_some_and(|last| last.op_id == op_id)
                        {
                            self.last_press = None;
                        }
                        self.settle(&op_id);
                    }
                    None => {}
                }
                if code == ErrorCode::Forbidden && self.has_key {
                    self.key_refused = true;
                }
                self.release_held();
                self.error = Some(Refusal { code, message });
            }
            ServerMessage::Presence { online } => self.online = Some(online),
            ServerMessage::Access { role } => self.access(role),
            ServerMessage::Meta(meta) => self.meta = meta,
        }
    }

    /// The server said what this socket may do. The first `access` of a socket that sent a
    /// key is the one every socket gets before its key is read, and is passed over.
    fn access(&mut self, role: Role) {
        if self.accesses_awaited > 0 {
            self.accesses_awaited -= 1;
            if self.accesses_awaited > 0 {
                return;
            }
        }
        self.role = Some(role);
        if role >= Role::Staff {
            self.key_refused = false;
            return;
        }
        // A viewer's presses can never count: settled now, not retried forever. With a key
        // this means the key was refused (rotated); the page says so.
        if self.has_key {
            self.key_refused = true;
        }
        if !self.pending.is_empty() {
            self.error = Some(Refusal {
                code: ErrorCode::Forbidden,
                message: "this counter is owned: changing it needs the staff link".into(),
            });
        }
        self.retain_ops(|_| false);
        self.last_press = None;
        self.update_queue_full();
    }

    fn press(&mut self, delta: i64, at_ms: u64) {
        let delta = delta.clamp(-MAX_BY, MAX_BY);
        // A viewer has no buttons, and its keys do nothing either.
        if delta == 0 || self.role() < Role::Staff || self.gone.is_some() {
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
        if let Some(last) = self.pending.last_mut()
            && last.absorbs(delta, self.label.as_deref())
        {
            last.delta += delta;
            // Undo takes back one press, not a bundle of them.
            self.last_press = None;
            return;
        }
        let op_id = self.next_op_id();
        self.last_press = Some(LastPress {
            op_id: op_id.clone(),
            delta,
            at_ms,
            applied: false,
        });
        self.pending
            .push(PendingOp::new(op_id, delta, at_ms, self.label.clone()));
    }

    /// Takes back the last press, if it can be: an op of its own, shown at once.
    fn undo(&mut self, at_ms: u64) {
        if !self.undo_available() || self.gone.is_some() {
            return;
        }
        let Some(last) = self.last_press.take() else {
            return;
        };
        if self.unsettled_presses() + last.delta.unsigned_abs() > QUEUE_LIMIT {
            self.queue_full = true;
            return;
        }
        self.error = None;
        self.ops_revision += 1;
        let op_id = self.next_op_id();
        self.pending
            .push(PendingOp::undo(op_id, last.op_id, last.delta, at_ms));
    }

    /// A new `op_id`: the page's client id and a number it never used.
    fn next_op_id(&mut self) -> OpId {
        let op_id = OpId::try_from(format!("{}-{}", self.client_id, self.next_seq))
            .expect("a client id of at most 40 bytes and a number make a valid op_id");
        self.next_seq += 1;
        op_id
    }

    /// Hands every op that waits for a socket to the open one, numbering the frames.
    fn hand_out(&mut self) {
        if !self.may_change() {
            return;
        }
        for op in self.pending.iter_mut().filter(|op| op.wants_socket()) {
            self.handed_out += 1;
            op.delivery = Delivery::InFlight {
                seq: self.handed_out,
            };
        }
    }

    /// Whether the open socket may carry changes: the server has answered every `access`
    /// awaited on it, and the role it gave may change the counter.
    fn may_change(&self) -> bool {
        self.socket_open && self.accesses_awaited == 0 && self.role() >= Role::Staff
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

    /// Opens a socket on an open counter: the server says `staff` after connecting.
    fn connect(page: &mut Page) {
        page.apply(Action::Connected);
        page.apply(access(Role::Staff));
    }

    fn access(role: Role) -> Action {
        Action::Received(ServerMessage::Access { role })
    }

    /// A page with an open socket that has seen `value` at `version`.
    fn live(value: i64, version: u64) -> Page {
        let mut state = Page::new("c1");
        connect(&mut state);
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
        connect(&mut state);
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
        connect(&mut state);
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
        connect(&mut state);
        assert_eq!(json(&flush(&mut state)), first);
    }

    #[test]
    fn an_op_handed_to_a_socket_that_closed_goes_out_on_the_next() {
        let mut state = live(0, 1);
        state.apply(press(1));
        // The socket closes before the send loop has written the press.
        state.apply(Action::Disconnected);
        connect(&mut state);
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
        connect(&mut state);
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
        connect(&mut state);
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
        connect(&mut after);
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
        connect(&mut state);
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
        connect(&mut state);
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
        connect(&mut state);
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

    /// A page that holds a key and has pressed while no socket was open.
    fn keyed_with_queued_press() -> Page {
        let mut page = Page {
            state: State::new("c1".into()).with_access(true, Some(Role::Staff), None),
            written: 0,
        };
        page.apply(press(1));
        page
    }

    #[test]
    fn queued_presses_wait_for_the_key_to_be_accepted_again() {
        let mut page = keyed_with_queued_press();
        page.apply(Action::Connected);
        page.apply(state_frame(5, 2));
        assert!(
            flush(&mut page).is_empty(),
            "nothing before any access frame"
        );
        // Every socket hears `viewer` first on an owned counter, before its key is read.
        page.apply(access(Role::Viewer));
        assert!(
            flush(&mut page).is_empty(),
            "the connect-time access is not the key's answer"
        );
        assert_eq!(page.unsettled_presses(), 1, "and the press is kept");
        page.apply(access(Role::Staff));
        assert_eq!(
            json(&flush(&mut page)),
            [r#"{"type":"increment","by":1,"op_id":"c1-1"}"#]
        );
        // The next socket waits again.
        page.apply(Action::Disconnected);
        page.apply(Action::Connected);
        page.apply(access(Role::Viewer));
        assert!(flush(&mut page).is_empty());
        page.apply(access(Role::Staff));
        assert_eq!(
            flush(&mut page).len(),
            1,
            "resent under its id once accepted"
        );
    }

    #[test]
    fn a_refused_key_settles_the_queued_presses_and_says_why() {
        let mut page = keyed_with_queued_press();
        page.apply(press(-1));
        page.apply(Action::Connected);
        page.apply(state_frame(5, 2));
        page.apply(access(Role::Viewer));
        page.apply(access(Role::Viewer));
        assert!(flush(&mut page).is_empty(), "never sent");
        assert_eq!(page.unsettled_presses(), 0, "settled, not retried forever");
        assert_eq!(page.displayed_value(), Some(5));
        assert!(page.key_refused());
        assert_eq!(page.role(), Role::Viewer);
        assert_eq!(page.error().map(|e| e.code), Some(ErrorCode::Forbidden));
        page.apply(press(1));
        assert_eq!(page.unsettled_presses(), 0, "a viewer's keys do nothing");
    }

    #[test]
    fn a_key_rotated_under_an_open_socket_stops_the_page_changing_it() {
        let mut page = keyed_with_queued_press();
        page.apply(Action::Connected);
        page.apply(state_frame(0, 1));
        page.apply(access(Role::Viewer));
        page.apply(access(Role::Staff));
        flush(&mut page);
        page.apply(press(1));
        let in_flight = page.outbox().next().unwrap().op_id.clone();
        flush(&mut page);
        // The owner rotates the key: the press in flight is refused, the socket drops to viewer.
        page.apply(Action::Received(ServerMessage::Error {
            code: ErrorCode::Forbidden,
            message: "owned".into(),
            op_id: Some(in_flight),
        }));
        page.apply(access(Role::Viewer));
        assert!(page.key_refused());
        assert_eq!(page.role(), Role::Viewer);
        assert_eq!(page.unsettled_presses(), 0);
        assert!(!page.undo_available());
        assert_eq!(page.error().map(|e| e.code), Some(ErrorCode::Forbidden));
        // A new key (a new staff link opened on this page) is accepted again.
        page.apply(access(Role::Staff));
        assert!(!page.key_refused());
    }

    #[test]
    fn presses_made_before_a_viewer_is_known_never_go_out() {
        let mut page = Page::new("c1");
        assert_eq!(
            page.role(),
            Role::Staff,
            "buttons until the server says otherwise"
        );
        assert!(!page.role_known());
        page.apply(press(1));
        page.apply(Action::Connected);
        page.apply(state_frame(3, 1));
        assert!(
            flush(&mut page).is_empty(),
            "nothing before the access frame"
        );
        page.apply(access(Role::Viewer));
        assert!(flush(&mut page).is_empty());
        assert_eq!(page.displayed_value(), Some(3));
        assert!(!page.key_refused(), "no key was refused: the page had none");
        assert_eq!(page.role(), Role::Viewer);
    }

    #[test]
    fn the_last_press_can_be_undone_once_within_its_window() {
        let mut page = live(10, 1);
        page.apply(Action::Press {
            delta: 1,
            at_ms: 1_000,
        });
        let op = page.outbox().next().unwrap().op_id.clone();
        flush(&mut page);
        assert!(!page.undo_available(), "not before the server applied it");
        page.apply(Action::Undo { at_ms: 1_100 });
        assert!(flush(&mut page).is_empty());
        page.apply(ack(&op, 11, 2));
        assert!(page.undo_available());
        assert_eq!(page.undo_deadline(), Some(1_000 + UNDO_WINDOW_MS));
        page.apply(Action::Undo { at_ms: 1_500 });
        assert_eq!(page.displayed_value(), Some(10), "shown at once");
        assert!(!page.undo_available(), "one undo per press");
        assert_eq!(
            json(&flush(&mut page)),
            [r#"{"type":"undo","op_id":"c1-2","undoes":"c1-1"}"#]
        );
        page.apply(Action::Undo { at_ms: 1_600 });
        assert!(flush(&mut page).is_empty(), "no second undo");
        let undo: OpId = "c1-2".to_owned().try_into().unwrap();
        page.apply(ack(&undo, 10, 3));
        assert_eq!(page.unsettled_presses(), 0);
        assert_eq!(page.displayed_value(), Some(10));
    }

    #[test]
    fn the_undo_window_closes() {
        let mut page = live(0, 1);
        page.apply(Action::Press {
            delta: -1,
            at_ms: 0,
        });
        let op = page.outbox().next().unwrap().op_id.clone();
        flush(&mut page);
        page.apply(ack(&op, -1, 2));
        page.apply(Action::UndoExpire {
            now_ms: UNDO_WINDOW_MS - 1,
        });
        assert!(page.undo_available(), "not yet");
        page.apply(Action::UndoExpire {
            now_ms: UNDO_WINDOW_MS,
        });
        assert!(!page.undo_available());
        assert_eq!(page.undo_deadline(), None);
    }

    #[test]
    fn an_undo_already_made_elsewhere_is_settled_and_said() {
        let mut page = live(0, 1);
        page.apply(press(1));
        let op = page.outbox().next().unwrap().op_id.clone();
        flush(&mut page);
        page.apply(ack(&op, 1, 2));
        page.apply(Action::Undo { at_ms: 0 });
        let undo = page.outbox().next().unwrap().op_id.clone();
        flush(&mut page);
        page.apply(Action::Received(ServerMessage::Error {
            code: ErrorCode::Conflict,
            message: "that change was undone already".into(),
            op_id: Some(undo),
        }));
        assert_eq!(page.unsettled_presses(), 0, "not retried");
        assert_eq!(page.error().map(|e| e.code), Some(ErrorCode::Conflict));
    }

    #[test]
    fn presses_carry_the_label_and_merge_only_with_their_own() {
        let mut page = Page::new("c1");
        page.apply(Action::SetLabel(Some("north door".into())));
        page.apply(press(1));
        page.apply(press(1));
        page.apply(Action::SetLabel(Some("  ".into())));
        assert_eq!(page.label(), None, "a blank label is none");
        page.apply(press(1));
        connect(&mut page);
        assert_eq!(
            json(&flush(&mut page)),
            [
                r#"{"type":"increment","by":2,"op_id":"c1-1","label":"north door"}"#,
                r#"{"type":"increment","by":1,"op_id":"c1-2"}"#,
            ]
        );
        assert!(
            !page.undo_available(),
            "merged presses are not undone one by one"
        );
        let restored = State::restore("c2".into(), page.saved(), 0);
        assert_eq!(restored.pending[0].label.as_deref(), Some("north door"));
    }

    #[test]
    fn meta_frames_set_the_capacity_state() {
        let mut page = live(7, 1);
        assert_eq!(page.capacity(), Capacity::None);
        page.apply(Action::Received(ServerMessage::Meta(CounterMeta {
            title: Some("Hall".into()),
            capacity: Some(10),
            warn_at: Some(8),
        })));
        assert_eq!(page.meta().title.as_deref(), Some("Hall"));
        assert_eq!(page.capacity(), Capacity::Normal);
        page.apply(press(1));
        assert_eq!(page.capacity(), Capacity::Warn, "the press shows at once");
        page.apply(state_frame(12, 5));
        assert_eq!(
            page.capacity(),
            Capacity::Warn,
            "held while the press is out"
        );
    }

    #[test]
    fn a_counter_that_is_gone_drops_its_presses() {
        let mut page = live(0, 1);
        page.apply(press(1));
        page.apply(Action::Gone(Gone::Deleted));
        assert_eq!(page.gone(), Some(Gone::Deleted));
        assert_eq!(page.unsettled_presses(), 0);
        assert!(page.saved().ops.is_empty(), "nothing kept to resend");
        page.apply(press(1));
        assert_eq!(page.unsettled_presses(), 0);
    }
}
