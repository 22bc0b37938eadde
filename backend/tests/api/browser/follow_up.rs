//! The work that follows the number (`frontend/src/deferred.rs`): a state frame writes the
//! number and nothing else; the saved value catches up within about a second and the title
//! within five (it is dear to the browser; `main.rs`), and both are written at once when the
//! page is hidden or unloaded. A press is not deferred: it
//! is in `localStorage` before its frame leaves the page.
//!
//! Timings are asserted in seconds, never tighter: the machine running the tests is shared.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Driver, browser_turn, click, press_key, wait_for_count, wait_for_status};
use crate::helpers::{Cluster, eventually};

/// The counter these tests use.
const NAME: &str = "follow-1";

/// The longest the title may lag the number once changes stop: its five-second period while
/// the page is visible, and slack for a busy machine.
const CATCH_UP: Duration = Duration::from_secs(10);

/// In one script, so no frame can land between the reads: the number shown, the confirmed
/// value in `localStorage` and the title.
const READ_PAGE: &str = "\
    const count = document.querySelector('[data-testid=\"count\"]')?.textContent ?? null;\
    const entry = JSON.parse(localStorage.getItem(`shared-counter:v1:${arguments[0]}`));\
    return [count, entry?.confirmed?.value ?? null, document.title];";

/// What [`READ_PAGE`] read.
#[derive(Debug, PartialEq)]
struct PageView {
    /// The number on screen.
    shown: Option<i64>,
    /// The confirmed value the page keeps for a reload.
    stored: Option<i64>,
    /// The document's title.
    title: String,
}

impl PageView {
    fn parse(read: Value) -> Self {
        let (count, stored, title): (Option<String>, Option<i64>, String) =
            serde_json::from_value(read).expect("count, stored value, title");
        Self {
            shown: count.map(|count| count.trim().parse().expect("the count is a number")),
            stored,
            title,
        }
    }

    /// Whether the title and the saved value have caught up with the number.
    fn caught_up(&self) -> bool {
        let title = self
            .shown
            .map(|value| format!("{value} · {NAME} — Shared Counter"));
        self.shown.is_some() && self.stored == self.shown && Some(&self.title) == title.as_ref()
    }
}

async fn read_page(page: &fantoccini::Client) -> PageView {
    PageView::parse(
        page.execute(READ_PAGE, vec![json!(NAME)])
            .await
            .expect("read the page"),
    )
}

/// Runs `before` (a script that makes the page go), then reads the page in the same script.
async fn read_page_after(page: &fantoccini::Client, before: &str) -> PageView {
    let script = format!("{before}\n{READ_PAGE}");
    PageView::parse(
        page.execute(&script, vec![json!(NAME)])
            .await
            .expect("run and read"),
    )
}

