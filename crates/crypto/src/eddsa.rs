//! Ed25519 keys and EdDSA-signed JWTs: the jwt plugin's default algorithm. Keys travel as JWKs
//! (RFC 8037: `kty: OKP`, `crv: Ed25519`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
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

fn signing_key(private_jwk: &Value) -> Result<SigningKey, EdDsaError> {
    let d = private_jwk
        .get("d")
        .and_then(Value::as_str)
        .ok_or(EdDsaError::InvalidKey)?;
    let seed: [u8; 32] = URL_SAFE_NO_PAD
        .decode(d)
        .map_err(|_| EdDsaError::InvalidKey)?
        .try_into()
        .map_err(|_| EdDsaError::InvalidKey)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A compact JWS with header `{"alg":"EdDSA","kid":kid}` over `claims`.
///
/// # Errors
/// A private JWK that is not an Ed25519 key.
pub fn sign_jwt(private_jwk: &Value, kid: &str, claims: &Map<String, Value>) -> Result<String, EdDsaError> {
    let key = signing_key(private_jwk)?;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "kid": kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string());
    let input = format!("{header}.{payload}");
    let sig = URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes()).to_bytes());
    Ok(format!("{input}.{sig}"))
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
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(x)
        .map_err(|_| EdDsaError::InvalidKey)?
        .try_into()
        .map_err(|_| EdDsaError::InvalidKey)?;
    let key = VerifyingKey::from_bytes(&x).map_err(|_| EdDsaError::InvalidKey)?;
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(EdDsaError::InvalidToken);
    };
    let sig: [u8; 64] = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| EdDsaError::InvalidToken)?
        .try_into()
        .map_err(|_| EdDsaError::InvalidToken)?;
    key.verify(
        format!("{h}.{p}").as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .map_err(|_| EdDsaError::InvalidToken)?;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|_| EdDsaError::InvalidToken)?)
            .map_err(|_| EdDsaError::InvalidToken)?;
    match claims {
        Value::Object(m) => Ok(m),
        _ => Err(EdDsaError::InvalidToken),
    }
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
    }
}
