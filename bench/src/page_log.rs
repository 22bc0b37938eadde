//! What an instrumented page records during the click benchmark, and the per-click timings
//! read from the records of all pages.
//!
//! [`PROBE`] runs in every page before the app's own scripts (CDP
//! `Page.addScriptToEvaluateOnNewDocument`) and keeps, in `window.__benchLog`:
//! - `clicks`: when a `click` reached the window, in the capture phase, before the app's
//!   handler ran;
//! - `sends`: when the app called `WebSocket.prototype.send`, before the frame was handed to
//!   the browser;
//! - `frames`: each `state` frame's arrival and value, from a `message` listener added in the
//!   socket's constructor, so that it runs before the app's own handler; a state frame is the
//!   app's (and the plain page's) `{"type":"state",…}`, or the socket.io page's event packet
//!   `42["state",{"value":…}]` (Engine.IO message `4`, Socket.IO event `2`);
//! - `shown`: each new number in `[data-testid=count]`, from a `MutationObserver`, when the
//!   observer ran: after the app wrote the text, before the browser painted it.
//!
//! Times are `performance.timeOrigin + performance.now()`, milliseconds since the Unix epoch
//! with sub-millisecond precision (Chromium coarsens it to 0.1 ms). Every renderer process
//! reads the same clocks of one machine, so times of different pages can be compared: that is
//! what makes "send in one page → message in another" a latency. [`CLOCK_OFFSET`] checks it:
//! each page's offset from `Date.now()`, which is the system clock itself, should be the same.

use serde::Deserialize;

