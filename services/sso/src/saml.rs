//! The SAML 2.0 service provider, on `samael` with xmlsec. XML signatures are verified by xmlsec
//! through samael only; this module adds what samael leaves to its caller: refusing IdP
//! configurations without a signing certificate (samael would accept unsigned responses),
//! exactly-one-assertion, a mandatory audience, the status, size limits, and the identity
//! extraction. InResponseTo bookkeeping and replay protection live in the login flow.

use std::time::Duration;

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::schema::Assertion;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use serde_json::Value;

use crate::certificates::certificate_der;
use crate::error::{Kind, LoginFailure, SsoError, SsoResult};
use crate::provider::SamlConfig;

/// Largest SAMLResponse accepted at the ACS (Better Auth's `maxResponseSize`).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Largest IdP metadata document accepted at registration (Better Auth's `maxMetadataSize`).
pub const MAX_METADATA_BYTES: usize = 100 * 1024;

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Signature algorithms accepted on responses and assertions: no SHA-1.
const ALLOWED_ALGORITHMS: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

fn invalid(code: &'static str, message: impl Into<String>) -> SsoError {
    SsoError::coded(Kind::Invalid, code, message.into())
}

/// The IdP a connection trusts: its entity id, SSO endpoint and signing certificates.
#[derive(Debug, Clone)]
pub struct TrustedIdp {
    pub entity_id: String,
    pub sso_url: String,
    metadata: EntityDescriptor,
}

impl TrustedIdp {
    /// From the connection's IdP metadata XML, or from its entity id, entry point and
    /// certificates. A configuration without a usable signing certificate is refused: samael
    /// would accept unsigned responses from it.
    ///
    /// # Errors
    /// 400 `CERT_SOURCE_MISSING`, `SAML_INVALID_METADATA` or an invalid entry point.
    pub fn from_config(cfg: &SamlConfig) -> SsoResult<Self> {
        let configured_certs = cfg.configured_certs();
        let metadata_xml = cfg.idp_metadata.as_ref().and_then(|m| m.metadata.clone());
        let xml = match metadata_xml {
            Some(xml) if !configured_certs.is_empty() => {
                // Explicit certificates win over the metadata's (Better Auth's rule).
                let parsed = parse_metadata(&xml)?;
                let entity_id = parsed.entity_id.clone().unwrap_or_default();
                let sso = redirect_sso_location(&parsed).unwrap_or_else(|| cfg.entry_point.clone());
                manual_metadata(&entity_id, &sso, &configured_certs)?
            }
            Some(xml) => xml,
            None => {
                let entity_id = cfg
                    .idp_metadata
                    .as_ref()
                    .and_then(|m| m.entity_id.clone())
                    .ok_or_else(|| {
                        invalid(
                            "SAML_INVALID_METADATA",
                            "idpMetadata.metadata or idpMetadata.entityID is required",
                        )
                    })?;
                manual_metadata(&entity_id, &cfg.entry_point, &configured_certs)?
            }
        };
        let metadata = parse_metadata(&xml)?;
        let entity_id = metadata
            .entity_id
            .clone()
            .filter(|e| !e.is_empty())
            .ok_or_else(|| invalid("SAML_INVALID_METADATA", "The IdP metadata has no entityID"))?;
        let probe = ServiceProvider {
            idp_metadata: metadata.clone(),
            ..ServiceProvider::default()
        };
        match probe.idp_signing_certs() {
            Ok(Some(certs)) if !certs.is_empty() => {}
            _ => {
                return Err(invalid(
                    "CERT_SOURCE_MISSING",
                    "A signing certificate for the IdP is required (cert or idpMetadata with a signing KeyDescriptor)",
                ));
            }
        }
        let sso_url = redirect_sso_location(&metadata)
            .or_else(|| (!cfg.entry_point.is_empty()).then(|| cfg.entry_point.clone()))
            .ok_or_else(|| {
                invalid(
                    "SAML_INVALID_METADATA",
                    "The IdP has no HTTP-Redirect SSO endpoint",
                )
            })?;
        url::Url::parse(&sso_url).map_err(|_| invalid("SAML_INVALID_METADATA", "Invalid entryPoint"))?;
        Ok(Self {
            entity_id,
            sso_url,
            metadata,
        })
    }
}

