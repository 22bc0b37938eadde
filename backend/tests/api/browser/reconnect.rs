//! A replica killed under a page: the page says it is reconnecting, keeps the press made
//! meanwhile, and converges once the replica is back, with the press counted once. And a page
//! that is looked at again (`visibilitychange` to visible, `pageshow`) reconnects at once
//! instead of waiting out a backoff that has grown to seconds.

use std::time::{Duration, Instant};

use fantoccini::Client;
use serde_json::{Value, json};

use super::{Driver, browser_turn, click, wait_for_count, wait_for_status};
use crate::helpers::{Cluster, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_is_reconnected_and_a_press_made_meanwhile_counts_once() {
    let _turn = browser_turn().await;
    let mut cluster = Cluster::redis(1).await;
    cluster.replicas[0].increment("global", 7, None).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&cluster.replicas[0].url("/"))
        .await
        .expect("open page");
    wait_for_count(&page, 7).await;
    wait_for_status(&page, "live").await;

    cluster.replicas[0].kill9().await;
    wait_for_status(&page, "reconnecting").await;
    click(&page, "increment").await;
    wait_for_count(&page, 8).await;

    cluster.replicas[0].restart().await;
    wait_for_status(&page, "live").await;
    eventually("the press to reach the store", || async {
        (cluster.stored_value("global").await == 8).then_some(())
    })
    .await;
    wait_for_count(&page, 8).await;

    // Once more, now that it is settled: a reload shows the same number and sends nothing.
    page.refresh().await.expect("reload");
    wait_for_status(&page, "live").await;
    wait_for_count(&page, 8).await;
    assert_eq!(
        cluster.stored_value("global").await,
        8,
        "counted exactly once"
    );
    page.close().await.ok();
}

/// Installed before the app's own scripts (DevTools' `Page.addScriptToEvaluateOnNewDocument`):
/// wraps `WebSocket` so the test sees every socket the page makes and when, by the page's own
/// clock, it opened or closed. The app's wasm glue looks `WebSocket` up when it constructs
/// one, so it gets the wrapper; the sockets behave exactly as before.
const RECORD_SOCKETS: &str = "
    (() => {
        const Native = window.WebSocket;
        const sockets = [];
        window.__sockets = sockets;
        window.WebSocket = class extends Native {
            constructor(...args) {
                super(...args);
                const entry = { opened: null, closed: null };
                sockets.push(entry);
                this.addEventListener('open', () => { entry.opened = performance.now(); });
                this.addEventListener('close', () => { entry.closed = performance.now(); });
            }
        };
    })();
";

/// Failed attempts since the last socket that opened — the page's backoff counter — and how
/// long ago (ms) the last of them failed. Defined on the page by [`WITH_FAILURES`].
const WITH_FAILURES: &str = "
    const failures = () => {
        const sockets = window.__sockets;
        let count = 0;
        let last = null;
        for (let i = sockets.length - 1; i >= 0 && sockets[i].opened === null; i--) {
            if (sockets[i].closed !== null) {
                count += 1;
                last = last ?? sockets[i].closed;
            }
        }
        const inFlight = sockets.length > 0
            && sockets[sockets.length - 1].opened === null
            && sockets[sockets.length - 1].closed === null;
        return { count, since: last === null ? null : performance.now() - last, inFlight };
    };
";

/// The earliest (ms) the page retries by itself after `failures` failed attempts in a row:
/// `connection.rs` draws the delay from the upper half of `min(250 ms × 2^failures, 10 s)`.
fn earliest_retry_ms(failures: u32) -> f64 {
    f64::from((250u32 << failures).min(10_000) / 2)
}

/// How many sockets the page has made so far.
async fn sockets_made(page: &Client) -> u64 {
    page.execute("return window.__sockets.length;", vec![])
        .await
        .expect("count sockets")
        .as_u64()
        .expect("a count")
}

