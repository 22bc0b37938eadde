//! What the store publishes on a counter's channel: the JSON every replica's subscriber
//! decodes as `shared::CounterState`, from both scripts that publish (a change, and a
//! reconcile repairing a value set by hand).

use futures_util::StreamExt;
use shared::{CounterState, ServerMessage};

use crate::helpers::layout;
use crate::helpers::{Cluster, PATIENCE, WsClient};

/// The next state published on `counter:{name}`, decoded as the subscribers decode it.
async fn next_state(
    messages: &mut (impl futures_util::Stream<Item = redis::Msg> + Unpin),
) -> CounterState {
    let message = tokio::time::timeout(PATIENCE, messages.next())
        .await
        .expect("a message on the counter's channel in time")
        .expect("the subscription is open");
    serde_json::from_slice(message.get_payload_bytes()).unwrap_or_else(|err| {
        panic!(
            "{:?} is not a CounterState: {err}",
            String::from_utf8_lossy(message.get_payload_bytes())
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_scripts_publish_the_state_as_the_subscribers_read_it() {
    let cluster = Cluster::redis(1).await;
    let replica = &cluster.replicas[0];
    let redis = cluster.redis_server();
    let client = redis::Client::open(redis.url()).expect("url");
    let mut pubsub = client.get_async_pubsub().await.expect("subscriber");
    pubsub
        .subscribe(&layout::value("door-7"))
        .await
        .expect("subscribe");
    let mut messages = pubsub.on_message();

    // A change: apply.lua publishes the state it acknowledges.
    let mut socket = WsClient::connect(&replica.ws_url("door-7")).await;
    let ServerMessage::Ack { value, version, .. } = socket.change(5, "pub-1").await else {
        panic!("the change should be acknowledged");
    };
    let published = next_state(&mut messages).await;
    assert_eq!(
        published,
        CounterState {
            name: "door-7".parse().unwrap(),
            value,
            version,
        }
    );

    // A value set by hand: reconcile.lua (the socket keeps the counter served, so it is
    // re-read) moves the version past the acknowledged one and publishes the repaired state.
    let _: () = redis.cmd(&["SET", &layout::value("door-7"), "100"]).await;
    let repaired = next_state(&mut messages).await;
    assert_eq!(
        repaired,
        CounterState {
            name: "door-7".parse().unwrap(),
            value: 100,
            version: version + 1,
        }
    );
    assert_eq!(replica.state("door-7").await, repaired);
}