fn parse_metadata(xml: &str) -> SsoResult<EntityDescriptor> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(invalid("SAML_METADATA_TOO_LARGE", "IdP metadata is too large"));
    }
    xml.parse::<EntityDescriptor>().map_err(|_| {
        invalid(
            "SAML_INVALID_METADATA",
            "IdP metadata is not a valid EntityDescriptor",
        )
    })
}

/// The HTTP-Redirect SSO endpoint of IdP metadata given as XML; `None` when it has none or is
/// not metadata.
pub(crate) fn redirect_sso_location_in(xml: &str) -> Option<String> {
    redirect_sso_location(&parse_metadata(xml).ok()?)
}

fn redirect_sso_location(metadata: &EntityDescriptor) -> Option<String> {
    metadata
        .idp_sso_descriptors
        .iter()
        .flatten()
        .flat_map(|d| d.single_sign_on_services.iter())
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.clone())
}

fn manual_metadata(entity_id: &str, sso_url: &str, certs: &[String]) -> SsoResult<String> {
    if certs.is_empty() {
        return Err(invalid(
            "CERT_SOURCE_MISSING",
            "A signing certificate for the IdP is required (cert or idpMetadata.cert)",
        ));
    }
    let mut keys = String::new();
    for cert in certs {
        let der = certificate_der(cert)
            .ok_or_else(|| invalid("SAML_INVALID_CERTIFICATE", "The IdP certificate cannot be parsed"))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        keys.push_str(&format!(
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        ));
    }
    Ok(format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="{HTTP_REDIRECT_BINDING}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        quick_xml::escape::escape(entity_id),
        quick_xml::escape::escape(sso_url)
    ))
}

/// The SP side of one connection.
#[derive(Debug, Clone)]
pub struct ServiceProviderConfig {
    /// The SP entity id (Better Auth's `samlConfig.issuer`, or `spMetadata.entityID`).
    pub entity_id: String,
    pub acs_url: String,
    /// An audience accepted besides the entity id (`samlConfig.audience`).
    pub audience: Option<String>,
    pub name_id_format: String,
    pub clock_skew: Duration,
    pub want_assertions_signed: bool,
    /// The SP's own key and certificate, when the connection signs its AuthnRequests.
    pub signing: Option<SpSigning>,
}

/// The key an SP signs its AuthnRequests with (`samlConfig.privateKey`), and the certificate its
/// metadata publishes for it (`samlConfig.spMetadata.cert`).
#[derive(Clone)]
pub struct SpSigning {
    pub key: openssl::pkey::PKey<openssl::pkey::Private>,
    pub certificate: Option<Vec<u8>>,
}

impl std::fmt::Debug for SpSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpSigning")
            .field("key", &"<redacted>")
            .field("certificate", &self.certificate.is_some())
            .finish()
    }
}

impl SpSigning {
    /// Reads a PEM private key (RSA or EC, as samael signs with) and an optional certificate.
    ///
    /// # Errors
    /// 400 when the key or the certificate cannot be read, or the key is of another kind.
    pub fn from_pem(private_key: &str, certificate: Option<&str>) -> SsoResult<Self> {
        let unreadable = || {
            invalid(
                "SAML_INVALID_PRIVATE_KEY",
                "samlConfig.privateKey must be a PEM RSA or EC private key",
            )
        };
        let key = openssl::pkey::PKey::private_key_from_pem(private_key.trim().as_bytes())
            .map_err(|_| unreadable())?;
        if key.rsa().is_err() && key.ec_key().is_err() {
            return Err(unreadable());
        }
        let certificate = certificate
            .map(|pem| {
                certificate_der(pem).ok_or_else(|| {
                    invalid(
                        "SAML_INVALID_CERTIFICATE",
                        "samlConfig.spMetadata.cert cannot be parsed",
                    )
                })
            })
            .transpose()?;
        Ok(Self { key, certificate })
    }
}

