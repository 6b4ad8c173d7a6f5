//! Ed25519 keys and EdDSA-signed JWTs: the jwt plugin's default algorithm, signed and verified
//! by `jsonwebtoken`. Keys travel as JWKs (RFC 8037: `kty: OKP`, `crv: Ed25519`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Map, Value, json};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EdDsaError {
    #[error("invalid key")]
    InvalidKey,
    #[error("invalid token")]
    InvalidToken,
}

/// A fresh key pair as (private JWK, public JWK), both without `kid`.
#[must_use]
pub fn generate() -> (Value, Value) {
    let mut seed = [0u8; 32];
    crate::random::fill(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let d = URL_SAFE_NO_PAD.encode(seed);
    (
        json!({"crv": "Ed25519", "d": d, "x": x, "kty": "OKP"}),
        json!({"crv": "Ed25519", "x": x, "kty": "OKP"}),
    )
}

/// The private JWK's seed as the PKCS#8 v1 DER `jsonwebtoken` takes (RFC 8410's fixed prefix).
fn pkcs8_der(private_jwk: &Value) -> Result<Vec<u8>, EdDsaError> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    let d = private_jwk
        .get("d")
        .and_then(Value::as_str)
        .ok_or(EdDsaError::InvalidKey)?;
    let seed = URL_SAFE_NO_PAD.decode(d).map_err(|_| EdDsaError::InvalidKey)?;
    if seed.len() != 32 {
        return Err(EdDsaError::InvalidKey);
    }
    Ok([PREFIX.as_slice(), &seed].concat())
}

/// A compact JWS with header `{"alg":"EdDSA","kid":kid}` over `claims`.
///
/// # Errors
/// A private JWK that is not an Ed25519 key.
pub fn sign_jwt(private_jwk: &Value, kid: &str, claims: &Map<String, Value>) -> Result<String, EdDsaError> {
    let key = EncodingKey::from_ed_der(&pkcs8_der(private_jwk)?);
    let header = Header {
        typ: None,
        kid: Some(kid.to_owned()),
        ..Header::new(Algorithm::EdDSA)
    };
    jsonwebtoken::encode(&header, claims, &key).map_err(|_| EdDsaError::InvalidKey)
}

/// Verifies an EdDSA JWT's signature against a public JWK and returns its claims (no claim
/// checks: callers check `exp`, `iss` and `aud`).
///
/// # Errors
/// A malformed token, a bad key, or a bad signature.
pub fn verify_jwt(public_jwk: &Value, token: &str) -> Result<Map<String, Value>, EdDsaError> {
    let x = public_jwk
        .get("x")
        .and_then(Value::as_str)
        .ok_or(EdDsaError::InvalidKey)?;
    let key = DecodingKey::from_ed_components(x).map_err(|_| EdDsaError::InvalidKey)?;
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &crate::jwt::signature_only(Algorithm::EdDSA))
        .map(|data| data.claims)
        .map_err(|_| EdDsaError::InvalidToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_reject_tampering() {
        let (private, public) = generate();
        let mut claims = Map::new();
        claims.insert("sub".into(), "u1".into());
        let token = sign_jwt(&private, "k1", &claims).unwrap();
        assert_eq!(verify_jwt(&public, &token).unwrap()["sub"], "u1");
        let (_, other) = generate();
        assert_eq!(verify_jwt(&other, &token), Err(EdDsaError::InvalidToken));
        let forged = format!(
            "{}.{}.{}",
            token.split('.').next().unwrap(),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#),
            token.split('.').nth(2).unwrap()
        );
        assert_eq!(verify_jwt(&public, &forged), Err(EdDsaError::InvalidToken));
        assert!(private.get("d").is_some() && public.get("d").is_none());
        // Better Auth's header: `alg` and `kid`, no `typ`.
        assert_eq!(
            token.split('.').next().unwrap(),
            URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":"k1"}"#)
        );
    }
}
