//! The installed app offline: Chromium finds it installable, the service worker controls it,
//! a reload with the backend down still shows the app and the last known value, and presses
//! made meanwhile survive that reload and are applied exactly once when the backend returns.
//!
//! "Offline" is the backend killed: DevTools' network emulation does not close an open
//! WebSocket to localhost.

use serde_json::{Value, json};

use super::{Driver, browser_turn, click, text_of, wait_for_count, wait_for_status};
use crate::helpers::{Cluster, eventually};

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