impl ServiceProviderConfig {
    /// The SP metadata document this connection publishes, from samael's `metadata()`: no
    /// single-logout endpoint and no expiry (neither is offered), Better Auth's
    /// `WantAssertionsSigned` / `AuthnRequestsSigned`, and the signing certificate when there is
    /// one.
    ///
    /// # Errors
    /// samael could not build or serialise the document.
    pub fn metadata_xml(&self) -> SsoResult<String> {
        use samael::traits::ToXml as _;
        let sp = ServiceProviderBuilder::default()
            .entity_id(Some(self.entity_id.clone()))
            .acs_url(Some(self.acs_url.clone()))
            // samael requires one; the endpoint is removed below.
            .slo_url(Some(self.acs_url.clone()))
            .certificate(
                self.signing
                    .as_ref()
                    .and_then(|s| s.certificate.clone())
                    .map(samael::crypto::CertificateDer::from),
            )
            .build()
            .map_err(SsoError::internal)?;
        let mut descriptor = sp.metadata().map_err(|e| SsoError::internal(e.to_string()))?;
        descriptor.valid_until = None;
        for sp_descriptor in descriptor.sp_sso_descriptors.iter_mut().flatten() {
            sp_descriptor.valid_until = None;
            sp_descriptor.single_logout_services = None;
            sp_descriptor.want_assertions_signed = Some(self.want_assertions_signed);
            sp_descriptor.authn_requests_signed = Some(self.signing.is_some());
            sp_descriptor.name_id_formats = Some(vec![self.name_id_format.clone()]);
            // Only the signing use: nothing is encrypted to this SP.
            if let Some(keys) = sp_descriptor.key_descriptors.as_mut() {
                keys.retain(|k| k.encryption_methods.is_none());
            }
        }
        let xml = descriptor
            .to_string()
            .map_err(|e| SsoError::internal(format!("{e:?}")))?;
        // samael writes the XML declaration itself.
        Ok(if xml.starts_with("<?xml") {
            xml
        } else {
            format!(r#"<?xml version="1.0" encoding="UTF-8"?>{xml}"#)
        })
    }

    fn provider(&self, idp: &TrustedIdp, idp_initiated: bool) -> SsoResult<ServiceProvider> {
        let skew = chrono::Duration::from_std(self.clock_skew).map_err(SsoError::internal)?;
        ServiceProviderBuilder::default()
            .entity_id(Some(self.entity_id.clone()))
            .acs_url(Some(self.acs_url.clone()))
            .idp_metadata(idp.metadata.clone())
            .authn_name_id_format(Some(self.name_id_format.clone()))
            .allow_idp_initiated(idp_initiated)
            .max_clock_skew(skew)
            // How old a response may be when it arrives: the user's trip from IdP to ACS.
            .max_issue_delay(skew + chrono::Duration::minutes(3))
            .allowed_signature_algorithms(Some(ALLOWED_ALGORITHMS.to_vec()))
            .build()
            .map_err(SsoError::internal)
    }

    /// An AuthnRequest for the IdP, by the HTTP-Redirect binding: its id and the URL.
    ///
    /// # Errors
    /// The request could not be serialised.
    pub fn authn_request(&self, idp: &TrustedIdp, relay_state: &str) -> SsoResult<(String, String)> {
        let sp = self.provider(idp, false)?;
        let mut request = sp
            .make_authentication_request(&idp.sso_url)
            .map_err(|e| SsoError::internal(e.to_string()))?;
        request.id = format!("_{}", castellan_crypto::random::alphanumeric(32));
        let url = match &self.signing {
            // The HTTP-Redirect binding's detached signature: `SigAlg` and `Signature` over the
            // query, by the SP's key.
            Some(signing) => request.signed_redirect(relay_state, &signing.key),
            None => request.redirect(relay_state),
        }
        .map_err(|e| SsoError::internal(e.to_string()))?
        .ok_or_else(|| SsoError::internal("AuthnRequest without destination"))?;
        Ok((request.id, url.to_string()))
    }

    /// Validates a posted SAMLResponse: the signature (xmlsec, algorithm allow-list), exactly
    /// one assertion, status, Destination, Recipient, Audience, Issuer, time bounds and
    /// InResponseTo (`expected_request` names the request it must answer; `None` accepts an
    /// unsolicited response, which the caller allows only where configured).
    ///
    /// # Errors
    /// A [`LoginFailure`] naming the first check that failed.
    pub fn validate(
        &self,
        idp: &TrustedIdp,
        encoded: &str,
        expected_request: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ValidatedAssertion, LoginFailure> {
        let xml = decode_response(encoded)?;
        let shape = inspect(&xml)?;
        if shape.status.as_deref().is_some_and(|s| s != STATUS_SUCCESS) {
            return Err(LoginFailure::new(
                "saml_status_failure",
                format!("the IdP reported {}", shape.status.unwrap_or_default()),
            ));
        }
        match shape.assertions {
            0 => {
                return Err(LoginFailure::new(
                    "invalid_saml_response",
                    "SAML_NO_ASSERTION: the response has no assertion",
                ));
            }
            1 => {}
            _ => {
                return Err(LoginFailure::new(
                    "invalid_saml_response",
                    "SAML_MULTIPLE_ASSERTIONS: the response carries more than one assertion",
                ));
            }
        }
        let sp = self
            .provider(idp, expected_request.is_none())
            .map_err(|_| LoginFailure::new("invalid_saml_response", "SP configuration error"))?;
        let ids: Vec<&str> = expected_request.into_iter().collect();
        let verdict = sp.parse_xml_response(&xml, Some(&ids));
        // xmlsec leaves its failures on OpenSSL's per-thread error queue. Left there, they make
        // the next TLS read on this worker thread (Postgres over TLS, an IdP) fail as if the
        // connection broke.
        drop(openssl::error::ErrorStack::get());
        let assertion = verdict.map_err(rejected_by_samael)?;
        self.check_audience(&assertion)?;
        ValidatedAssertion::from_assertion(assertion, self.clock_skew, now)
    }

    /// samael checks the audience only when the assertion restricts it; Castellan requires the
    /// restriction and that it names this SP.
    fn check_audience(&self, assertion: &Assertion) -> Result<(), LoginFailure> {
        let audiences: Vec<&str> = assertion
            .conditions
            .iter()
            .flat_map(|c| c.audience_restrictions.iter().flatten())
            .flat_map(|r| r.audience.iter().map(String::as_str))
            .collect();
        if audiences.is_empty() {
            return Err(LoginFailure::new(
                "invalid_saml_response",
                "SAML_AUDIENCE_MISSING: the assertion names no audience",
            ));
        }
        let ours = |a: &&str| *a == self.entity_id || self.audience.as_deref() == Some(*a);
        if !audiences.iter().any(ours) {
            return Err(LoginFailure::new(
                "invalid_saml_response",
                format!("SAML_AUDIENCE_MISMATCH: the assertion is for {audiences:?}"),
            ));
        }
        Ok(())
    }
}

/// The request a response claims to answer (unverified: only for finding the request).
///
/// # Errors
/// A response that is not base64-encoded, well-formed XML.
pub fn claimed_request_id(encoded: &str) -> Result<Option<String>, LoginFailure> {
    Ok(inspect(&decode_response(encoded)?)?.in_response_to)
}

/// samael's verdicts in words an IT admin can act on, with Better Auth's codes where it has them.
fn rejected_by_samael(e: samael::service_provider::Error) -> LoginFailure {
    use samael::service_provider::Error as E;
    let text = |s: Option<String>| s.unwrap_or_else(|| "none".to_owned());
    let reason = match e {
        E::FailedToValidateSignature => {
            "SAML_SIGNATURE_INVALID: no valid signature by the IdP's configured certificate (unsigned, \
             altered, signed by another key or with a disallowed algorithm)"
                .to_owned()
        }
        E::DestinationValidationError {
            response_destination, ..
        } => format!(
            "SAML_DESTINATION_MISMATCH: the response is addressed to {}",
            text(response_destination)
        ),
        E::AssertionRecipientMismatch {
            assertion_recipient, ..
        } => format!(
            "SAML_RECIPIENT_MISMATCH: the assertion is for recipient {}",
            text(assertion_recipient)
        ),
        E::ResponseIssuerMismatch { issuer, .. } | E::AssertionIssuerMismatch { issuer, .. } => {
            format!(
                "SAML_ISSUER_MISMATCH: issued by {}, not the configured IdP",
                text(issuer)
            )
        }
        E::AssertionConditionAudienceRestrictionFailed { .. } => {
            "SAML_AUDIENCE_MISMATCH: the assertion is meant for another service provider".to_owned()
        }
        E::ResponseInResponseToInvalid { .. } | E::AssertionInResponseToInvalid { .. } => {
            "SAML_IN_RESPONSE_TO_MISMATCH: the response answers another request".to_owned()
        }
        E::ResponseExpired { time }
        | E::AssertionExpired { time }
        | E::AssertionConditionExpired { time }
        | E::AssertionSubjectConfirmationExpired { time } => format!("SAML_EXPIRED: valid until {time}"),
        E::AssertionConditionExpiredBefore { time }
        | E::AssertionSubjectConfirmationExpiredBefore { time } => {
            format!("SAML_NOT_YET_VALID: not valid before {time}")
        }
        E::ResponseBadStatusCode { code } => format!("SAML_STATUS_FAILURE: the IdP reported {code}"),
        other => format!("SAML_RESPONSE_INVALID: {other}"),
    };
    LoginFailure::new("invalid_saml_response", reason)
}

fn decode_response(encoded: &str) -> Result<String, LoginFailure> {
    if encoded.len() > MAX_RESPONSE_BYTES {
        return Err(LoginFailure::new(
            "invalid_saml_response",
            "SAMLResponse is too large",
        ));
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| {
            LoginFailure::new(
                "invalid_saml_response",
                "SAML_INVALID_ENCODING: SAMLResponse is not base64",
            )
        })?;
    String::from_utf8(bytes).map_err(|_| {
        LoginFailure::new(
            "invalid_saml_response",
            "SAML_INVALID_ENCODING: SAMLResponse is not UTF-8",
        )
    })
}

/// What a raw scan of the document shows before any signature is checked.
struct Shape {
    assertions: usize,
    status: Option<String>,
    in_response_to: Option<String>,
}

fn inspect(xml: &str) -> Result<Shape, LoginFailure> {
    let bad_xml = || {
        LoginFailure::new(
            "invalid_saml_response",
            "SAML_INVALID_XML: SAMLResponse is not well-formed XML",
        )
    };
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut shape = Shape {
        assertions: 0,
        status: None,
        in_response_to: None,
    };
    let mut depth = 0usize;
    let mut in_status = false;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|_| bad_xml())?;
        let element = match &event {
            Event::Start(e) | Event::Empty(e) => Some(e.clone()),
            Event::DocType(_) => return Err(bad_xml()),
            Event::Eof => break,
            _ => None,
        };
        if let Some(e) = element {
            let local = e.local_name();
            let in_ns = |want: &[u8]| matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == want);
            if depth == 0 {
                shape.in_response_to = e.try_get_attribute("InResponseTo").ok().flatten().and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned())
                });
            }
            if in_ns(ASSERTION_NS) && matches!(local.as_ref(), b"Assertion" | b"EncryptedAssertion") {
                shape.assertions += 1;
            }
            if depth == 1 && in_ns(PROTOCOL_NS) && local.as_ref() == b"Status" {
                in_status = true;
            }
            if in_status && shape.status.is_none() && in_ns(PROTOCOL_NS) && local.as_ref() == b"StatusCode" {
                shape.status = e.try_get_attribute("Value").ok().flatten().and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned())
                });
            }
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth <= 1 {
                    in_status = false;
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(bad_xml());
    }
    Ok(shape)
}