/// Injected into every page before the app runs; see the module doc.
pub const PROBE: &str = r#"(() => {
  const now = () => performance.timeOrigin + performance.now();
  const log = { clicks: [], sends: [], frames: [], shown: [] };
  window.__benchLog = log;
  addEventListener('click', () => log.clicks.push(now()), { capture: true });
  // The state in a text frame, or null: see the module doc for the two forms.
  const state = (data) => {
    if (data.startsWith('42[')) {
      const [name, payload] = JSON.parse(data.slice(2));
      return name === 'state' ? payload : null;
    }
    const frame = JSON.parse(data);
    return frame.type === 'state' ? frame : null;
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    log.sends.push(now());
    return send.call(this, data);
  };
  window.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const at = now();
        if (typeof event.data !== 'string') return;
        try {
          const frame = state(event.data);
          if (frame !== null) log.frames.push([at, frame.value]);
        } catch (_) {}
      });
    }
  };
  let shown = null;
  new MutationObserver(() => {
    const at = now();
    const count = document.querySelector('[data-testid=count]');
    const text = count === null ? null : count.textContent.trim();
    if (text !== null && text !== shown && /^-?\d+$/.test(text)) {
      shown = text;
      log.shown.push([at, Number(text)]);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();"#;

/// The value the page shows once it is live (connected, with a number), or `null`.
pub const LIVE_VALUE: &str = r#"const count = document.querySelector('[data-testid=count]');
const status = document.querySelector('[data-testid=status]');
const live = count !== null && status !== null && status.getAttribute('data-state') === 'live';
return live ? Number(count.textContent.trim()) : null;"#;

/// The centre of the increment button, scrolled into view, in CSS pixels of the viewport:
/// where the click goes.
pub const INCREMENT_CENTRE: &str = r#"const button = document.querySelector('[data-testid=increment]');
button.scrollIntoView({ block: 'center' });
const box = button.getBoundingClientRect();
return [box.x + box.width / 2, box.y + box.height / 2];"#;

/// Whether the page has shown the value `arguments[0]`.
pub const HAS_SHOWN: &str =
    "return window.__benchLog.shown.some(([, value]) => value === arguments[0]);";

/// The mean of the page's clock minus the system clock (`Date.now()`, whole milliseconds)
/// over 20 ms of samples: the same in every page, within a fraction of a millisecond, when
/// pages' times can be compared.
pub const CLOCK_OFFSET: &str = r#"const end = Date.now() + 20;
let sum = 0, samples = 0;
while (Date.now() < end) {
  sum += performance.timeOrigin + performance.now() - Date.now();
  samples += 1;
}
return sum / samples;"#;

/// Forgets everything recorded so far (after the warm-up clicks); the number on screen is
/// kept, so that only a new one is recorded.
pub const FORGET: &str = r#"const log = window.__benchLog;
for (const records of [log.clicks, log.sends, log.frames, log.shown]) records.length = 0;"#;

/// Everything the page recorded.
pub const READ: &str = "return window.__benchLog;";

/// One page's records, as [`READ`] returns them; times in milliseconds since the epoch.
#[derive(Debug, Default, Deserialize)]
pub struct PageLog {
    /// When each click reached the page.
    pub clicks: Vec<f64>,
    /// When the app sent each frame.
    pub sends: Vec<f64>,
    /// Each state frame: (arrival, value).
    pub frames: Vec<(f64, i64)>,
    /// Each new number on screen: (written, value).
    pub shown: Vec<(f64, i64)>,
}

/// The stages of every click that reached every page, in milliseconds.
#[derive(Debug, Default, PartialEq)]
pub struct ClickTimings {
    /// Click → the clicking page's `send`: the app's handler, a render, the send loop.
    pub click_to_send: Vec<f64>,
    /// `send` → the first other page's state frame: the network and the server, as clients
    /// see them.
    pub send_to_first_message: Vec<f64>,
    /// `send` → each other page's state frame, one sample per page and click.
    pub send_to_message: Vec<f64>,
    /// Each other page's state frame → its number written, one sample per page and click.
    pub message_to_shown: Vec<f64>,
    /// Click → the last of the other pages shows the number: what a person sees.
    pub click_to_last_shown: Vec<f64>,
    /// Clicks for which some record is missing (no send, or a page that skipped the value).
    pub incomplete: usize,
}

/// Reads the stages of each click from the records. The clicking page's `n`th click (from 1)
/// made the counter `first_value + n`; a page's records of that value are its records of the
/// click, and the click's send is the first one at or after it.
pub fn timings(clicker: &PageLog, others: &[PageLog], first_value: i64) -> ClickTimings {
    let mut timings = ClickTimings::default();
    for (value, &click) in (first_value + 1..).zip(&clicker.clicks) {
        let send = clicker.sends.iter().copied().find(|&at| at >= click);
        let arrivals: Option<Vec<(f64, f64)>> = others
            .iter()
            .map(|page| {
                let message = page.frames.iter().find(|frame| frame.1 == value)?.0;
                let shown = page.shown.iter().find(|shown| shown.1 == value)?.0;
                Some((message, shown))
            })
            .collect();
        let (Some(send), Some(arrivals)) = (send, arrivals) else {
            timings.incomplete += 1;
            continue;
        };
        if arrivals.is_empty() {
            continue;
        }
        timings.click_to_send.push(send - click);
        let first_message = arrivals.iter().map(|a| a.0).fold(f64::INFINITY, f64::min);
        timings.send_to_first_message.push(first_message - send);
        let last_shown = arrivals
            .iter()
            .map(|a| a.1)
            .fold(f64::NEG_INFINITY, f64::max);
        timings.click_to_last_shown.push(last_shown - click);
        for (message, shown) in arrivals {
            timings.send_to_message.push(message - send);
            timings.message_to_shown.push(shown - message);
        }
    }
    timings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(frames: &[(f64, i64)], shown: &[(f64, i64)]) -> PageLog {
        PageLog {
            frames: frames.to_vec(),
            shown: shown.to_vec(),
            ..PageLog::default()
        }
    }

    #[test]
    fn each_click_is_matched_by_value_and_by_time() {
        let clicker = PageLog {
            clicks: vec![1000.0, 2000.0],
            sends: vec![1002.0, 2001.0],
            // The clicking page's own frames and numbers are not what is measured.
            frames: vec![(1010.0, 6)],
            shown: vec![(1003.0, 6)],
        };
        let others = [
            page(
                &[(1008.0, 6), (2009.0, 7)],
                &[(500.0, 5), (1009.0, 6), (2011.0, 7)],
            ),
            page(&[(1012.0, 6), (2007.0, 7)], &[(1015.0, 6), (2008.0, 7)]),
        ];
        let timings = timings(&clicker, &others, 5);
        assert_eq!(timings.click_to_send, [2.0, 1.0]);
        assert_eq!(timings.send_to_first_message, [6.0, 6.0]);
        assert_eq!(timings.send_to_message, [6.0, 10.0, 8.0, 6.0]);
        assert_eq!(timings.message_to_shown, [1.0, 3.0, 2.0, 1.0]);
        assert_eq!(timings.click_to_last_shown, [15.0, 11.0]);
        assert_eq!(timings.incomplete, 0);
    }

    #[test]
    fn a_click_a_page_missed_is_incomplete_not_a_sample() {
        let clicker = PageLog {
            clicks: vec![1000.0, 2000.0],
            sends: vec![1002.0],
            ..PageLog::default()
        };
        let others = [page(&[(1008.0, 1)], &[(1009.0, 1)])];
        let timings = timings(&clicker, &others, 0);
        assert_eq!(timings.click_to_last_shown, [9.0]);
        assert_eq!(timings.incomplete, 1);
    }

    #[test]
    fn the_records_parse_as_the_page_returns_them() {
        let json = r#"{"clicks":[1.5],"sends":[2.25],"frames":[[3.5,1]],"shown":[[4.0,1]]}"#;
        let log: PageLog = serde_json::from_str(json).unwrap();
        assert_eq!(log.clicks, [1.5]);
        assert_eq!(log.frames, [(3.5, 1)]);
        assert_eq!(log.shown, [(4.0, 1)]);
    }
}
