//! Who is calling: the client address (from the configured headers, `X-Forwarded-For` by
//! default, as in Better Auth; else the socket peer) and the user agent.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header;

use castellan_session::ClientInfo;

/// The client address. A multi-hop `X-Forwarded-For` yields its right-most entry: the address
/// the nearest proxy saw.
#[must_use]
pub fn client_ip(req: &HttpRequest, ip_headers: &[String]) -> Option<IpAddr> {
    for name in ip_headers {
        let Some(value) = req.headers().get(name.as_str()).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let hop = value.rsplit(',').map(str::trim).find(|s| !s.is_empty());
        if let Some(ip) = hop.and_then(|h| h.parse::<IpAddr>().ok()) {
            return Some(ip);
        }
    }
    req.peer_addr().map(|a| a.ip())
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
pub fn client_info(req: &HttpRequest, ip_headers: &[String]) -> ClientInfo {
    ClientInfo {
        ip_address: client_ip(req, ip_headers)
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
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

    fn headers() -> Vec<String> {
        vec!["x-forwarded-for".to_owned()]
    }

    #[test]
    fn forwarded_for_wins_over_the_peer() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "198.18.0.7"))
            .peer_addr("127.0.0.1:9".parse().unwrap())
            .to_http_request();
        assert_eq!(client_ip(&req, &headers()), Some("198.18.0.7".parse().unwrap()));
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "1.1.1.1, 10.0.0.2"))
            .to_http_request();
        assert_eq!(client_ip(&req, &headers()), Some("10.0.0.2".parse().unwrap()));
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "not-an-ip"))
            .peer_addr("127.0.0.1:9".parse().unwrap())
            .to_http_request();
        assert_eq!(client_ip(&req, &headers()), Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn ipv6_is_bucketed_by_slash_64() {
        let a = rate_limit_identity("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = rate_limit_identity("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
    }
}
