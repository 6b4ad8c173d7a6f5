//! The deployment's secrets over time, in Better Auth's `secrets` model: a current secret that
//! signs and encrypts everything new, and earlier ones that still open and verify what they made.
//!
//! - `BETTER_AUTH_SECRETS` (or `CASTELLAN_SECRETS`) lists `<version>:<secret>` entries, the
//!   current one first. Values encrypted under it are Better Auth's envelope `$ba$<version>$<hex>`.
//! - `BETTER_AUTH_SECRET` (or `CASTELLAN_SECRET`) is the legacy secret: it opens bare-hex values
//!   and is the only secret when no versions are listed, in which case new values stay bare hex,
//!   exactly as a Better Auth deployment without `secrets` writes them.
//!
//! Cookie and token signatures are made with the current secret only (Better Auth verifies with
//! it alone); Castellan also accepts a signature by an earlier secret, so rotating does not sign
//! everyone out.

use crate::symmetric::{self, SymmetricError};

const ENVELOPE_PREFIX: &str = "$ba$";

#[derive(Clone, PartialEq, Eq)]
pub struct Keyring {
    /// `(version, secret)`, the current one first; empty without versioned secrets.
    versions: Vec<(u32, String)>,
    legacy: Option<String>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field(
                "versions",
                &self.versions.iter().map(|(v, _)| v).collect::<Vec<_>>(),
            )
            .field("legacy", &self.legacy.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("secrets entry {0:?} is not `<version>:<secret>` with a non-negative integer version")]
    Malformed(String),
    #[error("secrets list version {0} twice")]
    Duplicate(u32),
    #[error("no secret given")]
    Empty,
}

/// Whether a stored value was encrypted under the current secret, an earlier one, or cannot be
/// opened at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    Current,
    Earlier,
    Unreadable,
}

impl Keyring {
    /// One secret and nothing else: what a deployment without versioned secrets has.
    #[must_use]
    pub fn single(secret: &str) -> Self {
        Self {
            versions: Vec::new(),
            legacy: Some(secret.to_owned()),
        }
    }

    /// From Better Auth's `"<version>:<secret>,..."` list (current first) and the legacy secret.
    ///
    /// # Errors
    /// A malformed or duplicated entry, or no secret at all.
    pub fn parse(list: Option<&str>, legacy: Option<&str>) -> Result<Self, KeyringError> {
        let mut versions: Vec<(u32, String)> = Vec::new();
        for entry in list
            .into_iter()
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (version, secret) = entry
                .split_once(':')
                .ok_or_else(|| KeyringError::Malformed(redact(entry)))?;
            let version: u32 = version
                .trim()
                .parse()
                .map_err(|_| KeyringError::Malformed(redact(entry)))?;
            let secret = secret.trim();
            if secret.is_empty() {
                return Err(KeyringError::Malformed(redact(entry)));
            }
            if versions.iter().any(|(v, _)| *v == version) {
                return Err(KeyringError::Duplicate(version));
            }
            versions.push((version, secret.to_owned()));
        }
        let legacy = legacy.map(str::to_owned);
        if versions.is_empty() && legacy.is_none() {
            return Err(KeyringError::Empty);
        }
        Ok(Self { versions, legacy })
    }

    /// The secret that signs and encrypts: the first listed version, else the legacy secret.
    #[must_use]
    pub fn current(&self) -> &str {
        self.versions
            .first()
            .map(|(_, s)| s.as_str())
            .or(self.legacy.as_deref())
            .unwrap_or_default()
    }

    /// The current version, when secrets are versioned.
    #[must_use]
    pub fn current_version(&self) -> Option<u32> {
        self.versions.first().map(|(v, _)| *v)
    }

    /// Every secret a signature may have been made with, the current one first, each once.
    pub fn verification_keys(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = Vec::new();
        for s in self
            .versions
            .iter()
            .map(|(_, s)| s.as_str())
            .chain(self.legacy.as_deref())
        {
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
        seen.into_iter()
    }

    /// Encrypts under the current secret: an envelope when versioned, else bare hex.
    ///
    /// # Errors
    /// Never in practice.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, SymmetricError> {
        let sealed = symmetric::encrypt(self.current(), plaintext)?;
        Ok(match self.current_version() {
            Some(v) => format!("{ENVELOPE_PREFIX}{v}${sealed}"),
            None => sealed,
        })
    }

    /// Opens an envelope with its version's secret, and bare hex with the legacy secret (then,
    /// for a deployment that moved its old secret into the versioned list, with each version).
    ///
    /// # Errors
    /// A retired version, a wrong secret, or tampering.
    pub fn decrypt(&self, stored: &str) -> Result<String, SymmetricError> {
        if let Some((version, hex)) = parse_envelope(stored) {
            let secret = self
                .versions
                .iter()
                .find(|(v, _)| *v == version)
                .map(|(_, s)| s.as_str())
                .ok_or(SymmetricError::Invalid)?;
            return symmetric::decrypt(secret, hex);
        }
        self.legacy
            .iter()
            .map(String::as_str)
            .chain(self.versions.iter().map(|(_, s)| s.as_str()))
            .find_map(|secret| symmetric::decrypt(secret, stored).ok())
            .ok_or(SymmetricError::Invalid)
    }

    /// How `stored` is sealed, so `castellan secrets rotate` re-encrypts only what needs it.
    #[must_use]
    pub fn sealing(&self, stored: &str) -> Sealing {
        if self.decrypt(stored).is_err() {
            return Sealing::Unreadable;
        }
        let current = match (parse_envelope(stored), self.current_version()) {
            (Some((version, _)), Some(current)) => version == current,
            (None, None) => true,
            _ => false,
        };
        if current {
            Sealing::Current
        } else {
            Sealing::Earlier
        }
    }
}

