//! The work that follows the number: everything a change triggers besides the number's own
//! text (the title, the saved value, the screen reader's announcement).
//!
//! A state frame's task writes one text node and ends; nothing else may hold up the number's
//! paint. [`Deferred`] runs the rest afterwards: after the next paint (an animation frame and
//! then a new task, because a task queued straight after the render may still run before the
//! paint), at most once per period (its own for each [`Deferred`]), always with the newest
//! value asked for.
//! When the page is hidden or unloaded (`visibilitychange` to hidden, `pagehide`) whatever
//! waits runs at once, so nothing is lost with the page.
//!
//! Only what may lag goes through here. A press is not: the page stores the unsettled ops
//! before it sends them (see `main.rs`), so a press is on the device before the server can see
//! it.

mod throttle;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_render::AnimationFrame;
use gloo_timers::callback::Timeout;

use crate::web;
use throttle::Throttle;

/// Hands the newest value to `work` after the number has painted, at a bounded rate, and at
/// once when the page goes. Dropping it cancels what waits and removes its listeners.
pub struct Deferred<T> {
    /// What the timers and the window's handlers share; they hold it weakly.
    shared: Rc<Shared<T>>,
}

/// What a [`Deferred`] and its timers and handlers share.
struct Shared<T> {
    /// The shortest time between two runs, in milliseconds, asked when a value is wanted (it
    /// may depend on whether the page is visible).
    period_ms: fn() -> u64,
    /// Whether a value waits, and when the work may run next.
    throttle: RefCell<Throttle<T>>,
    /// What is done with a value: writes that may lag the number.
    work: Box<dyn Fn(T)>,
    /// The wait for the throttle's period, then the hop to a new task after the paint;
    /// dropping it cancels it.
    timer: RefCell<Option<Timeout>>,
    /// The wait for the next paint; dropping it cancels it.
    frame: RefCell<Option<AnimationFrame>>,
    /// `pagehide` on the window and `visibilitychange` on the document, removed on drop.
    listeners: RefCell<Vec<EventListener>>,
}

impl<T: 'static> Deferred<T> {
    /// Hands the values asked for to `work` from now on, at most once per `period_ms()`, and
    /// listens for the page going.
    pub fn new(period_ms: fn() -> u64, work: impl Fn(T) + 'static) -> Self {
        let shared = Rc::new(Shared {
            period_ms,
            throttle: RefCell::new(Throttle::default()),
            work: Box::new(work),
            timer: RefCell::new(None),
            frame: RefCell::new(None),
            listeners: RefCell::new(Vec::new()),
        });
        shared.flush_when_the_page_goes();
        Self { shared }
    }

    /// Asks for `value` to be worked on: soon after the next paint, or at the end of the
    /// current period, with whatever value was asked for last by then.
    pub fn want(&self, value: T) {
        let period_ms = (self.shared.period_ms)();
        let wait = self
            .shared
            .throttle
            .borrow_mut()
            .want(web::now_ms(), value, period_ms);
        if let Some(wait) = wait {
            let weak = Rc::downgrade(&self.shared);
            let wait = u32::try_from(wait).unwrap_or(u32::MAX);
            let timer = Timeout::new(wait, move || Shared::after_paint(&weak));
            *self.shared.timer.borrow_mut() = Some(timer);
        }
    }
}

impl<T: 'static> Shared<T> {
    /// Runs the work in the first task after the next paint. A hidden page paints nothing
    /// (and gets no animation frames), so there the work runs now.
    fn after_paint(weak: &Weak<Self>) {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        if !web::document_visible() {
            shared.run();
            return;
        }
        let weak = weak.clone();
        let frame = gloo_render::request_animation_frame(move |_| {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            let weak = Rc::downgrade(&shared);
            let timer = Timeout::new(0, move || {
                if let Some(shared) = weak.upgrade() {
                    shared.run();
                }
            });
            *shared.timer.borrow_mut() = Some(timer);
        });
        *shared.frame.borrow_mut() = Some(frame);
    }

    /// Does the work now with the value that waits, if any, and cancels the waits for it.
    fn run(&self) {
        self.timer.borrow_mut().take();
        self.frame.borrow_mut().take();
        // The borrow ends before the work starts: the work may lead to a render whose
        // effects ask for more.
        let value = self.throttle.borrow_mut().take(web::now_ms());
        if let Some(value) = value {
            (self.work)(value);
        }
    }

    /// Runs what waits when the page is hidden or unloaded: a closed tab, a phone locked or
    /// switched to another app may never run a timer again.
    fn flush_when_the_page_goes(self: &Rc<Self>) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let mut listeners = self.listeners.borrow_mut();
        listeners.push(web::listen(&window, "pagehide", self, |shared| {
            shared.run()
        }));
        if let Some(document) = window.document() {
            listeners.push(web::listen(&document, "visibilitychange", self, |shared| {
                if !web::document_visible() {
                    shared.run();
                }
            }));
        }
    }
}
