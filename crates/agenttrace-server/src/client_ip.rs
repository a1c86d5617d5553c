//! The client's address: the socket's peer, unless the peer is a trusted proxy, in which case the
//! forwarding headers say who the client is.
//!
//! One forwarding header is read, the one the proxies are configured to write
//! (`TRUSTED_PROXY_HEADER`: `X-Forwarded-For` by default, or `Forwarded` (RFC 7239), or
//! `X-Real-IP`), and only when the peer is in `TRUSTED_PROXIES`. Never a fallback to another:
//! a proxy that appends to one header passes the others through as the client wrote them. The
//! chain is walked from the right: each hop a trusted proxy added is skipped, and the first
//! address that is not a trusted proxy is the client. Anything to its left was written by the
//! client itself and could be anything, so it is never read.

use axum::http::HeaderMap;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range such as `10.0.0.0/8`, `192.168.1.7` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The prefix length (0 covers every address).
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this range (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network = IpAddr::from_str(addr).map_err(|_| {
            format!("{text:?} is not an address or a CIDR range (e.g. 10.0.0.0/8 or fd00::/8)")
        })?;
        let network = canonical(network);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The forwarding header trusted proxies write the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    Forwarded,
    XRealIp,
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<ForwardedHeader, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            "x-real-ip" => Ok(ForwardedHeader::XRealIp),
            other => Err(format!(
                "TRUSTED_PROXY_HEADER must be x-forwarded-for, forwarded or x-real-ip, got {other:?}"
            )),
        }
    }
}

/// Parses a comma-separated list of ranges.
pub fn parse_cidr_list(text: &str) -> Result<Vec<Cidr>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Cidr::from_str)
        .collect()
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is one of the trusted proxies.
pub fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|range| range.contains(ip))
}

/// The client's address for a request that came from `peer`.
pub fn resolve(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[Cidr],
    header: ForwardedHeader,
) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let chain = match header {
        ForwardedHeader::XForwardedFor => header_list(headers, "x-forwarded-for"),
        ForwardedHeader::Forwarded => forwarded_chain(headers),
        ForwardedHeader::XRealIp => header_list(headers, "x-real-ip"),
    };
    let Some(chain) = chain else {
        return peer;
    };
    // From the right: the nearest hop first. A hop we cannot read ends the walk at the last
    // address we could trust, rather than guessing.
    let mut client = peer;
    for hop in chain.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            return ip;
        }
    }
    client
}

/// Every value of a comma-separated header, in order, across repeated header lines.
fn header_list(headers: &HeaderMap, name: &str) -> Option<Vec<String>> {
    let mut values = Vec::new();
    for value in headers.get_all(name) {
        let text = value.to_str().ok()?;
        values.extend(
            text.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
        );
    }
    (!values.is_empty()).then_some(values)
}

/// The `for=` parameters of `Forwarded`, in order.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<String>> {
    let elements = header_list(headers, "forwarded")?;
    let chain: Vec<String> = elements
        .iter()
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
                .map(|(_, value)| value.trim().trim_matches('"').to_owned())
                .unwrap_or_default()
        })
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// An address as a hop writes it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = IpAddr::from_str(hop) {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return IpAddr::from_str(inside).ok().map(canonical);
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    IpAddr::from_str(host).ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn ranges_contain_what_they_should() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.9.9.9")));
        let one: Cidr = "192.168.1.7".parse().unwrap();
        assert!(one.contains(ip("192.168.1.7")));
        assert!(!one.contains(ip("192.168.1.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy.local".parse::<Cidr>().is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]);
        assert_eq!(resolve(ip("203.0.113.9"), &h, &[], XFF), ip("203.0.113.9"));
        let trusted = parse_cidr_list("10.0.0.0/8").unwrap();
        assert_eq!(
            resolve(ip("203.0.113.9"), &h, &trusted, XFF),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_chain_is_walked_from_the_right_past_trusted_hops() {
        let trusted = parse_cidr_list("10.0.0.0/8, 172.16.0.0/12").unwrap();
        // The client wrote "6.6.6.6" itself; the first proxy saw 198.51.100.4.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.4, 172.16.0.2")]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted, XFF),
            ip("198.51.100.4")
        );
        // Repeated header lines read as one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted, XFF),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn forwarded_and_x_real_ip_are_read_when_chosen() {
        let trusted = parse_cidr_list("10.0.0.0/8").unwrap();
        let h = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https",
        )]);
        let forwarded = ForwardedHeader::Forwarded;
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted, forwarded),
            ip("2001:db8::7")
        );
        let h = headers(&[("x-real-ip", "198.51.100.4")]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted, ForwardedHeader::XRealIp),
            ip("198.51.100.4")
        );
        let h = headers(&[("x-forwarded-for", "198.51.100.4:5555")]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted, XFF),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn only_the_chosen_header_is_read() {
        // The proxy appends to X-Forwarded-For and passes the client's own Forwarded through.
        let trusted = parse_cidr_list("10.0.0.0/8").unwrap();
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.2"),
            ("forwarded", "for=1.2.3.4"),
            ("x-real-ip", "5.6.7.8"),
        ]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted, XFF),
            ip("198.51.100.2")
        );
        // Without the chosen header, the peer is the client: no fallback to another header.
        let h = headers(&[("forwarded", "for=1.2.3.4"), ("x-real-ip", "5.6.7.8")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, XFF), ip("10.0.0.1"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_address() {
        let trusted = parse_cidr_list("10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "1.1.1.1, not-an-ip")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, XFF), ip("10.0.0.1"));
        let h = headers(&[]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, XFF), ip("10.0.0.1"));
    }
}
