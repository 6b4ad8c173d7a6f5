//! Which IdP URLs Castellan will fetch: public addresses only, unless the origin is trusted (a private IdP on the operator's own network).

use std::net::IpAddr;

use crate::domain::SsoService;
use crate::error::{Kind, SsoError, SsoResult};

impl SsoService {
    fn idp_origins(&self) -> castellan_domain::origins::TrustedOrigins {
        let extra: Vec<String> = self
            .settings
            .trusted_origins
            .iter()
            .chain(&self.settings.sso.trusted_idp_origins)
            .cloned()
            .collect();
        castellan_domain::origins::TrustedOrigins::new(self.settings.origin(), &extra)
    }

    /// IdP endpoints are fetched server-side: they must be http(s), and a loopback, private or
    /// link-local host only when its origin is trusted (`SSO_TRUSTED_IDP_ORIGINS`).
    pub(crate) fn check_fetchable(&self, url: &str) -> SsoResult<()> {
        let parsed = url::Url::parse(url).map_err(|_| {
            SsoError::coded(
                Kind::Invalid,
                "discovery_invalid_url",
                format!("Invalid URL: {url}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SsoError::coded(
                Kind::Invalid,
                "discovery_invalid_url",
                format!("Only http(s) URLs are allowed: {url}"),
            ));
        }
        let private = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => {
                let d = d.to_ascii_lowercase();
                d == "localhost"
                    || d.ends_with(".localhost")
                    || d.ends_with(".internal")
                    || d.ends_with(".local")
            }
            None => true,
        };
        if private && !self.idp_origins().trusts_url(url) {
            return Err(SsoError::coded(
                Kind::Invalid,
                "discovery_private_host",
                format!("{url} is not a public host; add its origin to SSO_TRUSTED_IDP_ORIGINS"),
            ));
        }
        Ok(())
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}
