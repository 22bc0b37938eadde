//! A press Redis refuses to write — here the primary turned read-only replica, as during a
//! failover — is answered `unavailable`: the page keeps it, says it is retrying, and it
//! counts exactly once when Redis accepts writes again. Each refusal is tested at the
//! protocol level in `refusals.rs`; they differ only in Redis, not in what the page sees.

use super::{Driver, browser_turn, click, notice, stored_presses, wait_for_count, wait_for_status};
use crate::helpers::{Cluster, Refusal, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_press_redis_refuses_is_kept_and_counts_once_when_writes_return() {
    let _turn = browser_turn().await;
    let cluster = Cluster::redis(1).await;
    let (replica, redis) = (&cluster.replicas[0], cluster.redis_server());
    replica.increment("door-9", 4, None).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&replica.url("/c/door-9"))
        .await
        .expect("open page");
    wait_for_count(&page, 4).await;
    wait_for_status(&page, "live").await;

    Refusal::ReadOnly.begin(redis).await;
    click(&page, "increment").await;
    wait_for_count(&page, 5).await;
    let (text, alert) = eventually("the page to say it is retrying", || async {
        let (text, alert) = notice(&page).await;
        text.contains("retrying").then_some((text, alert))
    })
    .await;
    assert!(alert, "{text}");
    assert_eq!(
        stored_presses(&page, "door-9").await,
        1,
        "the press is kept"
    );
    assert_eq!(cluster.stored_value("door-9").await, 4, "and not written");
    wait_for_status(&page, "live").await;

    Refusal::ReadOnly.end(redis).await;
    eventually("the kept press to reach the store", || async {
        (cluster.stored_value("door-9").await == 5).then_some(())
    })
    .await;
    eventually("the page to settle the press", || async {
        (stored_presses(&page, "door-9").await == 0).then_some(())
    })
    .await;
    wait_for_count(&page, 5).await;
    page.refresh().await.expect("reload");
    wait_for_status(&page, "live").await;
    wait_for_count(&page, 5).await;
    assert_eq!(
        cluster.stored_value("door-9").await,
        5,
        "counted exactly once"
    );
    page.close().await.ok();
}
