//! The WebSocket to the backend, kept open for as long as the page lives.
//!
//! [`Connection`] turns what happens to the socket and to the browser's network into
//! [`Action`]s for the reducer, and writes frames when asked. It holds no counter state of its
//! own: what to send, and what to send again after a reconnect, is the reducer's to decide.
//!
//! A closed or failed socket is retried forever, after 250 ms doubling to 10 s, each delay
//! drawn at random from its upper half so that a restarted server is not hit by every phone at
//! the same instant. The window's `online` event retries at once, and so does coming back
//! to the page (`visibilitychange` to visible, `pageshow` from the back-forward cache): a
//! phone that was locked or in a pocket is live again the moment it is looked at.
//!
//! A socket can also die without closing (a phone moving from wifi to cellular leaves a
//! half-open connection that still says OPEN). The server sends a frame at least every
//! 20 seconds, so a socket silent for [`SILENCE_MS`] is taken for dead and replaced, and the
//! `online` event replaces even an open socket: the network under it has changed.
//!
//! Version 2: a page that holds a key writes `{"type":"auth","key":…}` as the first frame of
//! every socket, before it reports the socket open (so before any press can go). Two ends
//! are final and stop the retrying: the close code 4404 (the owner deleted the counter), and a
//! socket that cannot open because the name does not exist — a browser does not tell a page
//! why an upgrade failed, so after a failed opening the page asks `GET /api/counters/{name}`,
//! and a 404 `not_found` there is the answer.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use futures_util::future::{self, AbortHandle};
use futures_util::stream::SplitSink;
use futures_util::{FutureExt, SinkExt, StreamExt};
use gloo_events::EventListener;
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, State, WebSocketError};
use gloo_timers::callback::{Interval, Timeout};
use shared::{AuthRequest, ClientMessage, CounterName, ServerMessage};
use yew::Callback;

use crate::state::{Action, Gone};
use crate::web;

/// The first retry delay, in milliseconds.
const FIRST_DELAY_MS: u32 = 250;

/// The longest retry delay, in milliseconds: short enough that a phone back in coverage is
/// live again within seconds, long enough that a dead server is not hammered.
const MAX_DELAY_MS: u32 = 10_000;

/// How long an open socket may stay silent before it is taken for dead, in milliseconds:
/// the server's heartbeat comes every 20 s, so this is two missed beats and some.
const SILENCE_MS: f64 = 50_000.0;

/// How often the silence is checked, in milliseconds.
const WATCHDOG_MS: u32 = 5_000;

/// The close code of a deleted counter's sockets.
const DELETED: u16 = 4404;

/// A live link to one counter's WebSocket. Dropping it closes the socket and stops retrying.
pub struct Connection {
    /// The state the socket's task and the window's handlers share; they hold it weakly, so
    /// dropping this is what ends it all.
    shared: Rc<Shared>,
}

impl Connection {
    /// Opens the socket of counter `name` and reports to `on_action` from now on, starting
    /// with what the browser says about the network. With a `key`, every socket presents it
    /// first.
    pub fn open(name: &CounterName, key: Option<String>, on_action: Callback<Action>) -> Self {
        let auth = key.map(|key| {
            serde_json::to_string(&ClientMessage::Auth(AuthRequest { key }))
                .expect("an auth frame serialises")
        });
        let shared = Rc::new(Shared {
            url: counter_url(name.as_str()),
            api_url: format!("/api/counters/{name}"),
            auth,
            gone: Cell::new(false),
            on_action,
            sink: RefCell::new(None),
            reader: RefCell::new(None),
            open: Cell::new(false),
            failures: Cell::new(0),
            retry: RefCell::new(None),
            window_listeners: RefCell::new(Vec::new()),
            last_frame_at: Cell::new(0.0),
            watchdog: RefCell::new(None),
        });
        shared.listen_to_window();
        shared.watch_for_silence();
        let online = web_sys::window().is_none_or(|window| window.navigator().on_line());
        shared.on_action.emit(Action::BrowserOnline(online));
        shared.connect();
        Self { shared }
    }

    /// Writes one frame to the open socket. Without one the frame is dropped: the reducer
    /// hands it to the next socket, since a socket that goes reports `Disconnected`.
    pub fn send(&self, message: &ClientMessage) {
        let mut sink = self.shared.sink.borrow_mut();
        let (Some(sink), Ok(text)) = (sink.as_mut(), serde_json::to_string(message)) else {
            return;
        };
        // The sink is kept only once the socket is open, and an open gloo-net socket takes a
        // frame at once, so this never waits. A failed write means the socket is going, and
        // its close is on its way.
        let _ = sink.send(Message::Text(text)).now_or_never();
    }
}

