//! Property tests of decoding: whatever arrives, decoding never panics, and what it accepts
//! is within the protocol's bounds; what a client builds always decodes to itself.

use proptest::prelude::*;
use shared::{
    ChangeRequest, ClientMessage, CounterName, Direction, ErrorCode, MAX_BY, MAX_OP_ID_LEN, Request,
};

/// Strings shaped like frames: JSON-ish pieces glued together, plus arbitrary text.
fn frame_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(r#"{"type":"increment""#.to_string()),
        Just(r#"{"type":"decrement""#.to_string()),
        Just(r#","by":"#.to_string()),
        Just(r#","op_id":"#.to_string()),
        Just("}".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "\"[ -~]{0,70}\"",
        "[\\[\\]{}:,\"0-9a-z-]{0,8}",
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat()),
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn decoding_never_panics_and_stays_in_bounds(text in frame_like()) {
        match ClientMessage::decode(&text) {
            Ok(Request::Auth(_) | Request::Undo(_)) => {}
            Ok(Request::Change(change)) => {
                prop_assert!((1..=MAX_BY).contains(&change.by));
                if let Some(id) = &change.op_id {
                    prop_assert!(!id.as_str().is_empty() && id.as_str().chars().count() <= MAX_OP_ID_LEN);
                }
            }
            Err((err, op_id)) => {
                prop_assert_eq!(err.code, ErrorCode::BadRequest);
                prop_assert!(!err.message.is_empty());
                if let Some(id) = op_id {
                    prop_assert!(id.as_str().chars().count() <= MAX_OP_ID_LEN);
                }
            }
        }
    }

    #[test]
    fn rest_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(request) = ChangeRequest::decode(&body) {
            let _ = request.validate(Direction::Increment);
        }
    }

    #[test]
    fn what_a_client_sends_decodes_to_itself(
        up in any::<bool>(),
        by in 1..=MAX_BY,
        op_id in "[ -~]{1,64}",
    ) {
        let request = ChangeRequest { by: Some(by), op_id: Some(op_id.clone()), label: None };
        let message = if up {
            ClientMessage::Increment(request)
        } else {
            ClientMessage::Decrement(request)
        };
        let Ok(Request::Change(change)) = ClientMessage::decode(&serde_json::to_string(&message).unwrap()) else {
            panic!("a change frame decodes to a change");
        };
        prop_assert_eq!(change.delta(), if up { by } else { -by });
        let decoded = change.op_id.unwrap();
        prop_assert_eq!(decoded.as_str(), op_id.as_str());
    }

    #[test]
    fn names_are_accepted_exactly_by_the_rule(name in any::<String>()) {
        let by_rule = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let parsed = name.parse::<CounterName>();
        prop_assert_eq!(parsed.is_ok(), by_rule);
        if let Ok(parsed) = parsed {
            prop_assert_eq!(parsed.as_str(), name.as_str());
        }
    }
}