/// Another client changing the counter every few milliseconds until stopped, through the
/// HTTP API; returns how many changes it made.
fn burst(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<i64> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut made = 0;
        while !stop.load(Ordering::Relaxed) {
            let response = http
                .post(&url)
                .json(&json!({ "by": 1 }))
                .send()
                .await
                .expect("POST increment");
            assert!(response.status().is_success(), "{}", response.status());
            made += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        made
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_title_and_the_saved_value_follow_the_number_and_are_written_when_the_page_goes() {
    let _turn = browser_turn().await;
    let mut cluster = Cluster::embedded(&[]).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&cluster.replicas[0].url(&format!("/c/{NAME}")))
        .await
        .expect("open page");
    wait_for_count(&page, 0).await;
    wait_for_status(&page, "live").await;

    let stop = Arc::new(AtomicBool::new(false));
    let changes = burst(
        cluster.replicas[0].url(&format!("/api/counters/{NAME}/increment")),
        stop.clone(),
    );

    // While changes stream in, the number runs ahead of the saved value: a state frame does
    // not write `localStorage` (before, every frame did, in the number's own task).
    let lagging = eventually(
        "the saved value to lag the number during the burst",
        || async {
            let view = read_page(&page).await;
            (view.shown > Some(0) && view.stored != view.shown).then_some(view)
        },
    )
    .await;
    assert!(lagging.stored < lagging.shown, "{lagging:?}");

    // Hidden (a phone locked, another app in front): what waits is written at once. Chromium
    // here never hides the page, so the script says it is hidden and tells the page so.
    let hidden = read_page_after(
        &page,
        "Object.defineProperty(document, 'visibilityState', \
             { configurable: true, get: () => 'hidden' });\
         document.dispatchEvent(new Event('visibilitychange'));\
         delete document.visibilityState;",
    )
    .await;
    assert!(hidden.caught_up(), "written when hidden: {hidden:?}");

    // Unloaded (a closed tab, a reload, a navigation): the same.
    eventually("the number to move on after the flush", || async {
        (read_page(&page).await.shown > hidden.shown).then_some(())
    })
    .await;
    let gone = read_page_after(&page, "window.dispatchEvent(new Event('pagehide'));").await;
    assert!(gone.caught_up(), "written on pagehide: {gone:?}");

    // Once the changes stop, the title and the saved value catch up on their own.
    stop.store(true, Ordering::Relaxed);
    let last = changes.await.expect("the burst ends");
    assert_eq!(cluster.stored_value(NAME).await, last);
    wait_for_count(&page, last).await;
    let shown_at = Instant::now();
    eventually("the title and the saved value to catch up", || async {
        read_page(&page).await.caught_up().then_some(())
    })
    .await;
    assert!(
        shown_at.elapsed() < CATCH_UP,
        "caught up {:?} after the number",
        shown_at.elapsed()
    );

    // One more change, then the backend dies and the page reloads: the reload's `pagehide`
    // writes the value, which the page shows again from the device (the service worker,
    // installed by now, serves the app).
    page.execute_async(
        "const done = arguments[arguments.length - 1];\
         navigator.serviceWorker.ready.then(() => done(true));",
        vec![],
    )
    .await
    .expect("the service worker gets ready");
    cluster.replicas[0].increment(NAME, 1, None).await;
    wait_for_count(&page, last + 1).await;
    cluster.replicas[0].kill9().await;
    page.refresh().await.expect("reload offline");
    wait_for_count(&page, last + 1).await;
    wait_for_status(&page, "reconnecting").await;
    page.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_is_stored_before_its_frame_leaves_the_page() {
    let _turn = browser_turn().await;
    let cluster = Cluster::embedded(&[]).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&cluster.replicas[0].url(&format!("/c/{NAME}")))
        .await
        .expect("open page");
    wait_for_count(&page, 0).await;
    wait_for_status(&page, "live").await;

    // Every change frame the page writes is checked against `localStorage` as it is written.
    page.execute(
        "const key = `shared-counter:v1:${arguments[0]}`;\
         window.framesChecked = 0;\
         window.framesNotStored = [];\
         const send = WebSocket.prototype.send;\
         WebSocket.prototype.send = function (data) {\
             const frame = JSON.parse(data);\
             const entry = JSON.parse(localStorage.getItem(key)) ?? { ops: [] };\
             window.framesChecked += 1;\
             if (!entry.ops.some((op) => op.op_id === frame.op_id)) {\
                 window.framesNotStored.push(frame.op_id);\
             }\
             return send.call(this, data);\
         };",
        vec![json!(NAME)],
    )
    .await
    .expect("watch the socket");

    for _ in 0..3 {
        click(&page, "increment").await;
    }
    press_key(&page, '-').await;
    press_key(&page, '-').await;
    eventually("the presses to reach the store", || async {
        (cluster.stored_value(NAME).await == 1).then_some(())
    })
    .await;
    wait_for_count(&page, 1).await;

    let checked = page
        .execute(
            "return [window.framesChecked, window.framesNotStored];",
            vec![],
        )
        .await
        .expect("read what was checked");
    let (checked, not_stored): (u64, Vec<String>) =
        serde_json::from_value(checked).expect("a count and a list");
    assert!(checked >= 5, "every press went out: {checked} frames");
    assert_eq!(
        not_stored,
        Vec::<String>::new(),
        "sent before they were stored"
    );
    page.close().await.ok();
}
