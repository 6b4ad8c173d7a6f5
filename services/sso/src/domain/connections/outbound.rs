//! Which IdP URLs Castellan will fetch: public addresses only, unless the origin is trusted (a private IdP on the operator's own network).

use std::net::IpAddr;

use castellan_domain::network::{is_local_name, is_non_public};

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
            Some(url::Host::Ipv4(ip)) => is_non_public(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => is_non_public(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => is_local_name(d),
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