/// The URL of a counter's socket on the server that served this page.
fn counter_url(name: &str) -> String {
    let location = web_sys::window().map(|window| window.location());
    let secure = location
        .as_ref()
        .and_then(|location| location.protocol().ok())
        .is_some_and(|protocol| protocol == "https:");
    let host = location
        .and_then(|location| location.host().ok())
        .unwrap_or_default();
    let scheme = if secure { "wss" } else { "ws" };
    format!("{scheme}://{host}/ws/counters/{name}")
}

/// What the connection's task and handlers share.
struct Shared {
    /// Where to connect; fixed for the page's life.
    url: String,
    /// The counter's REST URL, asked whether the counter exists when a socket cannot open.
    api_url: String,
    /// The `auth` frame each socket sends first, when the page holds a key.
    auth: Option<String>,
    /// Set once the counter is known to be gone: nothing reconnects any more.
    gone: Cell<bool>,
    /// Where events go: the reducer's dispatcher. Never called while a `RefCell` here is
    /// borrowed, because dispatching may run code that sends.
    on_action: Callback<Action>,
    /// The writing half of the current socket, from its opening until it closes or is
    /// replaced.
    sink: RefCell<Option<SplitSink<WebSocket, Message>>>,
    /// Stops the task that reads the current socket. A stopped task never reports again, so a
    /// retired socket's late events cannot touch the new one's state; and once it and the
    /// sink are dropped, gloo-net closes the socket.
    reader: RefCell<Option<AbortHandle>>,
    /// Whether the current socket reported `Connected`, so only such a socket reports
    /// `Disconnected`.
    open: Cell<bool>,
    /// Failed attempts in a row; sets the next delay. A `state` frame resets it: a server
    /// that answers only with an error and a close must not be retried at full speed.
    failures: Cell<u32>,
    /// When the current socket last delivered a frame (or opened), by `Date.now()`.
    last_frame_at: Cell<f64>,
    /// Checks for a silent socket; dropped with the connection.
    watchdog: RefCell<Option<Interval>>,
    /// The scheduled retry; replacing or dropping it cancels it.
    retry: RefCell<Option<Timeout>>,
    /// The window's and document's handlers, removed on drop.
    window_listeners: RefCell<Vec<EventListener>>,
}

impl Shared {
    /// Opens a new socket in place of the current one.
    fn connect(self: &Rc<Self>) {
        if self.gone.get() {
            return;
        }
        self.retry.borrow_mut().take();
        self.retire_socket();
        if self.open.replace(false) {
            self.on_action.emit(Action::Disconnected);
        }
        let Ok(socket) = WebSocket::open(&self.url) else {
            // Only a malformed URL fails here; retrying keeps the page's promise to try forever.
            self.schedule_retry();
            return;
        };
        let (task, reader) = future::abortable(Self::read(Rc::downgrade(self), socket));
        *self.reader.borrow_mut() = Some(reader);
        wasm_bindgen_futures::spawn_local(task.map(drop));
    }

    /// Stops reading the current socket and lets go of it, which closes it.
    fn retire_socket(&self) {
        if let Some(reader) = self.reader.borrow_mut().take() {
            reader.abort();
        }
        self.sink.borrow_mut().take();
    }

