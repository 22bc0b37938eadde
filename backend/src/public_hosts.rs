//! The names the service answers to, against DNS rebinding.
//!
//! A page on an attacker's domain can re-point that domain at this server's address. Its
//! browser then takes the server for part of the attacker's site: the page's Origin equals
//! the request's `Host`, so the Origin rule passes, and the page may read every answer. What
//! it cannot change is the name its browser sends as `Host` — the attacker's — so every
//! request for a name the service does not answer to is refused before any handler runs.
//! The probes are left out: load balancers and scrapers call them by address.
//!
//! An IP address in `Host` is never the product of a rebinding (no name was resolved), so by
//! default the service answers to `localhost` and to any address: `cargo xtask run`, the
//! tests and a classroom reaching a laptop by its address work without configuration, and
//! only a service reached by a DNS name must list it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::http::uri::Authority;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::ErrorCode;

use crate::error::AppError;

/// Which `Host` names requests may carry.
#[derive(Clone, Debug)]
pub enum PublicHosts {
    /// `localhost` and any IP address, on any port: the default, safe without configuration.
    Local,
    /// Exactly these names (`--public-hosts`).
    Listed(Vec<HostName>),
    /// Any name (`--public-hosts '*'`): the check is off.
    Any,
}

/// One entry of `--public-hosts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostName {
    /// The name or address, lower case, without a trailing dot; IPv6 in brackets.
    host: String,
    /// The port it must come with; `None` for any port.
    port: Option<u16>,
}

/// An entry of `--public-hosts` that is not `host` or `host:port`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` in --public-hosts is not a host name or host:port")]
pub struct InvalidHost(String);

impl PublicHosts {
    pub fn from_config(entries: &[String]) -> Result<Self, InvalidHost> {
        let entries: Vec<&str> = entries
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .collect();
        if entries.contains(&"*") {
            return Ok(Self::Any);
        }
        if entries.is_empty() {
            return Ok(Self::Local);
        }
        let names = entries
            .iter()
            .map(|entry| HostName::parse(entry).ok_or_else(|| InvalidHost(entry.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Self::Listed(names))
    }

    /// Whether the service answers to `authority` (a `Host` value: `host[:port]`).
    pub fn allows(&self, authority: &str) -> bool {
        let Some(asked) = HostName::parse(authority) else {
            return false;
        };
        match self {
            Self::Any => true,
            Self::Local => asked.host == "localhost" || is_ip_address(&asked.host),
            Self::Listed(names) => names.iter().any(|name| {
                name.host == asked.host && name.port.is_none_or(|p| asked.port == Some(p))
            }),
        }
    }
}

impl HostName {
    /// `host` or `host:port`, as in a `Host` header; `None` for anything else (a scheme, a
    /// path, user information).
    fn parse(text: &str) -> Option<Self> {
        let authority: Authority = text.parse().ok()?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return None;
        }
        let port = authority.port_u16();
        // `Authority` reads a port it cannot parse (`:99999`, `:`) as none at all.
        if port.is_none() && authority.as_str().len() > authority.host().len() {
            return None;
        }
        let host = authority
            .host()
            .strip_suffix('.')
            .unwrap_or(authority.host());
        Some(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn is_ip_address(host: &str) -> bool {
    host.parse::<Ipv4Addr>().is_ok()
        || host
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .is_some_and(|inner| inner.parse::<Ipv6Addr>().is_ok())
}

/// Middleware: refuses a request whose `Host` (and request-target authority, when it has one)
/// is not a public host, with 421 Misdirected Request.
pub async fn check(
    State(hosts): State<Arc<PublicHosts>>,
    request: Request,
    next: Next,
) -> Response {
    if !named_publicly(&hosts, &request) {
        tracing::debug!(host = ?request.headers().get(HOST), "request for a host this service does not answer to");
        return AppError::new(
            ErrorCode::UnknownHost,
            "this server does not answer to that host name (see --public-hosts)",
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether every name the request carries (its `Host`, and its target's authority when it
/// has one) is a public host; a request that names no host at all is not.
fn named_publicly(hosts: &PublicHosts, request: &Request) -> bool {
    let names = [
        request.uri().authority().map(Authority::as_str),
        request
            .headers()
            .get(HOST)
            .map(|host| host.to_str().unwrap_or("")),
    ];
    let mut names = names.into_iter().flatten().peekable();
    names.peek().is_some() && names.all(|name| hosts.allows(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> PublicHosts {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        PublicHosts::from_config(&entries).unwrap()
    }

    #[test]
    fn by_default_localhost_and_addresses_on_any_port() {
        let local = hosts(&[]);
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "localhost.:8080",
            "127.0.0.1:8080",
            "10.1.2.3",
            "[::1]:8080",
            "[fe80::1]",
        ] {
            assert!(local.allows(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "1.2.3",
            "::1",
            "user@localhost",
            "",
            "http://localhost",
            "localhost/x",
        ] {
            assert!(!local.allows(host), "{host}");
        }
    }

    #[test]
    fn a_list_is_exact_and_a_port_binds_when_given() {
        let listed = hosts(&["Counter.Example.com", "api.example.com:8443", " "]);
        assert!(listed.allows("counter.example.com"));
        assert!(listed.allows("counter.example.com:8080"));
        assert!(listed.allows("api.example.com:8443"));
        for host in [
            "api.example.com",
            "api.example.com:443",
            "localhost",
            "127.0.0.1",
            "example.com",
        ] {
            assert!(!listed.allows(host), "{host}");
        }
    }

    #[test]
    fn a_star_allows_any_name_and_bad_entries_are_refused() {
        assert!(hosts(&["x.example", "*"]).allows("anything.example:1"));
        for bad in [
            "http://x.example",
            "x.example/path",
            "a@x.example",
            "x.example:99999",
        ] {
            assert!(
                PublicHosts::from_config(&[bad.to_string()]).is_err(),
                "{bad}"
            );
        }
    }
}
