//! Closing every socket of this replica at once without stopping the replica: when it has
//! lost its store, its clients are better served by another replica.

use std::sync::{Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// Hands each new socket a token that is cancelled on shutdown or by [`Serving::close_all`].
pub struct Serving {
    /// The replica's shutdown, parent of every socket token; a fresh child is cut from it
    /// after each `close_all`.
    shutdown: CancellationToken,
    /// The token of the sockets opened since the last `close_all`: a child of `shutdown`, so
    /// a socket watches one token for both.
    current: Mutex<CancellationToken>,
}

impl Serving {
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            current: Mutex::new(shutdown.child_token()),
            shutdown,
        }
    }

    /// The token a new socket watches.
    pub fn token(&self) -> CancellationToken {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks every open socket to close; sockets opened afterwards get a fresh token.
    pub fn close_all(&self) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.cancel();
        *current = self.shutdown.child_token();
    }

    /// Whether the whole replica is stopping (rather than only its sockets closing).
    pub fn stopping(&self) -> bool {
        self.shutdown.is_cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_all_reaches_open_sockets_only_and_shutdown_reaches_all() {
        let shutdown = CancellationToken::new();
        let serving = Serving::new(shutdown.clone());
        let before = serving.token();
        serving.close_all();
        let after = serving.token();
        assert!(before.is_cancelled());
        assert!(!after.is_cancelled() && !serving.stopping());
        shutdown.cancel();
        assert!(after.is_cancelled() && serving.stopping());
    }
}
