//! Any REST body: decoding and validation must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::{ChangeRequest, Direction};

fuzz_target!(|body: &[u8]| {
    if let Ok(request) = ChangeRequest::decode(body) {
        let _ = request.validate(Direction::Decrement);
    }
});
