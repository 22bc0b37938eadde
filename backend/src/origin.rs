//! The Origin rule for WebSocket upgrades, against cross-site WebSocket hijacking.
//!
//! Browsers always send `Origin` on an upgrade and a page cannot forge it, so refusing
//! foreign origins stops another site from opening a socket with a visitor's cookies.
//! Clients that are not browsers (CLIs, load testers) send no `Origin` and are allowed.
//!
//! A page whose own domain was re-pointed at this server (DNS rebinding) is same-origin with
//! every request it makes; what gives it away is its name, which no public host carries
//! (`public_hosts.rs` refuses such requests on every path, and the same-host rule here asks
//! it again, so the rule holds on its own).

use axum::http::HeaderMap;
use std::sync::Arc;

use axum::http::header::{HOST, ORIGIN};
use shared::{ErrorCode, ProtocolError};

use crate::public_hosts::PublicHosts;

/// Which origins may open WebSockets.
#[derive(Clone, Debug)]
pub enum OriginPolicy {
    /// Only pages served from the host the request was sent to, when that host is one of the
    /// service's public names.
    SameHost(Arc<PublicHosts>),
    /// Exactly these origins (`scheme://host[:port]`, compared without case).
    AllowList(Vec<String>),
}

impl OriginPolicy {
    pub fn from_config(allowed: &[String], hosts: Arc<PublicHosts>) -> Self {
        let allowed: Vec<String> = allowed
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|origin| !origin.is_empty())
            .collect();
        if allowed.is_empty() {
            Self::SameHost(hosts)
        } else {
            Self::AllowList(allowed)
        }
    }

    /// Ok when the request may upgrade.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ProtocolError> {
        let Some(origin) = headers.get(ORIGIN) else {
            return Ok(());
        };
        let refuse = || {
            ProtocolError::new(
                ErrorCode::ForbiddenOrigin,
                "this origin may not open a WebSocket here",
            )
        };
        let origin = origin.to_str().map_err(|_| refuse())?.to_ascii_lowercase();
        let allowed = match self {
            Self::AllowList(list) => list.contains(&origin),
            Self::SameHost(hosts) => {
                let host = headers.get(HOST).and_then(|h| h.to_str().ok());
                let authority = origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"));
                matches!((host, authority), (Some(host), Some(authority))
                    if host.eq_ignore_ascii_case(authority) && hosts.allows(authority))
            }
        };
        if allowed { Ok(()) } else { Err(refuse()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Arc<PublicHosts> {
        Arc::new(PublicHosts::Local)
    }

    fn a_example() -> Arc<PublicHosts> {
        Arc::new(PublicHosts::from_config(&["a.example".into()]).unwrap())
    }

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn same_host_allows_its_own_pages_and_non_browsers() {
        let policy = OriginPolicy::from_config(&[], a_example());
        assert!(
            policy
                .check(&headers("a.example:8080", Some("http://a.example:8080")))
                .is_ok()
        );
        assert!(
            policy
                .check(&headers("a.example", Some("https://A.example")))
                .is_ok()
        );
        assert!(policy.check(&headers("a.example", None)).is_ok());
    }

    #[test]
    fn same_host_refuses_foreign_look_alike_and_null() {
        let policy = OriginPolicy::from_config(&[], a_example());
        for origin in [
            "http://evil.example",
            "http://a.example.evil.example",
            "http://a.example:9090",
            "null",
            "a.example",
        ] {
            let err = policy
                .check(&headers("a.example", Some(origin)))
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::ForbiddenOrigin, "{origin}");
        }
    }

    #[test]
    fn same_host_refuses_a_rebound_name() {
        // The attacker's page and its requests share the attacker's name: same host, but
        // not one the service answers to.
        let policy = OriginPolicy::from_config(&[], local());
        let rebound = headers("evil.example:8080", Some("http://evil.example:8080"));
        assert!(policy.check(&rebound).is_err());
        let own = headers("127.0.0.1:8080", Some("http://127.0.0.1:8080"));
        assert!(policy.check(&own).is_ok());
    }

    #[test]
    fn allow_list_is_exact() {
        let policy = OriginPolicy::from_config(&["https://app.example.com/".into()], local());
        assert!(
            policy
                .check(&headers("api.example.com", Some("https://app.example.com")))
                .is_ok()
        );
        for origin in [
            "https://app.example.com.evil.example",
            "http://app.example.com",
            "null",
        ] {
            assert!(
                policy
                    .check(&headers("api.example.com", Some(origin)))
                    .is_err(),
                "{origin}"
            );
        }
    }
}
