//! Every value stored sealed under the deployment's secrets, read and rewritten in place by
//! `castellan secrets rotate`. Deployment-wide on purpose: re-encryption neither reads nor
//! returns anything of a tenant's beyond the sealed column itself.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, QuerySelect};

use crate::DataError;
use crate::entity::{account, jwks, mail_outbox, sso_provider, two_factor};

/// A row's id and one of its sealed columns.
pub struct SealedValue {
    pub id: String,
    pub value: String,
}

/// Every row's id with its sealed column `value` (rows where it is null left out).
async fn column<E: EntityTrait>(
    db: &impl ConnectionTrait,
    id: E::Column,
    value: E::Column,
) -> Result<Vec<SealedValue>, DataError> {
    let rows: Vec<(String, Option<String>)> = E::find()
        .select_only()
        .columns([id, value])
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, value)| value.map(|value| SealedValue { id, value }))
        .collect())
}

/// Two-factor enrolments: `(id, secret, backupCodes)`.
///
/// # Errors
/// Database failures.
pub async fn two_factor(db: &impl ConnectionTrait) -> Result<Vec<(String, String, String)>, DataError> {
    Ok(two_factor::Entity::find()
        .select_only()
        .columns([
            two_factor::Column::Id,
            two_factor::Column::Secret,
            two_factor::Column::BackupCodes,
        ])
        .into_tuple()
        .all(db)
        .await?)
}

/// # Errors
/// Database failures.
pub async fn set_two_factor(
    db: &impl ConnectionTrait,
    id: &str,
    secret: String,
    backup_codes: String,
) -> Result<(), DataError> {
    two_factor::ActiveModel {
        id: Set(id.to_owned()),
        secret: Set(secret),
        backup_codes: Set(backup_codes),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// JWT signing keys: their `privateKey` (the JSON string of an envelope).
///
/// # Errors
/// Database failures.
pub async fn jwks_private_keys(db: &impl ConnectionTrait) -> Result<Vec<SealedValue>, DataError> {
    column::<jwks::Entity>(db, jwks::Column::Id, jwks::Column::PrivateKey).await
}

/// # Errors
/// Database failures.
pub async fn set_jwks_private_key(
    db: &impl ConnectionTrait,
    id: &str,
    value: String,
) -> Result<(), DataError> {
    jwks::ActiveModel {
        id: Set(id.to_owned()),
        private_key: Set(value),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// Which of a connection's configurations: each may hold a sealed secret (the OIDC client
/// secret, the SAML SP signing key).
#[derive(Clone, Copy)]
pub enum SsoConfig {
    Oidc,
    Saml,
}

impl SsoConfig {
    fn column(self) -> sso_provider::Column {
        match self {
            Self::Oidc => sso_provider::Column::OidcConfig,
            Self::Saml => sso_provider::Column::SamlConfig,
        }
    }
}

/// SSO connections that have the configuration `which`.
///
/// # Errors
/// Database failures.
pub async fn sso_configs(db: &impl ConnectionTrait, which: SsoConfig) -> Result<Vec<SealedValue>, DataError> {
    column::<sso_provider::Entity>(db, sso_provider::Column::Id, which.column()).await
}

/// # Errors
/// Database failures.
pub async fn set_sso_config(
    db: &impl ConnectionTrait,
    id: &str,
    which: SsoConfig,
    value: String,
) -> Result<(), DataError> {
    let mut row = sso_provider::ActiveModel {
        id: Set(id.to_owned()),
        ..Default::default()
    };
    match which {
        SsoConfig::Oidc => row.oidc_config = Set(Some(value)),
        SsoConfig::Saml => row.saml_config = Set(Some(value)),
    }
    row.update(db).await?;
    Ok(())
}

/// Queued mail: its sealed payload.
///
/// # Errors
/// Database failures.
pub async fn mail_payloads(db: &impl ConnectionTrait) -> Result<Vec<SealedValue>, DataError> {
    column::<mail_outbox::Entity>(db, mail_outbox::Column::Id, mail_outbox::Column::Payload).await
}

/// # Errors
/// Database failures.
pub async fn set_mail_payload(db: &impl ConnectionTrait, id: &str, value: String) -> Result<(), DataError> {
    mail_outbox::ActiveModel {
        id: Set(id.to_owned()),
        payload: Set(value),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}

/// The provider tokens an `account` row keeps (Better Auth's `encryptOAuthTokens`).
#[derive(Debug, Clone, Copy)]
pub enum AccountToken {
    Access,
    Refresh,
    Id,
}

impl AccountToken {
    pub const ALL: [Self; 3] = [Self::Access, Self::Refresh, Self::Id];

    fn column(self) -> account::Column {
        match self {
            Self::Access => account::Column::AccessToken,
            Self::Refresh => account::Column::RefreshToken,
            Self::Id => account::Column::IdToken,
        }
    }
}

/// Accounts holding the token `which`.
///
/// # Errors
/// Database failures.
pub async fn account_tokens(
    db: &impl ConnectionTrait,
    which: AccountToken,
) -> Result<Vec<SealedValue>, DataError> {
    column::<account::Entity>(db, account::Column::Id, which.column()).await
}

/// # Errors
/// Database failures.
pub async fn set_account_token(
    db: &impl ConnectionTrait,
    id: &str,
    which: AccountToken,
    value: String,
) -> Result<(), DataError> {
    let mut row = account::ActiveModel {
        id: Set(id.to_owned()),
        ..Default::default()
    };
    match which {
        AccountToken::Access => row.access_token = Set(Some(value)),
        AccountToken::Refresh => row.refresh_token = Set(Some(value)),
        AccountToken::Id => row.id_token = Set(Some(value)),
    }
    row.update(db).await?;
    Ok(())
}
