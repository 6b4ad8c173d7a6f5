//! Who is calling: the client address and the user agent. Forwarding headers
//! (`X-Forwarded-For` by default) are believed only from the configured trusted proxies, and
//! then only up to the right-most hop that is not one of them: everything left of it was
//! written by the client and proves nothing.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;

use castellan_config::RateLimitSettings;
use castellan_session::ClientInfo;

/// The client address: the socket peer, or, when the peer is a trusted proxy, the right-most
/// untrusted hop of the first forwarding header present (the left-most hop if every hop is a
/// trusted proxy; the last trusted hop if the next one is not an address).
#[must_use]
pub fn client_ip(req: &HttpRequest, trust: &RateLimitSettings) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip().to_canonical())?;
    let trusted = |ip: &IpAddr| trust.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let Some(value) = trust
        .ip_headers
        .iter()
        .find_map(|name| req.headers().get(name.as_str()).and_then(|v| v.to_str().ok()))
    else {
        return Some(peer);
    };
    let mut client = peer;
    for hop in value.rsplit(',').map(str::trim).filter(|h| !h.is_empty()) {
        let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// The rate-limit identity of an address: IPv4 as is, IPv6 reduced to its /64, as Better Auth does.
#[must_use]
pub fn rate_limit_identity(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[must_use]
pub fn client_info(req: &HttpRequest, trust: &RateLimitSettings) -> ClientInfo {
    ClientInfo {
        ip_address: client_ip(req, trust).map(|ip| ip.to_string()).unwrap_or_default(),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn trust(proxies: &str) -> RateLimitSettings {
        RateLimitSettings {
            enabled: true,
            ip_headers: vec!["x-forwarded-for".to_owned()],
            trusted_proxies: castellan_config::parse_proxies(proxies).unwrap(),
        }
    }

    fn from(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:9").parse().unwrap());
        if let Some(v) = xff {
            req = req.insert_header(("x-forwarded-for", v));
        }
        req.to_http_request()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarding_headers_are_ignored_by_default() {
        let req = from("203.0.113.9", Some("198.18.0.7"));
        assert_eq!(client_ip(&req, &trust("")), ip("203.0.113.9"));
    }

    #[test]
    fn an_untrusted_peer_cannot_pick_its_address() {
        let req = from("203.0.113.9", Some("198.18.0.7"));
        assert_eq!(client_ip(&req, &trust("10.0.0.0/8")), ip("203.0.113.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() {
        let t = trust("10.0.0.0/8, 127.0.0.1");
        // The client prepended a forged hop; the proxies appended what they saw.
        let req = from("127.0.0.1", Some("6.6.6.6, 198.18.0.7, 10.1.2.3"));
        assert_eq!(client_ip(&req, &t), ip("198.18.0.7"));
        // Every hop a proxy: the left-most one.
        let req = from("127.0.0.1", Some("10.0.0.5, 10.0.0.6"));
        assert_eq!(client_ip(&req, &t), ip("10.0.0.5"));
        // No header: the proxy itself.
        assert_eq!(client_ip(&from("10.9.9.9", None), &t), ip("10.9.9.9"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let t = trust("10.0.0.0/8");
        let req = from("10.0.0.1", Some("not-an-ip, 10.0.0.2"));
        assert_eq!(client_ip(&req, &t), ip("10.0.0.2"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let req = from("[::ffff:10.0.0.1]", Some("198.18.0.7"));
        assert_eq!(client_ip(&req, &trust("10.0.0.0/8")), ip("198.18.0.7"));
    }

    #[test]
    fn ipv6_is_bucketed_by_slash_64() {
        let a = rate_limit_identity("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = rate_limit_identity("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
    }
}