    /// The life of one socket: waits for it to open, reports its frames, and when it closes
    /// (or never opens) schedules the next attempt. It holds the connection weakly and never
    /// across a wait, so dropping the connection ends it too.
    async fn read(weak: Weak<Self>, mut socket: WebSocket) {
        // gloo-net's sink is ready once the socket has opened or failed to.
        let _ = future::poll_fn(|cx| socket.poll_ready_unpin(cx)).await;
        let opened = matches!(socket.state(), State::Open);
        let (mut sink, mut frames) = socket.split();
        if opened && let Some(shared) = weak.upgrade() {
            shared.open.set(true);
            shared.last_frame_at.set(js_sys::Date::now());
            // The key goes first, so the server has read it before any change: the reducer
            // sends nothing until its `access` answer.
            if let Some(auth) = &shared.auth {
                let _ = sink.send(Message::Text(auth.clone())).now_or_never();
            }
            *shared.sink.borrow_mut() = Some(sink);
            shared.on_action.emit(Action::Connected);
        }
        let mut deleted = false;
        // Frames come in order, and an error frame the server sends before it closes comes
        // before the end of the stream. The stream's errors (the socket's `error` and `close`
        // events) are followed by its end, which is what counts here.
        while let Some(frame) = frames.next().await {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            if let Err(WebSocketError::ConnectionClose(close)) = &frame {
                deleted = close.code == DELETED;
            }
            // The server sends JSON text frames only; anything else is not for this page.
            let Ok(Message::Text(text)) = frame else {
                continue;
            };
            let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else {
                continue;
            };
            shared.last_frame_at.set(js_sys::Date::now());
            if matches!(message, ServerMessage::State(_)) {
                shared.failures.set(0);
            }
            shared.on_action.emit(Action::Received(message));
        }
        let Some(shared) = weak.upgrade() else {
            return;
        };
        shared.sink.borrow_mut().take();
        if shared.open.replace(false) {
            shared.on_action.emit(Action::Disconnected);
        }
        if deleted || opened {
            shared.reader.borrow_mut().take();
            if deleted {
                shared.end(Gone::Deleted);
            } else {
                shared.schedule_retry();
            }
            return;
        }
        let api_url = shared.api_url.clone();
        drop(shared);
        // The socket never opened: maybe the name does not exist. The reader stays set while
        // asking, so coming back to the page waits for the answer instead of racing it, and
        // a new socket (the `online` event) aborts the question with this task.
        let missing = web::counter_missing(&api_url).await;
        if let Some(shared) = weak.upgrade() {
            shared.reader.borrow_mut().take();
            if missing == Some(true) {
                shared.end(Gone::NotFound);
            } else {
                shared.schedule_retry();
            }
        }
    }

    /// The counter is gone: no more sockets, and the page is told why.
    fn end(self: &Rc<Self>, gone: Gone) {
        self.gone.set(true);
        self.retry.borrow_mut().take();
        self.watchdog.borrow_mut().take();
        self.on_action.emit(Action::Gone(gone));
    }

    /// Tries again after the backoff delay.
    fn schedule_retry(self: &Rc<Self>) {
        let failures = self.failures.get();
        self.failures.set(failures.saturating_add(1));
        let ceiling = FIRST_DELAY_MS
            .saturating_mul(1 << failures.min(16))
            .min(MAX_DELAY_MS);
        // Equal jitter: half fixed, half random.
        let delay = ceiling / 2 + (js_sys::Math::random() * f64::from(ceiling / 2)) as u32;
        let weak = Rc::downgrade(self);
        let timeout = Timeout::new(delay, move || {
            if let Some(shared) = weak.upgrade() {
                shared.connect();
            }
        });
        *self.retry.borrow_mut() = Some(timeout);
    }

    /// Follows the browser's network status and the page's visibility, and retries at once
    /// when either comes back instead of waiting out a backoff that may have grown to
    /// seconds.
    fn listen_to_window(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let mut listeners = self.window_listeners.borrow_mut();
        listeners.push(web::listen(&window, "online", self, |shared| {
            shared.on_action.emit(Action::BrowserOnline(true));
            // The network under the socket changed: an open socket may be half-open and an
            // attempt in flight was most likely started without a network. Both go.
            shared.failures.set(0);
            shared.connect();
        }));
        listeners.push(web::listen(&window, "offline", self, |shared| {
            shared.on_action.emit(Action::BrowserOnline(false));
        }));
        listeners.push(web::listen(&window, "pageshow", self, |shared| {
            shared.reconnect_now();
        }));
        if let Some(document) = window.document() {
            listeners.push(web::listen(&document, "visibilitychange", self, |shared| {
                if web::document_visible() {
                    shared.reconnect_now();
                }
            }));
        }
    }

    /// Connects now unless a socket is open or being opened.
    fn reconnect_now(self: &Rc<Self>) {
        // A socket is being opened while its task waits for it; it is open once it reported
        // `Connected`.
        let attempt = self.reader.borrow().is_some();
        let busy = self.open.get() || attempt;
        if !busy {
            self.failures.set(0);
            self.connect();
        }
    }
}

impl Shared {
    /// Replaces an open socket that has been silent too long (see the module docs).
    fn watch_for_silence(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let interval = Interval::new(WATCHDOG_MS, move || {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            let silent = js_sys::Date::now() - shared.last_frame_at.get() > SILENCE_MS;
            if shared.open.get() && silent {
                shared.failures.set(0);
                shared.connect();
            }
        });
        *self.watchdog.borrow_mut() = Some(interval);
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.retire_socket();
    }
}
