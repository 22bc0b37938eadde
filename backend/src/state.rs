//! The state every handler shares.

use std::net::IpAddr;
use std::sync::Arc;

use governor::DefaultKeyedRateLimiter;

use crate::client_address::TrustedProxies;
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
    /// Version 2: whose `X-Forwarded-For` names the client.
    pub proxies: Arc<TrustedProxies>,
    /// Version 2: counters created per client address (`--max-creates-per-minute`).
    pub creates: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Version 2: REST changes per client address, at the WebSocket's per-socket rate.
    pub rest_changes: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AppState {
    /// The handlers' state, from the flags, the counters (store, hub, metrics), the
    /// replica's serving token and the names it answers to.
    /// `Err` when `--trusted-proxies` does not parse.
    pub fn new(
        config: Config,
        counters: Counters,
        serving: Arc<Serving>,
        public_hosts: Arc<PublicHosts>,
    ) -> Result<Self, String> {
        let per_minute = governor::Quota::per_minute(config.max_creates_per_minute)
            .allow_burst(config.max_creates_per_minute);
        let rest = crate::rate_limit::quota(config.max_ops_per_second, config.max_ops_burst);
        Ok(Self {
            proxies: Arc::new(TrustedProxies::from_config(&config.trusted_proxies)?),
            creates: Arc::new(DefaultKeyedRateLimiter::keyed(per_minute)),
            rest_changes: Arc::new(DefaultKeyedRateLimiter::keyed(rest)),
            counters,
            origin: OriginPolicy::from_config(&config.allowed_origins, public_hosts.clone()),
            public_hosts,
            connections: Arc::new(ConnectionLimits::new(
                config.max_connections,
                config.max_connections_per_ip,
            )),
            config: Arc::new(config),
            serving,
        })
    }
}
