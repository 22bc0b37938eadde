//! A replica killed under a page: the page says it is reconnecting, keeps the press made
//! meanwhile, and converges once the replica is back, with the press counted once.

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
