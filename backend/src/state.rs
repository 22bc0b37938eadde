//! The state every handler shares.

use std::sync::Arc;

use crate::config::Config;
use crate::connection_limits::ConnectionLimits;
use crate::counters::Counters;
use crate::origin::OriginPolicy;
use crate::serving::Serving;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Applies and reads counters, and fans changes out.
    pub counters: Counters,
    /// Limits and paths.
    pub config: Arc<Config>,
    /// Which browsers may open WebSockets.
    pub origin: OriginPolicy,
    /// Caps on open WebSockets, per replica and per client address.
    pub connections: Arc<ConnectionLimits>,
    /// What each socket watches to know when to close: shutdown, or a lost store.
    pub serving: Arc<Serving>,
}

impl AppState {
    /// The handlers' state, from the flags, the counters (store, hub, metrics) and the
    /// replica's serving token.
    pub fn new(config: Config, counters: Counters, serving: Arc<Serving>) -> Self {
        Self {
            counters,
            origin: OriginPolicy::from_config(&config.allowed_origins),
            connections: Arc::new(ConnectionLimits::new(
                config.max_connections,
                config.max_connections_per_ip,
            )),
            config: Arc::new(config),
            serving,
        }
    }
}
