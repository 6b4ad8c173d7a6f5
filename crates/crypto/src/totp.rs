//! TOTP exactly as Better Auth's two-factor plugin does it (RFC 6238 over RFC 4226): the HMAC
//! key is the UTF-8 bytes of a 32-character secret string (not base32-decoded), SHA-1, six
//! digits, 30-second steps, one step of tolerance either side. The `otpauth://` URI carries the
//! base32 (RFC 4648, unpadded) of those bytes.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Better Auth's `generateRandomString` alphabet for TOTP secrets.
const SECRET_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
pub const DIGITS: u32 = 6;
pub const PERIOD: i64 = 30;

#[must_use]
pub fn generate_secret() -> String {
    crate::random::random_string(32, SECRET_ALPHABET)
}

/// RFC 4226 HOTP.
#[must_use]
pub fn hotp(secret: &str, counter: u64) -> String {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.get(19).copied().unwrap_or(0) & 0x0f);
    let word = digest
        .get(offset..offset + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]));
    format!("{:0width$}", word % 10u32.pow(DIGITS), width = DIGITS as usize)
}

/// Whether `code` is the TOTP of `now_secs`, or of the step before or after.
#[must_use]
pub fn verify(secret: &str, code: &str, now_secs: i64) -> bool {
    let step = now_secs.div_euclid(PERIOD);
    let mut ok = false;
    for s in [step - 1, step, step + 1] {
        let Ok(counter) = u64::try_from(s) else { continue };
        // Every candidate is compared, in constant time, so timing does not reveal which matched.
        ok |= bool::from(hotp(secret, counter).as_bytes().ct_eq(code.trim().as_bytes()));
    }
    ok
}

fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in data {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&digits=6&period=30`: the label
/// percent-encoded, the query form-encoded, as Better Auth writes it.
#[must_use]
pub fn uri(secret: &str, issuer: &str, account: &str) -> String {
    let label = |s: &str| url_component(s);
    let form = |s: &str| url_form(s);
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&digits={DIGITS}&period={PERIOD}",
        label(issuer),
        label(account),
        base32(secret.as_bytes()),
        form(issuer)
    )
}

fn url_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn url_form(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-_.*".contains(&b) => out.push(char::from(b)),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_better_auths_test_vectors() {
        // ../shared/spec/better-auth-core.md §11.
        let secret = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
        assert_eq!(hotp(secret, 1), "581710");
        assert_eq!(
            uri(secret, "Better Auth", "a@b.co"),
            "otpauth://totp/Better%20Auth:a%40b.co?secret=IFBEGRCFIZDUQSKKJNGE2TSPKBIVEU2UKVLFOWCZLIYDCMRTGQ2Q&issuer=Better+Auth&digits=6&period=30"
        );
    }

    #[test]
    fn rfc_4226_vectors_and_the_window() {
        // RFC 4226 appendix D, secret "12345678901234567890".
        let secret = "12345678901234567890";
        assert_eq!(hotp(secret, 0), "755224");
        assert_eq!(hotp(secret, 9), "520489");
        let now = 1_000_000_000;
        assert!(verify(secret, &hotp(secret, (now / 30) as u64), now));
        assert!(verify(secret, &hotp(secret, (now / 30 - 1) as u64), now));
        assert!(!verify(secret, &hotp(secret, (now / 30 - 2) as u64), now));
        assert!(!verify(secret, "", now));
    }
}
