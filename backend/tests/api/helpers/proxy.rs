//! A TCP proxy in front of Redis that can hold back what one kind of command sends: real
//! sockets, with a slow Redis round trip made on purpose. While it holds a pattern, a read
//! from a client that contains it stays in the proxy, and so does everything that connection
//! sends after it, as on a stalled link; other connections, and every answer, flow on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::eventually;

pub struct Proxy {
    /// Where the proxy listens on 127.0.0.1.
    pub port: u16,
    /// What to hold back (`None`: nothing), watched by every connection.
    hold: watch::Sender<Option<Vec<u8>>>,
    /// Reads held back so far: one means a client sent a held command.
    held: Arc<AtomicUsize>,
    /// The accept loop, which owns every connection's tasks: all aborted on drop.
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Forwards every connection to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let hold = watch::Sender::new(None);
        let held = Arc::new(AtomicUsize::new(0));
        let (patterns, count) = (hold.subscribe(), held.clone());
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                let (from_client, mut to_client) = client.into_split();
                let (mut from_server, to_server) = server.into_split();
                connections.spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
                connections.spawn(upstream_pump(
                    from_client,
                    to_server,
                    patterns.clone(),
                    count.clone(),
                ));
            }
        });
        Self {
            port,
            hold,
            held,
            accept,
        }
    }

    /// `redis://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Holds back, from now on, every read from a client that contains `pattern`.
    pub fn hold(&self, pattern: &str) {
        self.hold.send_replace(Some(pattern.as_bytes().to_vec()));
    }

    /// Waits until a client has sent something that is held back.
    pub async fn wait_until_held(&self) {
        eventually("a held command", || async {
            (self.held.load(Ordering::Relaxed) > 0).then_some(())
        })
        .await;
    }

    /// Lets everything held back through, and everything after it.
    pub fn release(&self) {
        self.hold.send_replace(None);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies what one client sends to Redis, holding back a read that contains the pattern
/// until the pattern is lifted.
async fn upstream_pump(
    mut from_client: OwnedReadHalf,
    mut to_server: OwnedWriteHalf,
    mut hold: watch::Receiver<Option<Vec<u8>>>,
    held: Arc<AtomicUsize>,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from_client.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        let bytes = &buffer[..read];
        let holds = |pattern: &Option<Vec<u8>>| {
            pattern
                .as_ref()
                .is_some_and(|p| bytes.windows(p.len()).any(|w| w == p.as_slice()))
        };
        if holds(&hold.borrow_and_update()) {
            held.fetch_add(1, Ordering::Relaxed);
            if hold.wait_for(|pattern| !holds(pattern)).await.is_err() {
                return;
            }
        }
        if to_server.write_all(bytes).await.is_err() {
            return;
        }
    }
}
