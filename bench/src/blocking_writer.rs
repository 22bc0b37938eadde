//! `bench blocking-writer` (hidden): the fan-out's floor, a minimal WebSocket server that
//! only writes.
//!
//! Plain `std::net` and one thread that writes: no async runtime, no WebSocket library. It
//! answers the opening handshake by hand (RFC 6455: the client's key with the protocol's GUID,
//! SHA-1, base64), sends the state at once as a replica does, and in a round writes each
//! state frame — built once, the bytes a replica sends for it — to every socket in turn with
//! blocking writes. What it costs per delivered frame is what the kernel's loopback TCP path
//! costs, which no server can avoid: the fan-out benchmark quotes a replica's CPU per
//! delivered frame as a multiple of it ([`crate::fanout_floor`]).
//!
//! Like the worker, it talks to the coordinator over its standard input and output, one JSON
//! line each: it prints [`Listening`], then for each [`Round`] writes the round's versions on
//! their schedule and prints [`Done`]. It exits at the end of its input.

use std::io::{BufRead, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha1::{Digest as _, Sha1};
use shared::{CounterName, CounterState, ServerMessage};

use crate::latency::now_ns;

/// The hidden subcommand that makes the bench binary a blocking writer.
pub const COMMAND: &str = "blocking-writer";
/// What RFC 6455 appends to a client's key before hashing it into `Sec-WebSocket-Accept`.
const HANDSHAKE_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The longest opening handshake it accepts: a client's is a few hundred bytes.
const MAX_REQUEST_BYTES: usize = 8192;
/// How long a client may take to send its handshake, or to make room for a frame, before it
/// is dropped: every blocking call is bounded.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The counter named in the state frames, as a replica names it.
    #[arg(long)]
    name: String,
    /// The shortest time between two passes over the sockets, in ms: a replica's
    /// `--state-interval-ms`, so that both skip the same versions at high rates.
    #[arg(long)]
    interval_ms: u64,
}

/// The first line it prints.
#[derive(Debug, Serialize, Deserialize)]
pub struct Listening {
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// What the coordinator asks for, one JSON line each: write versions `first_version`,
/// `first_version + 1`, … (`count` of them), the k-th due at `start_ns + k * period_ns` on the
/// shared clock. A pass writes the newest version due, so versions it is late for are skipped,
/// as a replica skips them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Round {
    /// The round's first version: one above the last round's last.
    pub first_version: u64,
    /// How many versions the round has.
    pub count: u64,
    /// When the first is due (ns, shared clock).
    pub start_ns: u64,
    /// The time between two versions, in ns: the writer's schedule.
    pub period_ns: u64,
}

/// Its account of one round.
#[derive(Debug, Serialize, Deserialize)]
pub struct Done {
    /// Passes over the sockets: frames written per socket.
    pub passes: u64,
    /// Sockets open at the end of the round.
    pub sockets: usize,
    /// Sockets dropped during the round because a write failed.
    pub dropped: usize,
}

pub fn run(args: &Args) -> Result<()> {
    let name: CounterName = args.name.parse().context("not a counter name")?;
    let interval_ns = args.interval_ms * 1_000_000;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = listener.local_addr()?.port();
    // The newest version written, which a socket that opens is sent first.
    let version = Arc::new(AtomicU64::new(0));
    let sockets = Arc::new(Mutex::new(Vec::new()));
    {
        let (name, version, sockets) = (name.clone(), version.clone(), sockets.clone());
        // Accepting on a thread of its own leaves the writing thread free to read commands;
        // it sleeps in `accept` while the rounds run.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let first = frame(&name, version.load(Ordering::Relaxed));
                match stream.and_then(|stream| open(stream, &first)) {
                    Ok(stream) => lock(&sockets).push(stream),
                    Err(error) => eprintln!("blocking writer: a handshake failed: {error}"),
                }
            }
        });
    }
    println!("{}", serde_json::to_string(&Listening { port })?);
    for line in std::io::stdin().lock().lines() {
        let round: Round = serde_json::from_str(&line?)?;
        let mut sockets = lock(&sockets);
        let before = sockets.len();
        let passes = write_round(&mut sockets, &round, interval_ns, |written| {
            version.store(written, Ordering::Relaxed);
            frame(&name, written)
        });
        let done = Done {
            passes,
            sockets: sockets.len(),
            dropped: before - sockets.len(),
        };
        println!("{}", serde_json::to_string(&done)?);
    }
    Ok(())
}

fn lock(sockets: &Mutex<Vec<TcpStream>>) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
    // Only pushes and whole rounds run under it, each leaving the list whole.
    sockets.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes `round` to every socket and returns the number of passes; a socket whose write
