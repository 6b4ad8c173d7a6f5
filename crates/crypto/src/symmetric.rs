//! Better Auth's `symmetricEncrypt`: XChaCha20-Poly1305 keyed by SHA-256 of the secret, written
//! as hex(24-byte nonce ‖ ciphertext ‖ 16-byte tag). Used for secrets at rest (JWT private keys,
//! two-factor secrets) so that a Better Auth database's values stay readable both ways.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SymmetricError {
    #[error("the value is not a valid encrypted envelope, or the secret is wrong")]
    Invalid,
}

fn cipher(secret: &str) -> XChaCha20Poly1305 {
    let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    XChaCha20Poly1305::new(&key.into())
}

/// # Errors
/// Never in practice (encryption of an in-memory buffer cannot fail).
pub fn encrypt(secret: &str, plaintext: &str) -> Result<String, SymmetricError> {
    let mut nonce = [0u8; 24];
    crate::random::fill(&mut nonce);
    let sealed = cipher(secret)
        .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
        .map_err(|_| SymmetricError::Invalid)?;
    let mut out = Vec::with_capacity(24 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(hex::encode(out))
}

/// Accepts the bare hex form and Better Auth's versioned `$ba$<version>$<hex>` form.
///
/// # Errors
/// Malformed input, a wrong secret, or tampering.
pub fn decrypt(secret: &str, envelope: &str) -> Result<String, SymmetricError> {
    let hex_part = match envelope.strip_prefix("$ba$") {
        Some(rest) => rest
            .split_once('$')
            .map(|(_, h)| h)
            .ok_or(SymmetricError::Invalid)?,
        None => envelope,
    };
    let bytes = hex::decode(hex_part).map_err(|_| SymmetricError::Invalid)?;
    if bytes.len() < 24 + 16 {
        return Err(SymmetricError::Invalid);
    }
    let (nonce, sealed) = bytes.split_at(24);
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| SymmetricError::Invalid)?;
    let plain = cipher(secret)
        .decrypt(&XNonce::from(nonce), sealed)
        .map_err(|_| SymmetricError::Invalid)?;
    String::from_utf8(plain).map_err(|_| SymmetricError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_layout_and_tamper_detection() {
        let sealed = encrypt("s3cret", "hello").unwrap();
        // 24-byte nonce + 5 bytes + 16-byte tag, in hex: the layout Better Auth writes.
        assert_eq!(sealed.len(), 2 * (24 + 5 + 16));
        assert_eq!(decrypt("s3cret", &sealed).unwrap(), "hello");
        assert_eq!(decrypt("other", &sealed), Err(SymmetricError::Invalid));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            decrypt("s3cret", &String::from_utf8(tampered).unwrap()),
            Err(SymmetricError::Invalid)
        );
        assert_eq!(decrypt("s3cret", &format!("$ba$1${sealed}")).unwrap(), "hello");
    }
}
