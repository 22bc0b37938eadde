//! A real page through nginx: its clicks reach WebSocket clients on both replicas, and a
//! press made after its replica is killed lands once, through the other.

use super::{Driver, browser_turn, click, wait_for_count, wait_for_status};
use crate::helpers::WsClient;
use crate::load_balancer::production;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_behind_nginx_reaches_every_client_and_survives_its_replica() {
    let _turn = browser_turn().await;
    let (mut cluster, nginx, _acl) = production().await;
    let mut clients = Vec::new();
    for replica in &cluster.replicas {
        clients.push(WsClient::connect(&replica.ws_url("global")).await);
    }
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    page.goto(&nginx.url("/"))
        .await
        .expect("open the page through nginx");
    wait_for_count(&page, 0).await;
    wait_for_status(&page, "live").await;

    click(&page, "increment").await;
    click(&page, "increment").await;
    for client in &mut clients {
        client.wait_for_value(2).await;
    }

    // Whichever replica serves the page dies; the page reconnects through nginx to the
    // other, and its next press counts once.
    cluster.replicas[0].kill9().await;
    cluster.replicas[1].kill9().await;
    cluster.replicas[1].restart().await;
    cluster.replicas[1].wait_ready(200).await;
    wait_for_status(&page, "live").await;
    click(&page, "decrement").await;
    wait_for_count(&page, 1).await;
    let mut survivor = WsClient::connect(&cluster.replicas[1].ws_url("global")).await;
    survivor.wait_for_value(1).await;
    assert_eq!(cluster.stored_value("global").await, 1);
    page.close().await.ok();
}
