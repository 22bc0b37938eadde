//! Who a request comes from, for the per-address limits of version 2 (creating counters,
//! REST changes): the connection's peer, or — only when that peer is one of
//! `--trusted-proxies` — the address the proxies put in `X-Forwarded-For`. Believing the
//! header from anyone would let every client name itself anew and slip every limit.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// `--trusted-proxies`: addresses and CIDR ranges.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    pub fn from_config(entries: &[String]) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let bad = || format!("--trusted-proxies: {entry:?} is not an address or CIDR range");
            let (ip, bits) = match entry.split_once('/') {
                Some((ip, bits)) => (ip, Some(bits.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let ip: IpAddr = ip.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = bits.unwrap_or(max);
            if bits > max {
                return Err(bad());
            }
            ranges.push((ip, bits));
        }
        Ok(Self(ranges))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|&(net, bits)| in_range(ip, canonical(net), bits))
    }

    /// The client of a request that arrived from `peer` with these headers: walking
    /// `X-Forwarded-For` from the right, the first address not of a trusted proxy.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer.ip());
        if !self.trusts(client) {
            return client;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                // A hop the proxies did not write: stop at the last address they vouch for.
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    #[test]
    fn the_header_is_believed_only_from_a_trusted_proxy() {
        let peer: SocketAddr = "10.0.0.5:4000".parse().unwrap();
        let none = TrustedProxies::default();
        assert_eq!(none.client(peer, &headers("1.2.3.4")), peer.ip());
        let proxies = TrustedProxies::from_config(&["10.0.0.0/8".into()]).unwrap();
        assert_eq!(
            proxies.client(peer, &headers("9.9.9.9, 1.2.3.4, 10.0.0.7")),
            "1.2.3.4".parse::<IpAddr>().unwrap(),
            "the right-most address no trusted proxy wrote"
        );
        assert_eq!(proxies.client(peer, &HeaderMap::new()), peer.ip());
        assert_eq!(
            proxies.client(peer, &headers("garbage, 10.0.0.9")),
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
        assert!(TrustedProxies::from_config(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::from_config(&["nope".into()]).is_err());
    }
}
