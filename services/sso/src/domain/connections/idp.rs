//! Reading the IdP: SAML metadata by URL, OIDC discovery, and what each fills into a connection.

use serde_json::Value;

use super::*;
use crate::domain::SsoService;
use crate::error::SsoResult;
use crate::provider::{OidcConfig, SamlConfig};

impl SsoService {
    /// `idpMetadata.metadataUrl` (Castellan's addition): the IdP metadata is fetched once and
    /// stored as `idpMetadata.metadata`, so logins never depend on the URL answering.
    pub(super) async fn fetch_idp_metadata(&self, cfg: &mut SamlConfig) -> SsoResult<()> {
        let Some(idp) = cfg.idp_metadata.as_mut() else {
            return Ok(());
        };
        let Some(url) = idp
            .other
            .get("metadataUrl")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Ok(());
        };
        if idp.metadata.is_none() {
            self.check_fetchable(&url)?;
            idp.metadata = Some(
                self.outbound
                    .rp
                    .fetch_document(&url, crate::saml::MAX_METADATA_BYTES)
                    .await?,
            );
        }
        Ok(())
    }

    /// Discovery (unless every endpoint is given) and the endpoint policy.
    pub(super) async fn prepare_oidc(&self, cfg: &mut OidcConfig) -> SsoResult<()> {
        if cfg.client_id.is_empty() {
            return Err(invalid(
                "[body.oidcConfig.clientId] Invalid input: expected string, received undefined",
            ));
        }
        if cfg.client_secret.is_empty() {
            return Err(invalid("clientSecret is required"));
        }
        if let Some(mapping) = &cfg.mapping
            && mapping.id.is_some()
        {
            return Err(invalid("The subject (id) cannot be remapped"));
        }
        for url in [
            &cfg.authorization_endpoint,
            &cfg.token_endpoint,
            &cfg.user_info_endpoint,
            &cfg.jwks_endpoint,
            &cfg.discovery_endpoint,
        ]
        .into_iter()
        .flatten()
        {
            self.check_fetchable(url)?;
        }
        let complete = cfg.authorization_endpoint.is_some()
            && cfg.token_endpoint.is_some()
            && cfg.jwks_endpoint.is_some();
        let skip = cfg.other.get("skipDiscovery").and_then(Value::as_bool) == Some(true);
        if !(complete || skip) {
            let discovery_url = cfg.discovery_endpoint.clone().unwrap_or_else(|| {
                format!(
                    "{}/.well-known/openid-configuration",
                    cfg.issuer.trim_end_matches('/')
                )
            });
            self.check_fetchable(&discovery_url)?;
            let found = self
                .outbound
                .rp
                .discover(&cfg.issuer, Some(&discovery_url))
                .await?;
            for url in [
                &found.authorization_endpoint,
                &found.token_endpoint,
                &found.jwks_endpoint,
            ]
            .into_iter()
            .chain(found.user_info_endpoint.as_ref())
            {
                self.check_fetchable(url)?;
            }
            cfg.discovery_endpoint = Some(discovery_url);
            cfg.authorization_endpoint
                .get_or_insert(found.authorization_endpoint);
            cfg.token_endpoint.get_or_insert(found.token_endpoint);
            cfg.jwks_endpoint.get_or_insert(found.jwks_endpoint);
            if cfg.user_info_endpoint.is_none() {
                cfg.user_info_endpoint = found.user_info_endpoint;
            }
            cfg.token_endpoint_authentication
                .get_or_insert(found.token_endpoint_authentication);
        }
        match cfg.token_endpoint_authentication.as_deref() {
            None => cfg.token_endpoint_authentication = Some("client_secret_basic".to_owned()),
            Some("client_secret_basic" | "client_secret_post") => {}
            Some(other) => {
                return Err(invalid(format!(
                    "tokenEndpointAuthentication {other:?} is not supported (client_secret_basic or client_secret_post)"
                )));
            }
        }
        cfg.override_user_info.get_or_insert(false);
        Ok(())
    }
}
