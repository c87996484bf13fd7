//! The client's address: the rightmost `X-Forwarded-For` entry that is not a trusted proxy.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// Reverse proxies whose `X-Forwarded-For` entries are believed: addresses and CIDR blocks.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(std::net::IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`; the error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let (addr, bits) = match e.split_once('/') {
                    Some((a, b)) => (a, Some(b)),
                    None => (e.as_str(), None),
                };
                let ip: std::net::IpAddr = addr
                    .trim()
                    .parse()
                    .map_err(|_| format!("{e:?} is not an address or CIDR block"))?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = match bits {
                    Some(b) => b
                        .trim()
                        .parse::<u8>()
                        .ok()
                        .filter(|b| *b <= max)
                        .ok_or_else(|| format!("{e:?} has a bad prefix length"))?,
                    None => max,
                };
                Ok((ip, bits))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|(net, bits)| match (canonical(*net), ip) {
            (std::net::IpAddr::V4(n), std::net::IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            (std::net::IpAddr::V6(n), std::net::IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), *bits),
            _ => false,
        })
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) compare as IPv4.
pub(super) fn canonical(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    }
}

pub(super) fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (full, rest) = (usize::from(bits / 8), bits % 8);
    a[..full] == b[..full] && (rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0)
}

/// The client's address: the peer, unless `trust_forwarded` and the peer is a trusted proxy
/// (any peer when none are listed); then the rightmost `X-Forwarded-For` entry that is not a
/// trusted proxy. Entries left of it are the client's own words and are never believed; an
/// entry that is not an address ends the walk at the hop that forwarded it.
pub fn client_address(
    peer: std::net::IpAddr,
    forwarded_for: Option<&str>,
    trust_forwarded: bool,
    proxies: &TrustedProxies,
) -> std::net::IpAddr {
    if !trust_forwarded || (!proxies.is_empty() && !proxies.contains(peer)) {
        return peer;
    }
    let mut client = peer;
    for entry in forwarded_for
        .unwrap_or("")
        .rsplit(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let Ok(ip) = entry.parse::<std::net::IpAddr>() else {
            break;
        };
        client = ip;
        if !proxies.contains(ip) {
            break;
        }
    }
    client
}

/// The client's address as the server decided it (peer address, or the proxy header when the
/// server is configured to trust it). The server inserts it as a request extension.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .cloned()
            .unwrap_or(ClientIp("unknown".into())))
    }
}

#[cfg(test)]
mod forwarded_tests {
    use super::*;

    pub(super) fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    pub(super) fn the_client_is_the_rightmost_untrusted_forwarded_address() {
        let none = TrustedProxies::default();
        let proxy = ip("10.0.0.5");
        // nginx appends the address it saw: whatever the client sent stays on the left.
        assert_eq!(
            client_address(proxy, Some("6.6.6.6, 203.0.113.7"), true, &none),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(proxy, Some("203.0.113.7"), true, &none),
            ip("203.0.113.7")
        );
        assert_eq!(client_address(proxy, None, true, &none), proxy);
        assert_eq!(client_address(proxy, Some("6.6.6.6"), false, &none), proxy);
        // Two proxies: the CDN's address is skipped, the client's kept.
        let chain = TrustedProxies::parse(&["10.0.0.0/8".into(), "198.51.100.0/24".into()]).unwrap_or_default();
        assert_eq!(
            client_address(proxy, Some("6.6.6.6, 203.0.113.7, 198.51.100.20"), true, &chain),
            ip("203.0.113.7")
        );
        // A peer that is not a listed proxy speaks for itself.
        assert_eq!(
            client_address(ip("203.0.113.9"), Some("6.6.6.6"), true, &chain),
            ip("203.0.113.9")
        );
        // Garbage ends the walk at the hop that forwarded it.
        assert_eq!(
            client_address(proxy, Some("6.6.6.6, junk, 198.51.100.20"), true, &chain),
            ip("198.51.100.20")
        );
        assert_eq!(
            client_address(ip("::ffff:10.1.2.3"), Some("203.0.113.7"), true, &chain),
            ip("203.0.113.7")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["nginx".into()]).is_err());
        assert!(TrustedProxies::parse(&["fd00::/8".into()]).is_ok_and(|p| p.contains(ip("fd12::1"))));
    }
}
