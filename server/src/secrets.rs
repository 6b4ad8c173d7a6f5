//! `castellan secrets rotate`: after a new secret is put first in `CASTELLAN_SECRETS` (or
//! `BETTER_AUTH_SECRETS`), re-encrypt every stored sealed value under it, so the earlier
//! secrets can be retired. Values already under the current secret are left alone; values no
//! listed secret opens are counted and left alone, and make the command fail, so an operator
//! never retires the only secret that could still read them.

use anyhow::Context as _;
use castellan_config::Settings;
use castellan_crypto::keyring::{Keyring, Sealing};
use castellan_data::repo::sealed::{self, AccountToken, SsoConfig};
use serde_json::Value;

/// What a rotation did, per kind of value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub resealed: usize,
    pub already_current: usize,
    pub unreadable: usize,
}

impl std::fmt::Display for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} re-encrypted, {} already under the current secret, {} unreadable",
            self.resealed, self.already_current, self.unreadable
        )
    }
}

impl Rotation {
    /// Re-encrypts `stored` when an earlier secret sealed it.
    fn reseal(&mut self, keys: &Keyring, stored: &str) -> anyhow::Result<Option<String>> {
        match keys.sealing(stored) {
            Sealing::Current => {
                self.already_current += 1;
                Ok(None)
            }
            Sealing::Unreadable => {
                self.unreadable += 1;
                Ok(None)
            }
            Sealing::Earlier => {
                self.resealed += 1;
                let plain = keys.decrypt(stored).context("opening a sealed value")?;
                Ok(Some(keys.encrypt(&plain).context("sealing a value")?))
            }
        }
    }
}

impl Rotation {
    /// The JSON configuration `config` with its sealed `field` re-encrypted, when an earlier
    /// secret sealed it.
    fn reseal_field(&mut self, keys: &Keyring, config: &str, field: &str) -> anyhow::Result<Option<String>> {
        use castellan_sso::provider::{open_secret, seal_secret, secret_sealing};
        let Ok(Value::Object(mut config)) = serde_json::from_str::<Value>(config) else {
            return Ok(None);
        };
        let Some(stored) = config.get(field).and_then(Value::as_str).map(str::to_owned) else {
            return Ok(None);
        };
        match secret_sealing(keys, &stored) {
            Sealing::Current => self.already_current += 1,
            Sealing::Unreadable => self.unreadable += 1,
            Sealing::Earlier => {
                let plain = open_secret(keys, &stored).context("opening a sealed SSO secret")?;
                let resealed = seal_secret(keys, &plain).context("sealing an SSO secret")?;
                config.insert(field.to_owned(), Value::String(resealed));
                self.resealed += 1;
                return Ok(Some(Value::Object(config).to_string()));
            }
        }
        Ok(None)
    }
}

/// Re-encrypts two-factor secrets and backup codes, JWT signing keys, queued mail, SSO client
/// secrets and SAML SP signing keys, in one transaction.
///
/// # Errors
/// An unreachable database, or a failed write (nothing is changed then).
pub async fn rotate(settings: &Settings) -> anyhow::Result<Rotation> {
    let keys = &settings.secrets;
    anyhow::ensure!(
        keys.current_version().is_some(),
        "CASTELLAN_SECRETS (or BETTER_AUTH_SECRETS) is not set: list the new secret first, e.g. \
         CASTELLAN_SECRETS=\"2:<new>,1:<old>\", then rotate"
    );
    let db = castellan_data::connect(&settings.database_url)
        .await
        .context("connecting to the database")?;
    let txn = castellan_data::begin_write(&db).await?;
    let mut done = Rotation::default();

    for (id, secret, codes) in sealed::two_factor(&txn).await? {
        let new_secret = done.reseal(keys, &secret)?;
        let new_codes = done.reseal(keys, &codes)?;
        if new_secret.is_some() || new_codes.is_some() {
            sealed::set_two_factor(
                &txn,
                &id,
                new_secret.unwrap_or(secret),
                new_codes.unwrap_or(codes),
            )
            .await?;
        }
    }
    // `privateKey` holds the envelope as a JSON string.
    for row in sealed::jwks_private_keys(&txn).await? {
        let Ok(envelope) = serde_json::from_str::<String>(&row.value) else {
            done.unreadable += 1;
            continue;
        };
        if let Some(resealed) = done.reseal(keys, &envelope)? {
            sealed::set_jwks_private_key(&txn, &row.id, Value::String(resealed).to_string()).await?;
        }
    }
    for row in sealed::mail_payloads(&txn).await? {
        if let Some(resealed) = done.reseal(keys, &row.value)? {
            sealed::set_mail_payload(&txn, &row.id, resealed).await?;
        }
    }
    // The OIDC client secret and the SAML SP key sit in the connection's configuration, as
    // `enc:<envelope>` (or in plain text, as Better Auth stores them, which rotation leaves alone).
    for (which, field) in [(SsoConfig::Oidc, "clientSecret"), (SsoConfig::Saml, "privateKey")] {
        for row in sealed::sso_configs(&txn, which).await? {
            if let Some(config) = done.reseal_field(keys, &row.value, field)? {
                sealed::set_sso_config(&txn, &row.id, which, config).await?;
            }
        }
    }
    // Provider tokens. A Better Auth database without `encryptOAuthTokens` holds them in plain
    // text: those are not sealed, so there is nothing to rotate.
    for which in AccountToken::ALL {
        for row in sealed::account_tokens(&txn, which).await? {
            if !castellan_crypto::keyring::looks_sealed(&row.value) {
                continue;
            }
            if let Some(resealed) = done.reseal(keys, &row.value)? {
                sealed::set_account_token(&txn, &row.id, which, resealed).await?;
            }
        }
    }
    txn.commit().await.context("committing the re-encryption")?;
    Ok(done)
}
