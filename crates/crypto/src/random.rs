//! Random identifiers in Better Auth's alphabets, drawn by rejection sampling so every
//! character is equally likely.

const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `len` characters from `alphabet`, uniformly distributed.
#[must_use]
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    debug_assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    // Largest multiple of the alphabet size that fits in a byte: bytes above it are redrawn.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for b in buf {
            if usize::from(b) < limit {
                if let Some(c) = alphabet.get(usize::from(b) % alphabet.len()) {
                    out.push(char::from(*c));
                }
                if out.len() == len {
                    break;
                }
            }
        }
    }
    out
}

/// Better Auth's `generateId()`: 32 characters from `[a-zA-Z0-9]`. Used for row ids and session tokens.
#[must_use]
pub fn generate_id() -> String {
    random_string(32, ALPHANUMERIC)
}

/// `len` characters of `[a-zA-Z]` (Better Auth's magic-link tokens).
#[must_use]
pub fn letters(len: usize) -> String {
    random_string(len, LETTERS)
}

/// `len` characters from `[a-zA-Z0-9]`.
#[must_use]
pub fn alphanumeric(len: usize) -> String {
    random_string(len, ALPHANUMERIC)
}

/// `len` characters from `[a-z0-9]`.
#[must_use]
pub fn lower_alphanumeric(len: usize) -> String {
    random_string(len, LOWER_ALPHANUMERIC)
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill(buf: &mut [u8]) {
    // The OS generator failing is not something a request can recover from; an identity server
    // must never fall back to weaker randomness, so this aborts the request's task.
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_better_auths_shape() {
        let id = generate_id();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(id, generate_id());
    }

    #[test]
    fn lower_alphanumeric_has_no_capitals() {
        let s = lower_alphanumeric(200);
        assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }
}
