//! An SSO connection as stored in `ssoProvider`: Better Auth's `oidcConfig` / `samlConfig` JSON,
//! read leniently (a JSON string or an object; unknown keys kept), plus how a connection is shown.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use castellan_crypto::keyring::{Keyring, Sealing};
use castellan_crypto::symmetric::SymmetricError;
use castellan_data::entity::sso_provider;

/// The marker of a client secret encrypted at rest (Better Auth stores it in plain text; such
/// rows are still read, and encrypted on their next update).
const ENCRYPTED_PREFIX: &str = "enc:";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcConfig {
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_authentication: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_endpoint: Option<String>,
    #[serde(default = "yes")]
    pub pkce: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_info_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<ClaimMapping>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_user_info: Option<bool>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl OidcConfig {
    /// Where the connection's endpoints are, for the OAuth client.
    #[must_use]
    pub fn registration(&self) -> castellan_oauth::Registration {
        castellan_oauth::Registration {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            authorization_endpoint: self.authorization_endpoint.clone(),
            token_endpoint: self.token_endpoint.clone(),
            jwks_endpoint: self.jwks_endpoint.clone(),
            user_info_endpoint: self.user_info_endpoint.clone(),
            token_auth: castellan_oauth::TokenAuth::from_name(self.token_endpoint_authentication.as_deref()),
        }
    }
}

fn yes() -> bool {
    true
}

/// Which IdP claim (OIDC) or attribute (SAML) holds each profile field.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMapping {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_fields: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamlConfig {
    /// The SP's own entity id (Better Auth's naming).
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub entry_point: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Optional, as in Better Auth 1.7: without it the ACS is `/sso/saml2/sp/acs/{providerId}`
    /// and IdP-initiated logins land on `idpInitiatedCallbackUrl` or `/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_initiated_callback_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idp_metadata: Option<IdpMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub want_assertions_signed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authn_requests_signed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_algorithm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<ClaimMapping>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdpMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    #[serde(rename = "entityID", skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<Value>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl SamlConfig {
    /// The configured IdP signing certificates (PEM or bare base64), `idpMetadata.cert` first.
    #[must_use]
    pub fn configured_certs(&self) -> Vec<String> {
        let from = |v: &Value| match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let metadata_cert = self.idp_metadata.as_ref().and_then(|m| m.cert.as_ref());
        metadata_cert.or(self.cert.as_ref()).map(from).unwrap_or_default()
    }
}

/// A stored connection with its configs parsed.
#[derive(Debug, Clone)]
pub struct Connection {
    pub row: sso_provider::Model,
    pub oidc: Option<OidcConfig>,
    pub saml: Option<SamlConfig>,
}

/// Better Auth's readers accept the config as a JSON string or an already-parsed object.
fn parse_config<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Option<T> {
    let value: Value = serde_json::from_str(raw?).ok()?;
    let value = match value {
        Value::String(inner) => serde_json::from_str(&inner).ok()?,
        other => other,
    };
    if value.is_null() {
        return None;
    }
    serde_json::from_value(value).ok()
}

impl Connection {
    #[must_use]
    pub fn from_row(row: sso_provider::Model) -> Self {
        Self {
            oidc: parse_config(row.oidc_config.as_deref()),
            saml: parse_config(row.saml_config.as_deref()),
            row,
        }
    }

    #[must_use]
    pub fn provider_id(&self) -> &str {
        &self.row.provider_id
    }

    #[must_use]
    pub fn domain_verified(&self) -> bool {
        self.row.domain_verified == Some(true)
    }

    /// The connection's domains (the `domain` column is comma-separated), normalised.
    #[must_use]
    pub fn domains(&self) -> Vec<String> {
        split_domains(&self.row.domain)
    }

    /// Whether `domain` is one of the connection's domains or a subdomain of one.
    #[must_use]
    pub fn covers(&self, domain: &str) -> bool {
        castellan_domain::domains::covers(&self.row.domain, domain)
    }

