//! API keys (`@better-auth/api-key` 1.7.5): created once and shown once, stored as SHA-256, with
//! prefix and start, expiry, enable switch, usage budget and a per-key rate limit. Beyond Better
//! Auth, a key may belong to an organization: creating, reading or changing one needs the
//! `organization:update` permission there, decided by casbin.

use castellan_crypto::{random, signing};
use castellan_data::entity::api_key;
use castellan_session::AuthSession;
use chrono::TimeDelta;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::IdentityService;
use crate::error::{IdentityError, IdentityResult};

const KEY_LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const MIN_EXPIRES_IN: i64 = 86_400;
const MAX_EXPIRES_IN: i64 = 365 * 86_400;

pub struct NewKey {
    pub name: Option<String>,
    pub prefix: Option<String>,
    pub expires_in: Option<i64>,
    pub metadata: Option<serde_json::Value>,
    pub config_id: Option<String>,
    pub organization_id: Option<String>,
}

pub struct KeyChange {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub expires_in: Option<Option<i64>>,
    pub metadata: Option<serde_json::Value>,
}

impl IdentityService {
    /// The owner a key request speaks for: the caller, or an organization they may administer.
    async fn key_owner(&self, auth: &AuthSession, organization_id: Option<&str>) -> IdentityResult<String> {
        let Some(org) = organization_id else {
            return Ok(auth.user.id.clone());
        };
        let denied = || IdentityError::AdminDenied("YOU_ARE_NOT_ALLOWED_TO_MANAGE_ORGANIZATION_API_KEYS");
        let scope = self
            .authz
            .scope(&self.db, org, &auth.user.id)
            .await?
            .ok_or_else(denied)?;
        self.authz
            .permit::<castellan_authz::grant::OrganizationUpdate>(&scope)
            .await?
            .ok_or_else(denied)?;
        Ok(org.to_owned())
    }

    fn check_expires_in(secs: i64) -> IdentityResult<()> {
        if secs < MIN_EXPIRES_IN {
            return Err(IdentityError::KeyInvalid("EXPIRES_IN_IS_TOO_SMALL"));
        }
        if secs > MAX_EXPIRES_IN {
            return Err(IdentityError::KeyInvalid("EXPIRES_IN_IS_TOO_LARGE"));
        }
        Ok(())
    }

    /// Creates a key; the plaintext is returned this once and never stored.
    ///
    /// # Errors
    /// Bad expiry or prefix, impersonation, no permission for an organization key.
    pub async fn create_api_key(
        &self,
        auth: &AuthSession,
        new: NewKey,
    ) -> IdentityResult<(api_key::Model, String)> {
        if auth.session.impersonated_by.is_some() {
            return Err(IdentityError::ImpersonationForbidden);
        }
        if let Some(secs) = new.expires_in {
            Self::check_expires_in(secs)?;
        }
        if let Some(p) = &new.prefix
            && (p.is_empty()
                || p.len() > 32
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return Err(IdentityError::KeyInvalid("INVALID_PREFIX_LENGTH"));
        }
        let owner = self.key_owner(auth, new.organization_id.as_deref()).await?;
        let plaintext = format!(
            "{}{}",
            new.prefix.clone().unwrap_or_default(),
            random::random_string(64, KEY_LETTERS)
        );
        let now = self.now();
        let row = api_key::ActiveModel {
            id: Set(random::generate_id()),
            config_id: Set(new.config_id.unwrap_or_else(|| "default".to_owned())),
            name: Set(new.name),
            start: Set(Some(plaintext.chars().take(6).collect())),
            reference_id: Set(owner),
            prefix: Set(new.prefix),
            key: Set(signing::sha256_b64url(plaintext.as_bytes())),
            refill_interval: Set(None),
            refill_amount: Set(None),
            last_refill_at: Set(None),
            enabled: Set(Some(true)),
            rate_limit_enabled: Set(Some(true)),
            rate_limit_time_window: Set(Some(86_400_000)),
            rate_limit_max: Set(Some(10)),
            request_count: Set(Some(0)),
            remaining: Set(None),
            last_request: Set(None),
            expires_at: Set(new.expires_in.map(|s| now + TimeDelta::seconds(s))),
            created_at: Set(now),
            updated_at: Set(now),
            permissions: Set(None),
            metadata: Set(new.metadata.map(|m| m.to_string())),
        };
        let row = row
            .insert(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        Ok((row, plaintext))
    }

    /// A key the caller owns (directly, or through an organization they administer).
    async fn owned_key(&self, auth: &AuthSession, id: &str) -> IdentityResult<api_key::Model> {
        let key = api_key::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?
            .ok_or(IdentityError::KeyNotFound)?;
        if key.reference_id == auth.user.id {
            return Ok(key);
        }
        // An organization key: the caller must administer that organization; otherwise the key
        // does not exist for them.
        match self.key_owner(auth, Some(&key.reference_id)).await {
            Ok(_) => Ok(key),
            Err(_) => Err(IdentityError::KeyNotFound),
        }
    }

    /// # Errors
    /// Unknown or not the caller's.
    pub async fn get_api_key(&self, auth: &AuthSession, id: &str) -> IdentityResult<api_key::Model> {
        self.owned_key(auth, id).await
    }

    /// # Errors
    /// Unknown or not the caller's; a bad expiry.
    pub async fn update_api_key(
        &self,
        auth: &AuthSession,
        id: &str,
        change: KeyChange,
    ) -> IdentityResult<api_key::Model> {
        let key = self.owned_key(auth, id).await?;
        let now = self.now();
        let mut row: api_key::ActiveModel = key.into();
        if let Some(name) = change.name {
            row.name = Set(Some(name));
        }
        if let Some(enabled) = change.enabled {
            row.enabled = Set(Some(enabled));
        }
        if let Some(expires_in) = change.expires_in {
            if let Some(secs) = expires_in {
                Self::check_expires_in(secs)?;
            }
            row.expires_at = Set(expires_in.map(|s| now + TimeDelta::seconds(s)));
        }
        if let Some(metadata) = change.metadata {
            row.metadata = Set(Some(metadata.to_string()));
        }
        row.updated_at = Set(now);
        Ok(row
            .update(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?)
    }

    /// # Errors
    /// Unknown or not the caller's.
    pub async fn delete_api_key(&self, auth: &AuthSession, id: &str) -> IdentityResult<()> {
        let key = self.owned_key(auth, id).await?;
        api_key::Entity::delete_by_id(key.id)
            .exec(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        Ok(())
    }

    /// The caller's keys, or an organization's.
    ///
    /// # Errors
    /// No permission for the organization.
    pub async fn list_api_keys(
        &self,
        auth: &AuthSession,
        organization_id: Option<&str>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> IdentityResult<(Vec<api_key::Model>, u64)> {
        let owner = self.key_owner(auth, organization_id).await?;
        let query = api_key::Entity::find().filter(api_key::Column::ReferenceId.eq(owner));
        let total = query
            .clone()
            .count(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        let rows = query
            .order_by_desc(api_key::Column::CreatedAt)
            .limit(limit.unwrap_or(100).min(1_000))
            .offset(offset.unwrap_or(0).min(i64::MAX as u64))
            .all(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        Ok((rows, total))
    }
}
