//! The first screen (`backend/src/static_files/counter_page.rs`, `frontend/src/shell.rs`): the
//! server's page shows the counter's value before the app's scripts run; the app then takes
//! over from that value without a moment with two numbers, or with none, and goes live.
//! Throughout, assistive technology and the contract's test ids see at most one number: none
//! of the first screen's (it is a picture), exactly the app's once it runs.

use fantoccini::Locator;
use serde_json::{Value, json};

use super::{Driver, browser_turn, by_testid, wait_for_count, wait_for_status};
use crate::helpers::{Cluster, eventually, workspace_root};

/// Records, every time a script could look at the page (a `MutationObserver` runs at each
/// microtask checkpoint after a change), the contract's count elements and the numbers on
/// screen (the app's `.count` and the first screen's), as their texts.
const WATCH: &str = r#"(() => {
  const seen = [];
  window.__firstScreen = seen;
  const texts = (selector) =>
    [...document.querySelectorAll(selector)].map((el) => el.textContent.trim());
  new MutationObserver(() => {
    seen.push({ counts: texts('[data-testid=count]'), shown: texts('.count:not(.placeholder)') });
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();"#;

/// The texts of the accessibility tree's text nodes that say exactly `text`: what a screen
/// reader could read as that number.
async fn spoken(driver: &Driver, page: &fantoccini::Client, text: &str) -> usize {
    let tree = driver
        .cdp(page, "Accessibility.getFullAXTree", json!({}))
        .await;
    tree["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|node| {
            node["ignored"] != json!(true)
                && node["role"]["value"] == json!("StaticText")
                && node["name"]["value"] == json!(text)
        })
        .count()
}

/// Saves what the page shows under `target/screenshots/`, to compare the two screens by eye.
async fn screenshot(page: &fantoccini::Client, file: &str) {
    let folder = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&folder).expect("create target/screenshots");
    let png = page.screenshot().await.expect("screenshot");
    std::fs::write(folder.join(file), png).expect("write a screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_value_shows_before_the_app_runs_and_the_app_takes_over_with_one_number() {
    let _turn = browser_turn().await;
    let cluster = Cluster::embedded(&[]).await;
    cluster.replicas[0].increment("door-4", 7, None).await;
    let url = cluster.replicas[0].url("/c/door-4");
    let mut driver = Driver::start().await;
    let page = driver.browser().await;

    // The app's scripts cannot load: what shows is the server's page alone.
    driver.cdp(&page, "Network.enable", json!({})).await;
    driver
        .cdp(
            &page,
            "Network.setBlockedURLs",
            json!({"urls": ["*.js", "*.wasm"]}),
        )
        .await;
    page.goto(&url).await.expect("open the page");
    let screen = page
        .execute(
            "const count = document.querySelector('#shell .count');\
             return [count?.textContent, count?.checkVisibility(), document.title,\
                     document.querySelectorAll('[data-testid]').length];",
            vec![],
        )
        .await
        .expect("read the first screen");
    assert_eq!(
        screen,
        json!(["7", true, "7 · door-4 — Shared Counter", 0]),
        "the number is on screen, in the title, and no test id is on the page yet"
    );
    assert_eq!(
        spoken(&driver, &page, "7").await,
        0,
        "the first screen is a picture"
    );
    screenshot(&page, "first-screen-before-the-app.png").await;

    // With the scripts: the app takes over and goes live.
    driver
        .cdp(&page, "Network.setBlockedURLs", json!({"urls": []}))
        .await;
    driver
        .cdp(
            &page,
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": WATCH}),
        )
        .await;
    page.refresh().await.expect("reload with the app");
    wait_for_status(&page, "live").await;
    wait_for_count(&page, 7).await;
    let seen: Vec<Value> = serde_json::from_value(
        page.execute("return window.__firstScreen;", vec![])
            .await
            .expect("read what the page showed"),
    )
    .expect("a list");
    let first_shown = seen
        .iter()
        .position(|look| look["shown"] != json!([]))
        .expect("a number was shown");
    for look in &seen[first_shown..] {
        // The parser may be looked at between an element and its text.
        assert!(
            look["shown"] == json!(["7"]) || look["shown"] == json!([""]),
            "one number, the same, from its first appearance on: {seen:?}"
        );
        assert!(
            look["counts"] == json!([]) || look["counts"] == json!(["7"]),
            "at most one count element: {seen:?}"
        );
    }
    assert!(
        seen.iter().any(|look| look["counts"] == json!(["7"])),
        "{seen:?}"
    );
    let leftovers = page
        .execute(
            "return document.querySelectorAll('#shell, [data-testid=count]').length;",
            vec![],
        )
        .await
        .expect("count what is left");
    assert_eq!(leftovers, json!(1), "the app's count, and no first screen");
    assert_eq!(
        spoken(&driver, &page, "7").await,
        1,
        "a screen reader finds one number"
    );
    screenshot(&page, "first-screen-taken-over-by-the-app.png").await;

    // The number now follows the counter.
    cluster.replicas[0].increment("door-4", 1, None).await;
    wait_for_count(&page, 8).await;
    page.find(Locator::Css(&by_testid("increment")))
        .await
        .expect("the app's buttons")
        .click()
        .await
        .expect("press +");
    eventually("the press to reach the store", || async {
        (cluster.stored_value("door-4").await == 9).then_some(())
    })
    .await;
    page.close().await.ok();
}
