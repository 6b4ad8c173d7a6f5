//! Compact HS256 JSON Web Tokens keyed by the UTF-8 bytes of the secret: the format of Better
//! Auth's email-verification links. Only HS256 is accepted when verifying (no `alg` confusion).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::signing::hmac_sha256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed or wrongly signed token")]
    Invalid,
    #[error("token expired")]
    Expired,
}

/// Signs `claims`, adding `iat` and `exp` (seconds since the epoch).
#[must_use]
pub fn sign_hs256(secret: &str, mut claims: Map<String, Value>, now_secs: i64, ttl_secs: i64) -> String {
    claims.insert("iat".to_owned(), Value::from(now_secs));
    claims.insert("exp".to_owned(), Value::from(now_secs + ttl_secs));
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let input = format!("{header}.{payload}");
    let sig = URL_SAFE_NO_PAD.encode(hmac_sha256(secret, input.as_bytes()));
    format!("{input}.{sig}")
}

/// Verifies signature, algorithm and expiry, and returns the claims.
///
/// # Errors
/// [`JwtError::Invalid`] for anything malformed or wrongly signed, [`JwtError::Expired`] when
/// the signature is good but `exp` has passed.
pub fn verify_hs256(secret: &str, token: &str, now_secs: i64) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Invalid);
    };
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|_| JwtError::Invalid)?)
        .map_err(|_| JwtError::Invalid)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(JwtError::Invalid);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Invalid)?;
    let expected = hmac_sha256(secret, format!("{h}.{p}").as_bytes());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(sig.as_slice(), expected.as_slice())) {
        return Err(JwtError::Invalid);
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Invalid)?)
        .map_err(|_| JwtError::Invalid)?;
    let Value::Object(claims) = claims else {
        return Err(JwtError::Invalid);
    };
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now_secs => Ok(claims),
        Some(_) => Err(JwtError::Expired),
        None => Err(JwtError::Invalid),
    }
}

/// [`verify_hs256`] against every secret of `keyring`: a token signed before a rotation stays
/// good until it expires.
///
/// # Errors
/// [`JwtError::Expired`] when a secret's signature matches but the token has expired;
/// [`JwtError::Invalid`] when none matches.
pub fn verify_hs256_rotated(
    keyring: &crate::keyring::Keyring,
    token: &str,
    now_secs: i64,
) -> Result<Map<String, Value>, JwtError> {
    let mut outcome = Err(JwtError::Invalid);
    for key in keyring.verification_keys() {
        match verify_hs256(key, token, now_secs) {
            Ok(claims) => return Ok(claims),
            Err(JwtError::Expired) => outcome = Err(JwtError::Expired),
            Err(JwtError::Invalid) => {}
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("email".into(), "a@b.co".into());
        m
    }

    #[test]
    fn round_trip_and_expiry() {
        let t = sign_hs256("k", claims(), 1_000, 3_600);
        let c = verify_hs256("k", &t, 1_001).unwrap();
        assert_eq!(c["email"], "a@b.co");
        assert_eq!(c["exp"], 4_600);
        assert_eq!(verify_hs256("k", &t, 4_600), Err(JwtError::Expired));
        assert_eq!(verify_hs256("other", &t, 1_001), Err(JwtError::Invalid));
    }

    #[test]
    fn tampering_and_alg_none_are_invalid() {
        let t = sign_hs256("k", claims(), 1_000, 3_600);
        let mut tampered = t.clone();
        tampered.truncate(t.len() - 3);
        tampered.push_str("xyz");
        assert_eq!(verify_hs256("k", &tampered, 1_001), Err(JwtError::Invalid));
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let body = t.split('.').nth(1).unwrap();
        assert_eq!(
            verify_hs256("k", &format!("{none_header}.{body}."), 1_001),
            Err(JwtError::Invalid)
        );
    }
}
