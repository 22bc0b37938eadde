//! The installed app offline: Chromium finds it installable, the service worker controls it
//! and keeps the plain shell (never a page with a value in it), a reload with the backend down
//! still shows the app and the last known value, and presses
//! made meanwhile survive that reload and are applied exactly once when the backend returns.
//! A new build reaches the page on its next navigation, and a new service worker removes the
//! old one's caches. The offline queue is bounded: past 1,000 waiting presses the page
//! refuses more and says so, and exactly the kept presses are applied, once.
//!
//! "Offline" is the backend killed: DevTools' network emulation does not close an open
//! WebSocket to localhost.

use serde_json::{Value, json};

use super::{
    Driver, browser_turn, click, notice, press_key, stored_presses, text_of, wait_for_count,
    wait_for_status,
};
use crate::helpers::{Cluster, eventually, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_app_works_offline_and_keeps_presses_across_a_reload() {
    let _turn = browser_turn().await;
    let mut cluster = Cluster::embedded(&[]).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&cluster.replicas[0].url("/c/door-1"))
        .await
        .expect("open page");
    wait_for_count(&page, 0).await;
    wait_for_status(&page, "live").await;

    // Installable, with a service worker that controls the page after a reload.
    let errors = eventually("Chromium to find the app installable", || async {
        let result = driver
            .cdp(&page, "Page.getInstallabilityErrors", json!({}))
            .await;
        let errors = result["installabilityErrors"].as_array()?.clone();
        errors.is_empty().then_some(errors)
    })
    .await;
    assert_eq!(errors, Vec::<Value>::new());
    page.execute_async(
        "const done = arguments[arguments.length - 1];\
         navigator.serviceWorker.ready.then(() => done(true));",
        vec![],
    )
    .await
    .expect("the service worker gets ready");
    page.refresh().await.expect("reload");
    wait_for_count(&page, 0).await;
    let controlled = page
        .execute(
            "return navigator.serviceWorker.controller !== null;",
            vec![],
        )
        .await
        .expect("ask for the controller");
    assert_eq!(
        controlled,
        json!(true),
        "the service worker controls the page"
    );
    // What it keeps for offline starts is the plain shell, never a counter's page with the
    // value of its moment in it.
    let kept = run_async(
        &page,
        "const cache = await caches.open('shell-v2');         const pages = (await cache.keys()).map((r) => new URL(r.url).pathname)             .filter((path) => !path.startsWith('/icons/') && path !== '/manifest.webmanifest');         const shell = await (await cache.match('/index.html')).text();         return [pages, shell.includes('data-value=\"{{value}}\"')];",
    )
    .await;
    assert_eq!(kept, json!([["/index.html"], true]));

    click(&page, "increment").await;
    eventually("the press to reach the store", || async {
        (cluster.stored_value("door-1").await == 1).then_some(())
    })
    .await;

    // The backend goes away: presses queue on the device.
    cluster.replicas[0].kill9().await;
    wait_for_status(&page, "reconnecting").await;
    click(&page, "increment").await;
    click(&page, "increment").await;
    wait_for_count(&page, 3).await;

    // A reload with the backend down: the service worker serves the app, which shows the
    // last known value with the queued presses, and still knows they are waiting.
    page.refresh().await.expect("reload offline");
    wait_for_count(&page, 3).await;
    wait_for_status(&page, "reconnecting").await;
    let status = text_of(&page, "status").await.unwrap_or_default();
    assert!(status.contains("2 to send"), "{status}");
    let folder = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&folder).expect("create target/screenshots");
    let png = page.screenshot().await.expect("screenshot");
    std::fs::write(folder.join("app-offline-after-reload.png"), png).expect("write screenshot");

    // The backend returns: the queued presses are applied, once.
    cluster.replicas[0].restart().await;
    wait_for_status(&page, "live").await;
    eventually("the queued presses to reach the store", || async {
        (cluster.stored_value("door-1").await == 3).then_some(())
    })
    .await;
    wait_for_count(&page, 3).await;
    page.refresh().await.expect("reload online");
    wait_for_status(&page, "live").await;
    wait_for_count(&page, 3).await;
    assert_eq!(
        cluster.stored_value("door-1").await,
        3,
        "applied exactly once"
    );
    page.close().await.ok();
}