/// A validated assertion's identity and bookkeeping.
#[derive(Debug, Clone)]
pub struct ValidatedAssertion {
    pub assertion_id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    /// Attribute name → values.
    pub attributes: serde_json::Map<String, Value>,
    /// Until when the assertion id must be remembered to refuse a replay.
    pub replay_window: Duration,
}

impl ValidatedAssertion {
    fn from_assertion(
        assertion: Assertion,
        skew: Duration,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, LoginFailure> {
        let subject = assertion.subject.as_ref();
        let name_id = subject
            .and_then(|s| s.name_id.as_ref())
            .ok_or_else(|| LoginFailure::new("invalid_saml_response", "the assertion has no NameID"))?;
        let mut attributes = serde_json::Map::new();
        for statement in assertion.attribute_statements.iter().flatten() {
            for attribute in &statement.attributes {
                let Some(name) = attribute.name.clone().or_else(|| attribute.friendly_name.clone()) else {
                    continue;
                };
                let values: Vec<Value> = attribute
                    .values
                    .iter()
                    .filter_map(|v| v.value.clone().map(Value::String))
                    .collect();
                attributes.insert(name, Value::Array(values));
            }
        }
        let latest = assertion
            .conditions
            .as_ref()
            .and_then(|c| c.not_on_or_after)
            .unwrap_or(now + chrono::Duration::minutes(15));
        let window = (latest - now).to_std().unwrap_or_default() + skew;
        Ok(Self {
            assertion_id: assertion.id.clone(),
            name_id: name_id.value.trim().to_owned(),
            name_id_format: name_id.format.clone(),
            attributes,
            replay_window: window,
        })
    }

    /// The first value of an attribute.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .and_then(|v| v.as_array())
            .and_then(|v| v.first())
            .and_then(Value::as_str)
    }