    #[must_use]
    pub fn kind(&self) -> &'static str {
        if self.saml.is_some() { "saml" } else { "oidc" }
    }

    /// Better Auth's sanitized view (list, get, update): no secrets, no ids.
    #[must_use]
    pub fn sanitized(&self, auth_url: &str) -> Value {
        let mut out = Map::new();
        out.insert("providerId".into(), json!(self.row.provider_id));
        out.insert("type".into(), json!(self.kind()));
        out.insert("issuer".into(), json!(self.row.issuer));
        out.insert("domain".into(), json!(self.row.domain));
        out.insert("organizationId".into(), json!(self.row.organization_id));
        out.insert("domainVerified".into(), json!(self.domain_verified()));
        if let Some(oidc) = &self.oidc {
            let skip = oidc.client_id.chars().count().saturating_sub(4);
            let last_four: String = oidc.client_id.chars().skip(skip).collect();
            let mut o = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            };
            put(
                "discoveryEndpoint",
                oidc.discovery_endpoint.clone().map(Value::from),
            );
            put("clientIdLastFour", Some(json!(format!("****{last_four}"))));
            put("pkce", Some(json!(oidc.pkce)));
            put(
                "authorizationEndpoint",
                oidc.authorization_endpoint.clone().map(Value::from),
            );
            put("tokenEndpoint", oidc.token_endpoint.clone().map(Value::from));
            put(
                "userInfoEndpoint",
                oidc.user_info_endpoint.clone().map(Value::from),
            );
            put("jwksEndpoint", oidc.jwks_endpoint.clone().map(Value::from));
            put("scopes", oidc.scopes.clone().map(|s| json!(s)));
            put(
                "tokenEndpointAuthentication",
                oidc.token_endpoint_authentication.clone().map(Value::from),
            );
            out.insert("oidcConfig".into(), Value::Object(o));
        }
        if let Some(saml) = &self.saml {
            let mut o = Map::new();
            o.insert("entryPoint".into(), json!(saml.entry_point));
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    o.insert(k.into(), v);
                }
            };
            put("callbackUrl", saml.callback_url.clone().map(Value::from));
            put(
                "idpInitiatedCallbackUrl",
                saml.idp_initiated_callback_url.clone().map(Value::from),
            );
            put("audience", saml.audience.clone().map(Value::from));
            put(
                "wantAssertionsSigned",
                saml.want_assertions_signed.map(Value::from),
            );
            put("authnRequestsSigned", saml.authn_requests_signed.map(Value::from));
            put(
                "identifierFormat",
                saml.identifier_format.clone().map(Value::from),
            );
            put(
                "signatureAlgorithm",
                saml.signature_algorithm.clone().map(Value::from),
            );
            put("digestAlgorithm", saml.digest_algorithm.clone().map(Value::from));
            let certificates: Vec<Value> = saml
                .configured_certs()
                .iter()
                .map(|pem| crate::certificates::describe_certificate(pem))
                .collect();
            o.insert("certificate".into(), Value::Array(certificates));
            out.insert("samlConfig".into(), Value::Object(o));
        }
        out.insert(
            "spMetadataUrl".into(),
            json!(format!(
                "{auth_url}/sso/saml2/sp/metadata?providerId={}",
                url::form_urlencoded::byte_serialize(self.row.provider_id.as_bytes()).collect::<String>()
            )),
        );
        Value::Object(out)
    }

    /// The stored row as Better Auth's register endpoint returns it (secrets included, as there:
    /// the caller just sent them).
    #[must_use]
    pub fn registered(&self, auth_url: &str, client_secret: Option<&str>) -> Value {
        let mut oidc = self.oidc.clone();
        if let (Some(o), Some(secret)) = (oidc.as_mut(), client_secret) {
            secret.clone_into(&mut o.client_secret);
        }
        json!({
            "issuer": self.row.issuer,
            "oidcConfig": oidc,
            "samlConfig": self.saml,
            "userId": self.row.user_id,
            "providerId": self.row.provider_id,
            "organizationId": self.row.organization_id,
            "domain": self.row.domain,
            "domainVerified": self.domain_verified(),
            "id": self.row.id,
            "redirectURI": format!("{auth_url}/sso/callback/{}", self.row.provider_id),
        })
    }
}

/// `a.com, B.com` → `["a.com", "b.com"]`; URLs and ports are reduced to their host.
#[must_use]
pub fn split_domains(list: &str) -> Vec<String> {
    castellan_domain::domains::split(list)
}

/// Encrypts an OIDC client secret for storage.
///
/// # Errors
/// The cipher failed.
pub fn seal_secret(secrets: &Keyring, plain: &str) -> Result<String, SymmetricError> {
    Ok(format!("{ENCRYPTED_PREFIX}{}", secrets.encrypt(plain)?))
}

/// The plain client secret of a stored config (a Better Auth row holds it in plain text).
///
/// # Errors
/// An encrypted secret that does not decrypt with this deployment's secret.
pub fn open_secret(secrets: &Keyring, stored: &str) -> Result<String, SymmetricError> {
    match stored.strip_prefix(ENCRYPTED_PREFIX) {
        Some(envelope) => secrets.decrypt(envelope),
        None => Ok(stored.to_owned()),
    }
}

/// The stored form's sealing, for re-encryption after a rotation: a plain (Better Auth) secret
/// counts as current, since nothing opens it with a key.
#[must_use]
pub fn secret_sealing(secrets: &Keyring, stored: &str) -> Sealing {
    match stored.strip_prefix(ENCRYPTED_PREFIX) {
        Some(envelope) => secrets.sealing(envelope),
        None => Sealing::Current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_and_subdomains_match() {
        assert_eq!(
            split_domains(" Example.com, https://corp.test:8443/x ,"),
            vec!["example.com", "corp.test"]
        );
    }

    #[test]
    fn configs_are_read_from_a_json_string_or_object() {
        let object = r#"{"clientId":"abc","clientSecret":"s","issuer":"https://idp"}"#;
        let string = serde_json::to_string(object).unwrap();
        for raw in [object, string.as_str()] {
            let cfg: OidcConfig = parse_config(Some(raw)).unwrap();
            assert_eq!(cfg.client_id, "abc");
            assert!(cfg.pkce, "pkce defaults to on");
        }
        assert!(parse_config::<OidcConfig>(Some("null")).is_none());
    }

    #[test]
    fn secrets_round_trip_and_plain_legacy_secrets_are_read() {
        let app = Keyring::single("app-secret");
        let sealed = seal_secret(&app, "client-secret").unwrap();
        assert!(sealed.starts_with("enc:"));
        assert!(!sealed.contains("client-secret"));
        assert_eq!(open_secret(&app, &sealed).unwrap(), "client-secret");
        assert!(open_secret(&Keyring::single("other-secret"), &sealed).is_err());
        assert_eq!(open_secret(&app, "legacy").unwrap(), "legacy");
        assert_eq!(secret_sealing(&app, "legacy"), Sealing::Current);
        let rotated = Keyring::parse(Some("2:new-secret"), Some("app-secret")).unwrap();
        assert_eq!(secret_sealing(&rotated, &sealed), Sealing::Earlier);
        assert_eq!(open_secret(&rotated, &sealed).unwrap(), "client-secret");
    }
}