/// Whether a stored value has the shape of a sealed one (an envelope, or long hex) rather than a
/// value kept in plain text, such as a provider token Better Auth stored without
/// `encryptOAuthTokens`. The shortest sealed value (empty plaintext) is 80 hex digits.
#[must_use]
pub fn looks_sealed(stored: &str) -> bool {
    stored.starts_with(ENVELOPE_PREFIX)
        || (stored.len() >= 80
            && stored.len().is_multiple_of(2)
            && stored.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_envelope(stored: &str) -> Option<(u32, &str)> {
    let rest = stored.strip_prefix(ENVELOPE_PREFIX)?;
    let (version, hex) = rest.split_once('$')?;
    Some((version.parse().ok()?, hex))
}

/// An entry as error messages show it: the version part only.
fn redact(entry: &str) -> String {
    match entry.split_once(':') {
        Some((v, _)) => format!("{v}:<redacted>"),
        None => "<redacted>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]
    use super::*;

    #[test]
    fn plain_provider_tokens_do_not_look_sealed() {
        let keys = Keyring::single("k");
        assert!(
            looks_sealed(&keys.encrypt("").unwrap()),
            "the shortest sealed value"
        );
        assert!(looks_sealed("$ba$1$00ff"));
        assert!(!looks_sealed("gho_16C7e42F292c6912E7710c838347Ae178B4a"));
        assert!(!looks_sealed("ya29.a0AfH6SMB"));
    }

    #[test]
    fn better_auths_list_parses_current_first() {
        let k = Keyring::parse(Some("2:new-secret, 1:old-secret"), Some("legacy")).unwrap();
        assert_eq!(k.current(), "new-secret");
        assert_eq!(k.current_version(), Some(2));
        assert_eq!(
            k.verification_keys().collect::<Vec<_>>(),
            ["new-secret", "old-secret", "legacy"]
        );
        assert_eq!(Keyring::parse(None, Some("only")).unwrap().current(), "only");
        for bad in ["x:y", "1", "1:", "-1:s"] {
            assert!(
                matches!(Keyring::parse(Some(bad), None), Err(KeyringError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Keyring::parse(Some("1:a,1:b"), None),
            Err(KeyringError::Duplicate(1))
        );
        assert_eq!(Keyring::parse(None, None), Err(KeyringError::Empty));
        // A secret never reaches an error message or debug output.
        let err = Keyring::parse(Some("x:hunter2"), None).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(!format!("{k:?}").contains("secret"), "{k:?}");
    }

    #[test]
    fn values_sealed_under_any_listed_secret_stay_readable() {
        let before = Keyring::single("old-secret");
        let bare = before.encrypt("totp-seed").unwrap();
        assert!(
            !bare.starts_with("$ba$"),
            "unversioned deployments write bare hex"
        );

        let rotated = Keyring::parse(Some("2:new-secret,1:old-secret"), Some("old-secret")).unwrap();
        assert_eq!(rotated.decrypt(&bare).unwrap(), "totp-seed");
        assert_eq!(rotated.sealing(&bare), Sealing::Earlier);
        let fresh = rotated.encrypt("totp-seed").unwrap();
        assert!(fresh.starts_with("$ba$2$"), "{fresh}");
        assert_eq!(rotated.decrypt(&fresh).unwrap(), "totp-seed");
        assert_eq!(rotated.sealing(&fresh), Sealing::Current);

        // The old secret moved into the list, without a legacy secret: bare hex still opens.
        let listed = Keyring::parse(Some("2:new-secret,1:old-secret"), None).unwrap();
        assert_eq!(listed.decrypt(&bare).unwrap(), "totp-seed");

        // Once version 1 is retired, what it sealed is unreadable, and says so.
        let v1 = Keyring::parse(Some("1:old-secret"), None)
            .unwrap()
            .encrypt("x")
            .unwrap();
        let retired = Keyring::parse(Some("2:new-secret"), None).unwrap();
        assert_eq!(retired.decrypt(&v1), Err(SymmetricError::Invalid));
        assert_eq!(retired.sealing(&v1), Sealing::Unreadable);
    }
}
