//! The state every handler shares.

use std::sync::Arc;

use crate::config::Config;
use crate::connection_limits::ConnectionLimits;
use crate::counters::Counters;
use crate::origin::OriginPolicy;
use crate::public_hosts::PublicHosts;
use crate::serving::Serving;

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Applies and reads counters, and fans changes out.
    pub counters: Counters,
    /// Limits and paths.
    pub config: Arc<Config>,
    /// Which browsers may open WebSockets and send changes.
    pub origin: OriginPolicy,
    /// The `Host` names the service answers to.
    pub public_hosts: Arc<PublicHosts>,
    /// Caps on open WebSockets, per replica and per client address.
    pub connections: Arc<ConnectionLimits>,
    /// What each socket watches to know when to close: shutdown, or a lost store.
    pub serving: Arc<Serving>,
}

impl AppState {
    /// The handlers' state, from the flags, the counters (store, hub, metrics), the
    /// replica's serving token and the names it answers to.
    pub fn new(
        config: Config,
        counters: Counters,
        serving: Arc<Serving>,
        public_hosts: Arc<PublicHosts>,
    ) -> Self {
        Self {
            counters,
            origin: OriginPolicy::from_config(&config.allowed_origins, public_hosts.clone()),
            public_hosts,
            connections: Arc::new(ConnectionLimits::new(
                config.max_connections,
                config.max_connections_per_ip,
            )),
            config: Arc::new(config),
            serving,
        }
    }
}
