//! The connections to the Redis primary, which follow it when Sentinel names another.
//!
//! With one server, the connections simply reconnect to its address. With Sentinel, a
//! failover moves the primary to another address, and the old one, if it comes back, is a
//! replica that answers every write with READONLY: so a failure that can mean "the primary
//! moved" (Redis unreachable or not answering, READONLY, replicas missing behind a `WAIT`)
//! makes the replica ask the sentinels again, and when they name another primary, every
//! later command and the next subscription go there.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{Client, RedisError};
use tokio::time::Instant;

use super::redis_target::{RedisTarget, SentinelTarget};

/// The shortest pause between two questions to the sentinels: while a primary is down,
/// every failing request would otherwise ask once more.
const ASK_AT_MOST_EVERY: Duration = Duration::from_millis(200);

/// The Redis primary of this replica and its connections.
pub struct Primary {
    /// How the primary is found: fixed, or asked of the sentinels.
    finder: Finder,
    /// The primary in use now; `None` until Sentinel has named one.
    current: RwLock<Option<Node>>,
    /// Settings of every command connection (timeouts, retries).
    config: ConnectionManagerConfig,
    /// Whether changes get a connection of their own (see [`Node::changes`]).
    separate_changes: bool,
    /// The longest wait for the sentinels' answer.
    timeout: Duration,
}

/// How the primary is found.
enum Finder {
    /// One server: it never moves.
    Fixed,
    /// Asked of the sentinels; the lock makes concurrent failures ask once.
    Sentinel(Box<tokio::sync::Mutex<Asker>>),
}

/// What asking the sentinels takes.
struct Asker {
    /// The crate's Sentinel client: the sentinels and a cached connection to each.
    sentinel: Sentinel,
    /// The master's name in the sentinels' configuration.
    master: String,
    /// How to log in to the primary they name.
    login: SentinelNodeConnectionInfo,
    /// When they were last asked, to ask at most every [`ASK_AT_MOST_EVERY`].
    last_asked: Option<Instant>,
}

/// One primary's address and connections.
#[derive(Clone)]
struct Node {
    /// Opens the subscriber's connection and names the address in logs.
    client: Client,
    /// The multiplexed, auto-pipelined command connection; reconnects by itself.
    commands: ConnectionManager,
    /// Where changes go when each waits for replicas: `WAIT` blocks the connection it runs
    /// on, so probes, reads and reconciles must not queue behind it.
    changes: Option<ConnectionManager>,
}

impl Primary {
    /// Prepares the connections without waiting for Redis (or the sentinels), so a replica
    /// starts, not ready, while they are down.
    pub fn new(
        target: RedisTarget,
        config: ConnectionManagerConfig,
        separate_changes: bool,
        timeout: Duration,
    ) -> Result<Self, RedisError> {
        let mut primary = Self {
            finder: Finder::Fixed,
            current: RwLock::new(None),
            config,
            separate_changes,
            timeout,
        };
        match target {
            RedisTarget::Server(client) => {
                let node = primary.node(client)?;
                primary.current = RwLock::new(Some(node));
            }
            RedisTarget::Sentinel(SentinelTarget {
                sentinels,
                master,
                login,
            }) => {
                primary.finder = Finder::Sentinel(Box::new(tokio::sync::Mutex::new(Asker {
                    sentinel: Sentinel::build(sentinels)?,
                    master,
                    login: SentinelNodeConnectionInfo::default().set_redis_connection_info(login),
                    last_asked: None,
                })));
            }
        }
        Ok(primary)
    }

    fn node(&self, client: Client) -> Result<Node, RedisError> {
        let connect =
            || ConnectionManager::new_lazy_with_config(client.clone(), self.config.clone());
        Ok(Node {
            commands: connect()?,
            changes: self.separate_changes.then(connect).transpose()?,
            client,
        })
    }

    fn current(&self) -> Option<Node> {
        self.current.read().expect("not poisoned").clone()
    }

    /// The command connection, or `None` while no primary is known.
    pub fn commands(&self) -> Option<ConnectionManager> {
        self.current().map(|node| node.commands)
    }

    /// The connection changes go through.
    pub fn changes(&self) -> Option<ConnectionManager> {
        self.current()
            .map(|node| node.changes.unwrap_or(node.commands))
    }

    /// Opens the subscriber's connections, or `None` while no primary is known.
    pub fn client(&self) -> Option<Client> {
        self.current().map(|node| node.client)
    }

    /// Whether the primary can move (Sentinel), so that failures are worth a question.
    pub fn follows_sentinel(&self) -> bool {
        matches!(self.finder, Finder::Sentinel(_))
    }

    /// Asks the sentinels in the background, unless a question is under way: for the
    /// request path, which answers its client at once and must not queue behind it.
    pub fn nudge(self: &Arc<Self>) {
        if self.follows_sentinel() {
            let this = self.clone();
            tokio::spawn(async move {
                if let Finder::Sentinel(asker) = &this.finder
                    && let Ok(mut asker) = asker.try_lock()
                {
                    this.ask(&mut asker).await;
                }
            });
        }
    }

    /// Asks the sentinels which server is the primary now (waiting for a question under
    /// way instead, which answers the same), and moves there when it is another.
    pub async fn follow(&self) {
        if let Finder::Sentinel(asker) = &self.finder {
            let mut asker = asker.lock().await;
            self.ask(&mut asker).await;
        }
    }

    async fn ask(&self, asker: &mut Asker) {
        if asker
            .last_asked
            .is_some_and(|asked| asked.elapsed() < ASK_AT_MOST_EVERY)
        {
            return;
        }
        let Asker {
            sentinel,
            master,
            login,
            ..
        } = asker;
        // The crate checks with ROLE that the server named is a primary indeed. It is safe to
        // drop mid-way (it caches only connections it verified).
        let found =
            tokio::time::timeout(self.timeout, sentinel.async_master_for(master, Some(login)))
                .await;
        asker.last_asked = Some(Instant::now());
        let client = match found {
            Ok(Ok(client)) => client,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "Sentinel named no primary that answers as one");
                return;
            }
            Err(_) => {
                tracing::warn!("the sentinels did not name a primary in time");
                return;
            }
        };
        let address = client.get_connection_info().addr().to_string();
        let now = self.current();
        if now.is_some_and(|node| node.client.get_connection_info().addr().to_string() == address) {
            return;
        }
        match self.node(client) {
            Ok(node) => {
                *self.current.write().expect("not poisoned") = Some(node);
                tracing::info!(%address, "Redis primary (named by Sentinel)");
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot connect to the primary Sentinel named")
            }
        }
    }
}
