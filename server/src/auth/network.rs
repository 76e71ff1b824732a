//! Where a request comes from, and whether that is allowed.
//!
//! - **Client address**: the TCP peer, unless the peer is a trusted proxy
//!   (`trusted_proxies`, CIDRs): then the right-most address in `X-Forwarded-For` that is not
//!   itself a trusted proxy. An untrusted peer's `X-Forwarded-For` is ignored, so nobody can
//!   pick their own address by sending the header.
//! - **IP allow-lists** per group (B4): one for everyone in the group, and a stricter one that
//!   also applies to its administrators. Empty lists allow any address. Checked at login and on
//!   every request and WebSocket made with a login session (device credentials are not
//!   limited: phones on mobile networks have no fixed addresses).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::state::AppState;

/// The client address as decided by [`resolve_client_ip`], kept in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveIp(pub IpAddr);

/// Parses a list of CIDRs (a bare address is a /32 or /128). The error names the bad entry.
pub fn parse_networks(entries: &[String]) -> Result<Vec<IpNet>, String> {
    entries
        .iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("{entry:?} is not an IP address or a CIDR such as 203.0.113.0/24")
                })
        })
        .collect()
}

/// Whether `ip` is in one of `networks` (an empty list allows everything; an unknown address
/// only an empty list).
pub fn allowed(networks: &[IpNet], ip: Option<IpAddr>) -> bool {
    if networks.is_empty() {
        return true;
    }
    let Some(ip) = ip else {
        return false;
    };
    let ip = match ip {
        // An IPv4 client seen through an IPv6 socket.
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    networks.iter().any(|n| n.contains(&ip))
}

/// The client's address: the peer, or behind trusted proxies the right-most untrusted hop of
/// `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if trusted.is_empty() || !allowed(trusted, Some(peer)) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|hop| !allowed(trusted, Some(**hop)))
        .copied()
        .or_else(|| hops.first().copied())
        .unwrap_or(peer)
}

/// Middleware: records the [`EffectiveIp`] of every request.
pub async fn resolve_client_ip(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let ip = client_ip(peer.ip(), req.headers(), &state.trusted_proxies);
        req.extensions_mut().insert(EffectiveIp(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        parse_networks(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn allow_lists_match_networks_and_mapped_addresses() {
        let list = nets(&["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]);
        assert!(allowed(&list, "203.0.113.9".parse().ok()));
        assert!(allowed(&list, "198.51.100.7".parse().ok()));
        assert!(!allowed(&list, "198.51.100.8".parse().ok()));
        assert!(allowed(&list, "2001:db8::1".parse().ok()));
        assert!(
            allowed(&list, "::ffff:203.0.113.4".parse().ok()),
            "v4-mapped"
        );
        assert!(!allowed(&list, None));
        assert!(allowed(&[], None), "no list, no limit");
        assert!(parse_networks(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_networks(&["example.com".into()]).is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["10.0.0.0/8"]);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.5, 10.0.0.2".parse().unwrap(),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap(),
            "the right-most hop that is not a proxy (the left part is the client's to forge)"
        );
        let outsider: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(
            client_ip(outsider, &headers, &trusted),
            outsider,
            "header ignored"
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(
            client_ip(proxy, &headers, &[]),
            proxy,
            "no trusted proxies configured"
        );
    }
}
