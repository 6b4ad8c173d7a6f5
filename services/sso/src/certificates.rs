//! X.509 certificates as connections carry them (PEM or bare base64): their DER bytes for
//! samael, and Better Auth's summary of one for the connection view.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// DER bytes of a certificate given as PEM or as bare base64.
pub(crate) fn certificate_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    openssl::x509::X509::from_der(&der).ok()?;
    Some(der)
}

/// Better Auth's certificate summary: `{fingerprintSha256, notBefore, notAfter, publicKeyAlgorithm}`.
#[must_use]
pub fn describe_certificate(text: &str) -> Value {
    let parsed = certificate_der(text).and_then(|der| {
        let cert = openssl::x509::X509::from_der(&der).ok()?;
        let fingerprint = Sha256::digest(&der)
            .iter()
            .map(|b| hex::encode_upper([*b]))
            .collect::<Vec<_>>()
            .join(":");
        let algorithm = match cert.public_key().ok()?.id() {
            openssl::pkey::Id::RSA => "rsa",
            openssl::pkey::Id::EC => "ec",
            openssl::pkey::Id::ED25519 => "ed25519",
            _ => "unknown",
        };
        Some(json!({
            "fingerprintSha256": fingerprint,
            "notBefore": asn1_time_iso(cert.not_before())?,
            "notAfter": asn1_time_iso(cert.not_after())?,
            "publicKeyAlgorithm": algorithm,
        }))
    });
    parsed.unwrap_or_else(|| json!({ "error": "Failed to parse certificate" }))
}

/// An ASN.1 time as Better Auth's ISO 8601 string, computed from the time itself (its distance
/// from the Unix epoch), not from OpenSSL's display text.
fn asn1_time_iso(t: &openssl::asn1::Asn1TimeRef) -> Option<String> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let since = epoch.diff(t).ok()?;
    let seconds = i64::from(since.days) * 86_400 + i64::from(since.secs);
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]
    use super::*;

    #[test]
    fn dates_are_read_from_the_certificate() {
        let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut b = openssl::x509::X509Builder::new().unwrap();
        b.set_pubkey(&key).unwrap();
        // 2001-09-09T01:46:40Z and 2033-05-18T03:33:20Z.
        b.set_not_before(&openssl::asn1::Asn1Time::from_unix(1_000_000_000).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::from_unix(2_000_000_000).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
        let pem = String::from_utf8(b.build().to_pem().unwrap()).unwrap();
        let summary = describe_certificate(&pem);
        assert_eq!(summary["notBefore"], "2001-09-09T01:46:40.000Z");
        assert_eq!(summary["notAfter"], "2033-05-18T03:33:20.000Z");
        assert_eq!(summary["publicKeyAlgorithm"], "rsa");
        assert_eq!(summary["fingerprintSha256"].as_str().unwrap().len(), 32 * 3 - 1);
    }
}