/// fails is dropped. `frame_of` builds the frame of a version once per pass.
fn write_round(
    sockets: &mut Vec<TcpStream>,
    round: &Round,
    interval_ns: u64,
    mut frame_of: impl FnMut(u64) -> Vec<u8>,
) -> u64 {
    let due = |version: u64| round.start_ns + (version - round.first_version) * round.period_ns;
    let last = round.first_version + round.count.saturating_sub(1);
    let mut next = round.first_version;
    let mut passes = 0;
    let mut last_pass_ns: Option<u64> = None;
    while next <= last && !sockets.is_empty() {
        let now = now_ns();
        let wait_until = last_pass_ns.map_or(due(next), |at| (at + interval_ns).max(due(next)));
        if now < wait_until {
            std::thread::sleep(Duration::from_nanos(wait_until - now));
            continue;
        }
        // The newest version due by now: those in between are skipped.
        let newest =
            (round.first_version + (now - round.start_ns) / round.period_ns.max(1)).min(last);
        let frame = frame_of(newest);
        sockets.retain_mut(|socket| socket.write_all(&frame).is_ok());
        passes += 1;
        last_pass_ns = Some(now);
        next = newest + 1;
    }
    passes
}

/// Answers a client's opening handshake and sends it `first`, the state frame it starts from.
fn open(mut stream: TcpStream, first: &[u8]) -> std::io::Result<TcpStream> {
    // As on a replica: a frame goes out at once, not after the client's delayed ACK.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
    let mut request = Vec::with_capacity(512);
    let mut buffer = [0; 1024];
    // The client sends nothing after its request until it has the answer, so this reads
    // exactly the request.
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer)?;
        if read == 0 || request.len() + read > MAX_REQUEST_BYTES {
            return Err(std::io::Error::other("no complete handshake request"));
        }
        request.extend_from_slice(&buffer[..read]);
    }
    let key = websocket_key(&String::from_utf8_lossy(&request))
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    let mut answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    )
    .into_bytes();
    answer.extend_from_slice(first);
    stream.write_all(&answer)?;
    Ok(stream)
}

/// The `Sec-WebSocket-Key` of a handshake request.
fn websocket_key(request: &str) -> Result<String> {
    for line in request.lines() {
        if let Some((header, value)) = line.split_once(':')
            && header.trim().eq_ignore_ascii_case("sec-websocket-key")
        {
            return Ok(value.trim().to_owned());
        }
    }
    bail!("the handshake request has no Sec-WebSocket-Key")
}

/// `Sec-WebSocket-Accept` for a client's key (RFC 6455, section 4.2.2).
fn accept_key(key: &str) -> String {
    BASE64.encode(Sha1::digest(format!("{key}{HANDSHAKE_GUID}")))
}

/// The unmasked text frame of the state at `version` (its value equal to its version): the
/// JSON a replica sends, behind the frame header a server puts in front of it.
fn frame(name: &CounterName, version: u64) -> Vec<u8> {
    let json = ServerMessage::State(CounterState {
        name: name.clone(),
        value: version as i64,
        version,
    })
    .to_json();
    let mut frame = Vec::with_capacity(json.len() + 4);
    // FIN and the text opcode; then the length, in 7 bits or, above 125, in 16 (a state
    // frame is far below the 64 KiB that would need 64).
    frame.push(0x81);
    match u16::try_from(json.len()) {
        Ok(length) if length < 126 => frame.push(length as u8),
        Ok(length) => {
            frame.push(126);
            frame.extend_from_slice(&length.to_be_bytes());
        }
        Err(_) => unreachable!("a state frame is a few dozen bytes"),
    }
    frame.extend_from_slice(json.as_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::client::{self, next_state, wait_for_state};

    #[tokio::test]
    async fn a_websocket_client_opens_a_socket_and_reads_a_round_to_its_end() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let url = format!(
            "ws://{}/ws/counters/floor-test",
            listener.local_addr().unwrap()
        );
        let name: CounterName = "floor-test".parse().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut sockets = vec![open(stream, &frame(&name, 3)).unwrap()];
            let round = Round {
                first_version: 4,
                count: 3,
                start_ns: now_ns(),
                period_ns: 1_000_000,
            };
            write_round(&mut sockets, &round, 0, |version| frame(&name, version))
        });
        // The load generator's own client, as in the benchmark.
        let mut socket = client::connect(&url, IpAddr::V4(Ipv4Addr::LOCALHOST))
            .await
            .unwrap();
        assert_eq!(wait_for_state(&mut socket).await.unwrap().version, 3);
        // Versions may be skipped if the writer falls behind, never repeated; the last is
        // always written.
        let mut last = 3;
        while last < 6 {
            let state = next_state(&mut socket, SOCKET_TIMEOUT).await.unwrap();
            assert!(state.version > last, "{} after {last}", state.version);
            assert_eq!(state.value, state.version as i64);
            last = state.version;
        }
        assert_eq!(last, 6);
        assert!(server.join().unwrap() >= 1);
    }

    #[test]
    fn the_accept_key_is_the_one_rfc_6455_gives() {
        // The example of RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let request =
            "GET /ws/counters/x HTTP/1.1\r\nHost: a\r\nsec-websocket-key:  abc== \r\n\r\n";
        assert_eq!(websocket_key(request).unwrap(), "abc==");
        assert!(websocket_key("GET / HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn a_frame_is_the_state_json_behind_a_text_header() {
        let name: CounterName = "fanout-10".parse().unwrap();
        let frame = frame(&name, 7);
        let json = r#"{"type":"state","name":"fanout-10","value":7,"version":7}"#;
        assert_eq!(frame[0], 0x81);
        assert_eq!(usize::from(frame[1]), json.len());
        assert_eq!(&frame[2..], json.as_bytes());
    }
}
