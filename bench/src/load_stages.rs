//! The stages of one cold load, from navigation until the page is live, as the frontend
//! phase ([`crate::frontend`]) reads them.
//!
//! Three sources, all on one clock (`performance.now()`: milliseconds since navigation
//! started):
//! - the browser's own timing: Navigation Timing for the HTML (received, and parsed),
//!   Resource Timing for the first subresource the page asked for (so: when the renderer was
//!   parsing the page) and for the CSS, the JS and the wasm (when each was received in full),
//!   Paint Timing for the first contentful paint (when the browser reports the frame
//!   presented, which in headless Chromium without a GPU comes tens of milliseconds after the
//!   frame was made);
//! - [`PROBE`], injected before the page's own scripts (CDP
//!   `Page.addScriptToEvaluateOnNewDocument`), which needs nothing from the app: the first
//!   number in `[data-testid=count]`, or in the server's first screen (`#shell .count`, which
//!   the app replaces; see `frontend/src/shell.rs`), from a `MutationObserver` (so: in the
//!   page, before its paint), and the animation frame after it (the frame that paints it:
//!   frames wait for the render-blocking stylesheet); when `WebAssembly.instantiate(Streaming)`
//!   resolved (compiled and instantiated); when the socket opened, when its first `state`
//!   frame arrived, and the first task after that frame (the app renders a frame in the
//!   microtasks of the frame's own task, so by then the number from the live state is in the
//!   page);
//! - the marks the app sets (`performance.mark`, `frontend/src/main.rs`): `app-start` when its
//!   `main` runs, `app-rendered` once its first render is in the page. An app without them
//!   (an older build) reports those two as missing.

use serde_json::Value;

/// Injected into the page before its own scripts; records in `window.__benchLoad`.
pub const PROBE: &str = r#"(() => {
  const log = { first: null, onScreen: null, wasm: null, open: null, state: null, stateShown: null };
  window.__benchLoad = log;
  const now = () => performance.now();
  const NUMBER = '[data-testid=count], #shell .count';
  const seen = () => {
    const count = document.querySelector(NUMBER);
    if (count && /^-?\d+$/.test(count.textContent.trim())) {
      if (log.first === null) {
        log.first = now();
        // Frames (and their animation callbacks) wait for the render-blocking stylesheet, so
        // the first one after the number is in the page is the one that paints it.
        requestAnimationFrame(() => { log.onScreen = now(); });
      }
      return true;
    }
    return false;
  };
  if (!seen()) {
    const observer = new MutationObserver(() => { if (seen()) observer.disconnect(); });
    observer.observe(document, { subtree: true, childList: true, characterData: true });
  }
  for (const name of ['instantiateStreaming', 'instantiate']) {
    const original = WebAssembly[name];
    if (typeof original !== 'function') continue;
    WebAssembly[name] = function (...args) {
      return original.apply(this, args).then((result) => {
        if (log.wasm === null) log.wasm = now();
        return result;
      });
    };
  }
  window.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('open', () => { if (log.open === null) log.open = now(); });
      this.addEventListener('message', (event) => {
        if (log.state !== null || typeof event.data !== 'string') return;
        try { if (JSON.parse(event.data).type !== 'state') return; } catch (_) { return; }
        log.state = now();
        setTimeout(() => { log.stateShown = now(); }, 0);
      });
    }
  };
})();"#;

/// Reads the stages once the page is live (`done`), and the bytes transferred for the page
/// and everything it loaded.
pub const READ: &str = r#"const log = window.__benchLoad;
const nav = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource');
const received = (pattern) => {
  const entry = resources.find((e) => pattern.test(new URL(e.name).pathname));
  return entry ? entry.responseEnd : null;
};
const mark = (name) => {
  const entry = performance.getEntriesByName(name, 'mark')[0];
  return entry ? entry.startTime : null;
};
const paint = performance.getEntriesByName('first-contentful-paint')[0];
return {
  done: log.onScreen !== null && log.stateShown !== null,
  transferred: performance.getEntries()
    .filter((e) => typeof e.transferSize === 'number')
    .reduce((sum, e) => sum + e.transferSize, 0),
  stages: {
    html_first_byte: nav ? nav.responseStart : null,
    html: nav ? nav.responseEnd : null,
    first_request: resources.length ? Math.min(...resources.map((e) => e.startTime)) : null,
    dom_interactive: nav ? nav.domInteractive : null,
    css: received(/\.css$/),
    first_paint: paint ? paint.startTime : null,
    first_number: log.first,
    on_screen: log.onScreen,
    js: received(/-[0-9a-f]+\.js$/),
    wasm: received(/_bg\.wasm$/),
    wasm_ready: log.wasm,
    app_start: mark('app-start'),
    app_rendered: mark('app-rendered'),
    socket_open: log.open,
    first_state: log.state,
    first_state_shown: log.stateShown,
  },
};"#;

/// Each stage: its key in [`READ`]'s `stages` and how the report names it, in the order of a
/// typical load.
pub const STAGES: [(&str, &str); 16] = [
    ("html_first_byte", "HTML: first byte"),
    ("html", "HTML received"),
    (
        "first_request",
        "first subresource requested (the page is being parsed)",
    ),
    ("dom_interactive", "HTML parsed (DOM interactive)"),
    ("css", "CSS received"),
    ("first_paint", "first contentful paint"),
    ("first_number", "first number in the page (DOM)"),
    (
        "on_screen",
        "**first number on screen** (the frame after it)",
    ),
    ("js", "JS received"),
    ("wasm", "wasm received"),
    ("wasm_ready", "wasm compiled and instantiated"),
    ("app_start", "app started (`app-start` mark)"),
    ("app_rendered", "app rendered (`app-rendered` mark)"),
    ("socket_open", "socket open"),
    ("first_state", "first state frame"),
    (
        "first_state_shown",
        "first state frame rendered (next task)",
    ),
];

/// The stages [`READ`] returned, in the order of [`STAGES`]; `None` where the page has no
/// such record.
pub fn stages_of(read: &Value) -> Vec<Option<f64>> {
    STAGES
        .iter()
        .map(|(key, _)| read["stages"][*key].as_f64())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_is_read_and_missing_ones_stay_missing() {
        for (key, _) in STAGES {
            assert!(READ.contains(&format!("    {key}: ")), "{key} is not read");
        }
        let read = serde_json::json!({"stages": {"html": 12.5, "app_start": null}});
        let stages = stages_of(&read);
        assert_eq!(stages[1], Some(12.5));
        assert_eq!(stages[11], None);
        assert_eq!(stages.iter().flatten().count(), 1);
    }
}
