//! A server → client text frame built once, as it goes on the wire, for every socket to write.
//!
//! A state frame goes to every socket watching its counter. Handed to tungstenite as a
//! message, it would be framed again for each of them (a header, and the text copied into the
//! socket's write buffer); built here once, each socket writes the same bytes as they are.
//! A server's frames are never masked (RFC 6455, 5.1), so the bytes do not depend on the
//! socket.

use bytes::{BufMut, Bytes, BytesMut};

/// FIN set (the whole message in one frame), opcode 1 (text).
const FIN_TEXT: u8 = 0x81;

/// The complete frame carrying `text`: FIN and text opcode, the payload length in its shortest
/// form (RFC 6455, 5.2), then the text itself, unmasked.
pub fn text(text: &str) -> Bytes {
    let payload = text.as_bytes();
    let len = payload.len();
    let mut frame = BytesMut::with_capacity(len + 10);
    frame.put_u8(FIN_TEXT);
    match len {
        // The length fits the second byte itself.
        0..=125 => frame.put_u8(len as u8),
        // 126, then a 16-bit length.
        126..=0xFFFF => {
            frame.put_u8(126);
            frame.put_u16(len as u16);
        }
        // 127, then a 64-bit length.
        _ => {
            frame.put_u8(127);
            frame.put_u64(len as u64);
        }
    }
    frame.put_slice(payload);
    frame.freeze()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use tungstenite::error::ProtocolError;
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Message, Utf8Bytes};

    use super::*;

    /// Reads `wire` as a client would: tungstenite in the client's role, which refuses a
    /// masked frame from a server and checks every header field.
    fn read_as_client(wire: &[u8]) -> Vec<Message> {
        let mut client = WebSocket::from_raw_socket(Cursor::new(wire.to_vec()), Role::Client, None);
        let mut messages = Vec::new();
        loop {
            match client.read() {
                Ok(message) => messages.push(message),
                // The end of the bytes, between two frames (in the middle of one it is an
                // I/O error).
                Err(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                    return messages;
                }
                Err(err) => panic!("not a frame a client accepts: {err}"),
            }
        }
    }

    #[test]
    fn a_prebuilt_frame_is_the_text_frame_a_client_reads() {
        let json = r#"{"type":"state","name":"global","value":42,"version":17}"#;
        let frame = text(json);
        assert_eq!(&frame[..2], &[0x81, json.len() as u8]);
        assert_eq!(
            read_as_client(&frame),
            [Message::Text(Utf8Bytes::from_static(json))]
        );
    }

    #[test]
    fn every_length_form_reads_back_and_frames_follow_each_other() {
        // Both edges of each length form: 7 bits, 16 bits, 64 bits.
        let lengths = [0, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 70_000];
        let texts: Vec<String> = lengths
            .iter()
            .map(|&len| "é".repeat(len / 2) + &"x".repeat(len % 2))
            .collect();
        let wire: Vec<u8> = texts.iter().flat_map(|t| text(t).to_vec()).collect();
        let read: Vec<Message> = read_as_client(&wire);
        let expected: Vec<Message> = texts.iter().map(|t| Message::text(t.as_str())).collect();
        assert_eq!(read, expected);
        for (t, &len) in texts.iter().zip(&lengths) {
            assert_eq!(t.len(), len);
        }
    }
}