    /// Whether the NameID is an email address by format.
    #[must_use]
    pub fn name_id_is_email(&self) -> bool {
        self.name_id_format.as_deref() == Some(EMAIL_FORMAT)
    }
}

/// The NameID format asked for when a connection names none.
#[must_use]
pub fn default_name_id_format() -> String {
    EMAIL_FORMAT.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_counts_assertions_anywhere_and_reads_the_status() {
        let xml = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"/></samlp:Status><saml:Assertion ID="a"><saml:Subject><saml:SubjectConfirmation><saml:SubjectConfirmationData><saml:Assertion ID="b"/></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject></saml:Assertion></samlp:Response>"#;
        let shape = inspect(xml).unwrap();
        assert_eq!(shape.assertions, 2);
        assert_eq!(
            shape.status.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:status:Responder")
        );
    }

    #[test]
    fn inspect_refuses_broken_xml_and_doctypes() {
        assert!(inspect("<a><b></a>").is_err());
        assert!(inspect(r#"<!DOCTYPE x [<!ENTITY e "x">]><a/>"#).is_err());
    }

    #[test]
    fn metadata_without_a_signing_certificate_is_refused() {
        let cfg = SamlConfig {
            entry_point: "https://idp.example/sso".into(),
            idp_metadata: Some(crate::provider::IdpMetadata {
                metadata: Some(
                    r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#.into(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = TrustedIdp::from_config(&cfg).unwrap_err();
        assert!(
            matches!(
                err,
                SsoError::Rejected(castellan_domain::Refusal {
                    code: Some("CERT_SOURCE_MISSING"),
                    ..
                })
            ),
            "{err:?}"
        );
    }

    fn self_signed_pem() -> String {
        self_signed().1
    }

    /// A fresh RSA key (PEM) and a self-signed certificate for it (PEM).
    fn self_signed() -> (String, String) {
        use openssl::{asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509};
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test idp").unwrap();
        let name = name.build();
        let mut cert = x509::X509Builder::new().unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        (
            String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
            String::from_utf8(cert.build().to_pem().unwrap()).unwrap(),
        )
    }

    fn sp(signing: Option<SpSigning>) -> ServiceProviderConfig {
        ServiceProviderConfig {
            entity_id: "https://sp.test/sp".into(),
            acs_url: "https://sp.test/acs".into(),
            audience: None,
            name_id_format: default_name_id_format(),
            clock_skew: Duration::from_secs(60),
            want_assertions_signed: true,
            signing,
        }
    }

    #[test]
    fn sp_metadata_comes_from_samael_with_better_auths_flags() {
        let plain = sp(None).metadata_xml().unwrap();
        assert_eq!(plain.matches("<?xml").count(), 1, "{plain}");
        let parsed: EntityDescriptor = plain.parse().unwrap();
        assert_eq!(parsed.entity_id.as_deref(), Some("https://sp.test/sp"));
        let descriptor = &parsed.sp_sso_descriptors.as_ref().unwrap()[0];
        assert_eq!(descriptor.want_assertions_signed, Some(true));
        assert_eq!(descriptor.authn_requests_signed, Some(false));
        assert_eq!(
            descriptor.assertion_consumer_services[0].location,
            "https://sp.test/acs"
        );
        assert!(descriptor.single_logout_services.is_none(), "{plain}");
        assert!(!plain.contains("validUntil"), "{plain}");
        assert!(!plain.contains("X509Certificate"), "{plain}");

        let (key, cert) = self_signed();
        let signed = sp(Some(SpSigning::from_pem(&key, Some(&cert)).unwrap()))
            .metadata_xml()
            .unwrap();
        assert!(signed.contains(r#"AuthnRequestsSigned="true""#), "{signed}");
        let der = base64::engine::general_purpose::STANDARD.encode(certificate_der(&cert).unwrap());
        assert_eq!(
            signed.matches(&der).count(),
            1,
            "one signing KeyDescriptor: {signed}"
        );
        assert!(!signed.contains("EncryptionMethod"), "{signed}");
    }

    #[test]
    fn signed_authn_requests_carry_a_detached_signature_that_verifies() {
        use openssl::{hash::MessageDigest, sign::Verifier, x509::X509};
        let (key, cert) = self_signed();
        let idp_cert = self_signed_pem();
        let idp = TrustedIdp::from_config(&SamlConfig {
            entry_point: "https://idp.test/sso".into(),
            cert: Some(Value::String(idp_cert)),
            idp_metadata: Some(crate::provider::IdpMetadata {
                entity_id: Some("https://idp.test".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap();
        let (_, url) = sp(Some(SpSigning::from_pem(&key, None).unwrap()))
            .authn_request(&idp, "relay-1")
            .unwrap();
        let query = url::Url::parse(&url).unwrap().query().unwrap().to_owned();
        let (signed_part, signature) = query.rsplit_once("&Signature=").unwrap();
        assert!(
            signed_part.contains("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"),
            "{signed_part}"
        );
        let signature: String = url::form_urlencoded::parse(format!("s={signature}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .unwrap();
        let public = X509::from_pem(cert.as_bytes()).unwrap().public_key().unwrap();
        let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        verifier.update(signed_part.as_bytes()).unwrap();
        assert!(
            verifier.verify(&signature).unwrap(),
            "the signature covers SAMLRequest, RelayState and SigAlg"
        );
        let (_, unsigned) = sp(None).authn_request(&idp, "relay-1").unwrap();
        assert!(!unsigned.contains("Signature="), "{unsigned}");
        assert!(matches!(
            SpSigning::from_pem("not a key", None),
            Err(SsoError::Rejected(_))
        ));
    }

    /// xmlsec reports through OpenSSL's per-thread error queue; a queue left dirty breaks the next
    /// TLS read on the thread (seen as Postgres I/O errors after a bad-signature response).
    #[test]
    fn validation_leaves_the_openssl_error_queue_empty() {
        let cfg = SamlConfig {
            entry_point: "https://idp.test/sso".into(),
            cert: Some(Value::String(self_signed_pem())),
            idp_metadata: Some(crate::provider::IdpMetadata {
                entity_id: Some("https://idp.test".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let idp = TrustedIdp::from_config(&cfg).unwrap();
        assert_eq!(
            crate::certificates::describe_certificate(cfg.configured_certs()[0].as_str())["publicKeyAlgorithm"],
            "rsa"
        );
        let sp = ServiceProviderConfig {
            entity_id: "https://sp.test".into(),
            acs_url: "https://sp.test/acs".into(),
            audience: None,
            name_id_format: default_name_id_format(),
            clock_skew: Duration::from_secs(60),
            want_assertions_signed: false,
            signing: None,
        };
        let forged = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="r1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://sp.test/acs"><saml:Issuer>https://idp.test</saml:Issuer><saml:Assertion ID="a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>https://idp.test</saml:Issuer><ds:Signature><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID>mallory@example.com</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"##;
        let encoded = base64::engine::general_purpose::STANDARD.encode(forged);
        // Dirty the queue the way a failed verification does, then validate.
        if let Err(stack) = openssl::x509::X509::from_pem(b"not a certificate") {
            for e in stack.errors() {
                e.put();
            }
        }
        let failure = sp
            .validate(&idp, &encoded, None, chrono::DateTime::UNIX_EPOCH)
            .unwrap_err();
        assert_eq!(failure.code, "invalid_saml_response");
        assert!(
            failure.reason.starts_with("SAML_SIGNATURE_INVALID"),
            "{}",
            failure.reason
        );
        assert!(openssl::error::ErrorStack::get().errors().is_empty());
    }

    #[test]
    fn an_unparseable_certificate_is_described_as_an_error() {
        assert_eq!(
            crate::certificates::describe_certificate("x"),
            serde_json::json!({"error": "Failed to parse certificate"})
        );
    }
}
