//! Where webhooks may go. A webhook URL is a request Castellan makes on a tenant's behalf, so
//! by default it may reach only the public internet: URLs naming a loopback, private or
//! link-local address are refused when registered, and at delivery the resolver drops every
//! such address a name resolves to (so a name re-pointed at the operator's network after
//! registration reaches nothing). `WEBHOOK_ALLOW_PRIVATE_TARGETS=1` lifts this.

use std::net::{IpAddr, SocketAddr};

use castellan_domain::network::{is_local_name, is_non_public};
use url::Url;

/// How long registration waits for a name to resolve before letting it through to delivery's
/// own check.
const RESOLVE_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the URL is not valid: {0}")]
    Invalid(&'static str),
    #[error("the URL names a loopback, private or link-local address")]
    NotPublic,
}

/// Checks a URL's form, and, unless private targets are allowed, that its host is not an
/// address or a name of the local network.
///
/// # Errors
/// See [`TargetError`].
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, TargetError> {
    if raw.len() > MAX_URL_LEN {
        return Err(TargetError::Invalid("longer than 2048 characters"));
    }
    if castellan_domain::has_control(raw) || raw.contains(char::is_whitespace) {
        return Err(TargetError::Invalid("it holds spaces or control characters"));
    }
    let url = Url::parse(raw).map_err(|_| TargetError::Invalid("not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Invalid("only http and https URLs are allowed"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Invalid("credentials in the URL are not allowed"));
    }
    let private = match url.host() {
        Some(url::Host::Ipv4(ip)) => is_non_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_non_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => is_local_name(d),
        None => return Err(TargetError::Invalid("it has no host")),
    };
    if private && !allow_private {
        return Err(TargetError::NotPublic);
    }
    Ok(url)
}

/// Resolves `url`'s host and refuses it when any address is not public (a name that does not
/// resolve yet, or not within a few seconds, is let through: delivery checks again).
///
/// # Errors
/// [`TargetError::NotPublic`].
pub async fn check_resolved(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(());
    };
    let lookup = tokio::net::lookup_host((host, url.port_or_known_default().unwrap_or(443)));
    let Ok(Ok(addrs)) = tokio::time::timeout(RESOLVE_BUDGET, lookup).await else {
        return Ok(());
    };
    if addrs.into_iter().any(|a| is_non_public(a.ip())) {
        return Err(TargetError::NotPublic);
    }
    Ok(())
}

/// The delivery client's resolver: the system's, with non-public addresses removed.
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| !is_non_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(std::io::Error::other("the host resolves to no public address"))
                        as Box<dyn std::error::Error + Send + Sync>,
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_http_urls_are_targets() {
        assert!(check_url("https://hooks.example.com/in", false).is_ok());
        for (url, err) in [
            ("http://127.0.0.1:9/x", TargetError::NotPublic),
            ("http://[::1]/x", TargetError::NotPublic),
            ("http://169.254.169.254/latest/meta-data", TargetError::NotPublic),
            ("http://10.0.0.8/", TargetError::NotPublic),
            ("http://localhost:8080/", TargetError::NotPublic),
            ("http://[::ffff:192.168.0.1]/", TargetError::NotPublic),
        ] {
            assert_eq!(check_url(url, false).unwrap_err(), err, "{url}");
            assert!(check_url(url, true).is_ok(), "{url} with private targets allowed");
        }
        for url in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
            "https://example.com/\r\nX: y",
            "/relative",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(check_url(url, true), Err(TargetError::Invalid(_))),
                "{url}"
            );
        }
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(2048)), false).is_err());
    }
}