/// Copies the built app into a folder a test may change.
fn copy_dist(to: &std::path::Path) {
    let from = workspace_root().join("dist");
    for entry in walk(&from) {
        let target = to.join(entry.strip_prefix(&from).expect("inside dist"));
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(&entry, &target).expect("copy a file of dist");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dist").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Runs `script` (which may use `await`) in the page and returns what it returns.
async fn run_async(page: &fantoccini::Client, script: &str) -> Value {
    page.execute_async(
        &format!(
            "const done = arguments[arguments.length - 1];\
             (async () => {{ {script} }})().then(done, (e) => done(String(e)));"
        ),
        vec![],
    )
    .await
    .expect("run a script")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_is_picked_up_and_old_caches_are_removed() {
    let _turn = browser_turn().await;
    let dist = tempfile::tempdir().expect("temp dir");
    copy_dist(dist.path());
    let dir = dist.path().display().to_string();
    let mut cluster = Cluster::embedded(&["--static-dir", &dir]).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&cluster.replicas[0].url("/"))
        .await
        .expect("open page");
    wait_for_status(&page, "live").await;
    run_async(&page, "await navigator.serviceWorker.ready; return true;").await;

    // A new build: the shell changes. The next navigation shows it (network first) …
    let index = dist.path().join("index.html");
    let html = std::fs::read_to_string(&index).expect("read index.html");
    let marked = html.replace("<head>", "<head><meta name=\"build\" content=\"2\" />");
    std::fs::write(&index, marked).expect("write index.html");
    let build = "return document.querySelector('meta[name=build]')?.content ?? 'old';";
    page.refresh().await.expect("reload");
    wait_for_status(&page, "live").await;
    assert_eq!(page.execute(build, vec![]).await.unwrap(), json!("2"));

    // … and a new service worker replaces the old one and its caches.
    let worker = dist.path().join("sw.js");
    let script = std::fs::read_to_string(&worker).expect("read sw.js");
    assert!(script.contains("const VERSION = \"v2\";"));
    std::fs::write(
        &worker,
        script.replace("const VERSION = \"v2\";", "const VERSION = \"v3\";"),
    )
    .expect("write sw.js");
    run_async(
        &page,
        "const registration = await navigator.serviceWorker.ready; \
         await registration.update(); return true;",
    )
    .await;
    eventually("the old caches to be removed", || async {
        let names = run_async(&page, "return (await caches.keys()).sort();").await;
        (names == json!(["assets-v3", "shell-v3"])).then_some(())
    })
    .await;

    // Offline, the cached shell is the new one.
    cluster.replicas[0].kill9().await;
    page.refresh().await.expect("reload offline");
    wait_for_count(&page, 0).await;
    assert_eq!(page.execute(build, vec![]).await.unwrap(), json!("2"));
    page.close().await.ok();
}

/// The bound of the offline queue (`QUEUE_LIMIT` in `frontend/src/state.rs`).
const QUEUE_LIMIT: i64 = 1_000;

/// Presses the `key` `times` times the way the keyboard shortcut sees it: a `keydown` on the
/// page per press. A thousand WebDriver key actions would take far longer.
async fn press_keys(page: &fantoccini::Client, key: &str, times: u32) {
    page.execute(
        "const [key, times] = arguments;\
         for (let i = 0; i < times; i++) {\
             document.body.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));\
         }",
        vec![json!(key), json!(times)],
    )
    .await
    .expect("press keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_queue_stops_at_its_bound_says_so_and_sends_the_kept_presses_once() {
    let _turn = browser_turn().await;
    let mut cluster = Cluster::embedded(&[]).await;
    cluster.replicas[0].increment("door-3", 5, None).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&cluster.replicas[0].url("/c/door-3"))
        .await
        .expect("open page");
    wait_for_count(&page, 5).await;
    wait_for_status(&page, "live").await;

    // Offline: 700 presses of + and 298 of −, then two real ones to fill the queue.
    cluster.replicas[0].kill9().await;
    wait_for_status(&page, "reconnecting").await;
    press_keys(&page, "+", 700).await;
    press_keys(&page, "-", 298).await;
    click(&page, "decrement").await;
    press_key(&page, '-').await;
    let kept = 700 - 300;
    wait_for_count(&page, 5 + kept).await;
    let (text, alert) = notice(&page).await;
    assert!(
        !alert && text.contains("1,000 presses are saved on this device"),
        "full but not over: {text}"
    );

    // One press too many, either way: refused, the number stays, and the page says why.
    click(&page, "increment").await;
    press_key(&page, '-').await;
    press_keys(&page, "+", 5).await;
    let (text, alert) = eventually("the page to say the queue is full", || async {
        let (text, alert) = notice(&page).await;
        text.contains("1,000 presses are waiting")
            .then_some((text, alert))
    })
    .await;
    assert!(alert, "the bound is announced as an alert: {text}");
    assert!(
        text.contains("Further presses count again once the connection is back"),
        "{text}"
    );
    wait_for_count(&page, 5 + kept).await;
    let status = text_of(&page, "status").await.unwrap_or_default();
    assert!(status.contains("1000 to send"), "{status}");
    // The device keeps the bound, not more.
    eventually("1,000 presses in localStorage", || async {
        (stored_presses(&page, "door-3").await == QUEUE_LIMIT).then_some(())
    })
    .await;

    // The backend returns. Rather than wait out the page's backoff (reconnect.rs tests that
    // coming back reconnects at once), tell the page the network is back.
    cluster.replicas[0].restart().await;
    page.execute("window.dispatchEvent(new Event('online'));", vec![])
        .await
        .expect("online");
    wait_for_status(&page, "live").await;
    eventually("the kept presses to reach the store", || async {
        (cluster.stored_value("door-3").await == 5 + kept).then_some(())
    })
    .await;
    wait_for_count(&page, 5 + kept).await;
    eventually("the notice to clear", || async {
        notice(&page).await.0.is_empty().then_some(())
    })
    .await;
    eventually("the stored queue to drain", || async {
        (stored_presses(&page, "door-3").await == 0).then_some(())
    })
    .await;

    // Presses count again, and a reload sends nothing twice.
    click(&page, "increment").await;
    eventually("the new press to reach the store", || async {
        (cluster.stored_value("door-3").await == 6 + kept).then_some(())
    })
    .await;
    page.refresh().await.expect("reload");
    wait_for_status(&page, "live").await;
    wait_for_count(&page, 6 + kept).await;
    assert_eq!(
        cluster.stored_value("door-3").await,
        6 + kept,
        "the kept presses applied exactly once, the refused ones never"
    );
    page.close().await.ok();
}
