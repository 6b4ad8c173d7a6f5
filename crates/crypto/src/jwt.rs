//! Compact HS256 JSON Web Tokens keyed by the UTF-8 bytes of the secret: the format of Better
//! Auth's email-verification links, signed and verified by `jsonwebtoken`. Only HS256 is
//! accepted when verifying (no `alg` confusion); expiry is checked against the caller's clock.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed or wrongly signed token")]
    Invalid,
    #[error("token expired")]
    Expired,
}

/// Checks signature and algorithm only: `exp` is checked against an injected clock by the
/// callers, since `jsonwebtoken` would read the wall clock.
pub(crate) fn signature_only(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    v
}

/// Signs `claims`, adding `iat` and `exp` (seconds since the epoch).
#[must_use]
pub fn sign_hs256(secret: &str, mut claims: Map<String, Value>, now_secs: i64, ttl_secs: i64) -> String {
    claims.insert("iat".to_owned(), Value::from(now_secs));
    claims.insert("exp".to_owned(), Value::from(now_secs + ttl_secs));
    // Better Auth's header is `{"alg":"HS256"}`, without `typ`.
    let header = Header {
        typ: None,
        ..Header::new(Algorithm::HS256)
    };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap_or_default()
}

/// Verifies signature, algorithm and expiry, and returns the claims.
///
/// # Errors
/// [`JwtError::Invalid`] for anything malformed or wrongly signed, [`JwtError::Expired`] when
/// the signature is good but `exp` has passed.
pub fn verify_hs256(secret: &str, token: &str, now_secs: i64) -> Result<Map<String, Value>, JwtError> {
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &signature_only(Algorithm::HS256),
    )
    .map_err(|_| JwtError::Invalid)?;
    match data.claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now_secs => Ok(data.claims),
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
        use base64::Engine as _;
        let encode = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let none_header = encode(br#"{"alg":"none"}"#);
        let body = t.split('.').nth(1).unwrap();
        assert_eq!(
            verify_hs256("k", &format!("{none_header}.{body}."), 1_001),
            Err(JwtError::Invalid)
        );
        // The header is Better Auth's, `typ` and all.
        assert_eq!(t.split('.').next().unwrap(), encode(br#"{"alg":"HS256"}"#));
        // An HS256 token signed with the key bytes as an RS/ES "public key" is not accepted
        // under another algorithm, and another algorithm's token is not accepted here.
        let hs384 = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert_eq!(verify_hs256("k", &hs384, 1_001), Err(JwtError::Invalid));
    }
}