/// Waits until the page has failed `failures` attempts in a row.
async fn wait_for_failures(page: &Client, failures: u32) {
    let script = format!("{WITH_FAILURES} return failures().count;");
    eventually(&format!("{failures} failed attempts in a row"), || async {
        let count = page.execute(&script, vec![]).await.ok()?.as_u64()?;
        (count >= u64::from(failures)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_looked_at_again_reconnects_at_once_instead_of_waiting_out_its_backoff() {
    let _turn = browser_turn().await;
    let mut cluster = Cluster::embedded(&[]).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    driver
        .cdp(
            &page,
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": RECORD_SOCKETS }),
        )
        .await;
    page.goto(&cluster.replicas[0].url("/c/lobby"))
        .await
        .expect("open page");
    wait_for_status(&page, "live").await;
    assert_eq!(sockets_made(&page).await, 1, "the recorder sees the socket");

    let events = [
        (
            "visibilitychange",
            "document.dispatchEvent(new Event('visibilitychange'));",
        ),
        (
            "pageshow",
            "window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));",
        ),
    ];

    // A live page keeps its socket: coming back to it must not churn a working connection.
    for (event, dispatch) in events {
        page.execute(dispatch, vec![]).await.expect("dispatch");
        assert_eq!(sockets_made(&page).await, 1, "{event} while live");
    }

    // Each event in turn, each after its own outage. The timing argument:
    // - With the backend down, every attempt fails at once and the page waits longer before
    //   the next: after `failures` failed attempts in a row, at least
    //   `earliest_retry_ms(failures)` (2 s after 4 failures, 4 s after 5).
    // - The backend is restarted (well under a second) in that pause, and the event is
    //   dispatched before it ends. The script checks that on the page's own clock: no attempt
    //   in flight, the last one failed less than the earliest retry ago, the badge still says
    //   `reconnecting` although the server is back.
    // - The proof needs no timing at all: the page makes its new socket inside
    //   `dispatchEvent` (JavaScript runs one thing at a time, so no timer can have fired in
    //   between), and that socket is the one that opens. `live` is then required within 2 s
    //   of the event, where waiting out the backoff would have taken 2–8 s more.
    // Five failures for the first event (ramp 3.9–7.8 s, pause ≥ 4 s), four for the second
    // (ramp 1.9–3.8 s, pause ≥ 2 s) keep the test under 15 s.
    for ((event, dispatch), failures) in events.into_iter().zip([5, 4]) {
        cluster.replicas[0].kill9().await;
        wait_for_status(&page, "reconnecting").await;
        wait_for_failures(&page, failures).await;
        cluster.replicas[0].restart().await;

        let script = format!(
            "{WITH_FAILURES}
            const before = failures();
            const status = document.querySelector('[data-testid=status]').dataset.state;
            const made = window.__sockets.length;
            {dispatch}
            return {{ before, status, made, after: window.__sockets.length,
                      visible: document.visibilityState }};"
        );
        let sent = Instant::now();
        let report: Value = page.execute(&script, vec![]).await.expect("dispatch");
        let since = report["before"]["since"]
            .as_f64()
            .expect("a failed attempt");
        assert!(
            report["before"]["inFlight"] == json!(false)
                && report["status"] == json!("reconnecting")
                && since < earliest_retry_ms(failures),
            "{event}: the page must still be waiting out its backoff when the event comes \
             (the restart took too long?): {report}"
        );
        assert_eq!(report["visible"], json!("visible"), "{event}");
        let made = report["made"].as_u64().expect("a count");
        assert_eq!(
            report["after"].as_u64(),
            Some(made + 1),
            "{event}: a socket is made at once, inside the event: {report}"
        );

        wait_for_status(&page, "live").await;
        let waited = sent.elapsed();
        assert!(
            waited < Duration::from_secs(2),
            "{event}: live {waited:?} after the event"
        );
        let opened = page
            .execute(
                "return window.__sockets.map((s) => s.opened !== null);",
                vec![],
            )
            .await
            .expect("read the sockets");
        let opened: Vec<bool> = serde_json::from_value(opened).expect("a list");
        assert_eq!(
            opened.len() as u64,
            made + 1,
            "{event}: no other socket was made"
        );
        assert_eq!(
            opened.last(),
            Some(&true),
            "{event}: the event's socket is the live one"
        );
    }
    page.close().await.ok();
}
