//! Any WebSocket text frame: decoding must never panic, and what it accepts is in bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::{ClientMessage, MAX_BY, MAX_OP_ID_LEN, Request};

fuzz_target!(|text: &str| {
    if let Ok(Request::Change(change)) = ClientMessage::decode(text) {
        assert!((1..=MAX_BY).contains(&change.by));
        assert!(change.op_id.is_none_or(|id| id.as_str().chars().count() <= MAX_OP_ID_LEN));
    }
});
