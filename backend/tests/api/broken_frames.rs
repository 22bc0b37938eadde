//! Frames that break the rules: malformed ones use up a socket's rate limit like any other,
//! and frames that break UTF-8 or the WebSocket protocol close the socket with a close frame
//! that says which.

use shared::{ErrorCode, ServerMessage};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::helpers::{Cluster, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_use_up_the_rate_limit() {
    let cluster = Cluster::embedded(&["--max-ops-per-second", "1", "--max-ops-burst", "5"]).await;
    let mut client = WsClient::connect(&cluster.replicas[0].ws_url("global")).await;
    let sent = 50;
    for k in 0..sent {
        if k % 2 == 0 {
            client.send_text("not json").await;
        } else {
            client.send_raw(Message::binary(vec![1, 2, 3])).await;
        }
    }
    let (mut bad, mut limited) = (0, 0);
    for _ in 0..sent {
        match client.next_reply().await {
            ServerMessage::Error {
                code: ErrorCode::BadRequest,
                ..
            } => bad += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    // The burst, plus one a second for as long as the flood took (far less than 20 s): the
    // rest is refused as too many, one reply each.
    assert!(
        limited >= sent / 2,
        "bad_request {bad}, rate_limited {limited}"
    );
}

/// Sends one raw frame, bypassing the client library's checks.
async fn send_frame(client: &mut WsClient, payload: &[u8], opcode: Data) {
    let frame = Frame::message(payload.to_vec(), OpCode::Data(opcode), true);
    client.send_raw(Message::Frame(frame)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_is_not_utf8_closes_with_1007() {
    let cluster = Cluster::embedded(&[]).await;
    let mut client = WsClient::connect(&cluster.replicas[0].ws_url("global")).await;
    send_frame(&mut client, &[b'{', 0xff, 0xfe, b'}'], Data::Text).await;
    assert_eq!(client.close_code().await, Some(1007));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_error_closes_with_1002_after_the_replies() {
    let cluster = Cluster::embedded(&[]).await;
    let replica = &cluster.replicas[0];
    let mut client = WsClient::connect(&replica.ws_url("global")).await;
    client
        .send_text(&crate::helpers::ws_client::change_frame(1, "before"))
        .await;
    // A continuation with no message to continue.
    send_frame(&mut client, b"1}", Data::Continue).await;
    let (replies, code) = client.replies_until_close().await;
    assert_eq!(code, Some(1002));
    assert!(
        matches!(replies.as_slice(), [ServerMessage::Ack { value: 1, .. }]),
        "the frame before was answered: {replies:?}"
    );
}
