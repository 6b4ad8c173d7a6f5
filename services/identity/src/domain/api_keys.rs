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

use castellan_authz::Statements;
use castellan_session::api_keys::KeyRejection;

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
    /// An organization key's grants there (its own casbin role); never more than the creator's.
    pub permissions: Option<Statements>,
}

/// Why `api-key/verify` found a key not good for the call, in `@better-auth/api-key`'s codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    Rejected(KeyRejection),
    /// Valid, but not granted what was asked.
    InsufficientPermissions,
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
        match organization_id {
            Some(org) => Ok(self.key_scope(auth, org).await?.org_id().to_owned()),
            None => Ok(auth.user.id.clone()),
        }
    }

    /// The caller's membership in `org`, when they may manage its keys (`organization:update`).
    async fn key_scope(&self, auth: &AuthSession, org: &str) -> IdentityResult<castellan_authz::OrgScope> {
        let denied = || IdentityError::AdminDenied("YOU_ARE_NOT_ALLOWED_TO_MANAGE_ORGANIZATION_API_KEYS");
        let scope = match self
            .authz
            .session_scope(&self.db, org, &auth.user.id, &auth.session)
            .await?
        {
            castellan_authz::SessionAdmission::Admitted(scope) => *scope,
            castellan_authz::SessionAdmission::NotMember => return Err(denied()),
            castellan_authz::SessionAdmission::SsoRequired => return Err(IdentityError::SsoRequired),
        };
        self.authz
            .permit::<castellan_authz::grant::OrganizationUpdate>(&scope)
            .await?
            .ok_or_else(denied)?;
        Ok(scope)
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
        let id = random::generate_id();
        if let Some(grants) = &new.permissions {
            // Only an organization key has permissions from a client, and only what its creator holds.
            let org = new
                .organization_id
                .as_deref()
                .ok_or(IdentityError::ServerOnlyProperty("permissions"))?;
            let scope = self.key_scope(auth, org).await?;
            if grants.is_empty() || !self.authz.allows(org, scope.roles(), grants).await? {
                return Err(IdentityError::AdminDenied(
                    "YOU_CANNOT_GRANT_AN_API_KEY_MORE_THAN_YOU_HOLD",
                ));
            }
            self.authz.grant_api_key(org, &id, grants).await?;
        }
        let plaintext = format!(
            "{}{}",
            new.prefix.clone().unwrap_or_default(),
            random::random_string(64, KEY_LETTERS)
        );
        let now = self.now();
        let row = api_key::ActiveModel {
            id: Set(id),
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
            permissions: Set(new.permissions.as_ref().map(|p| serde_json::json!(p).to_string())),
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
        api_key::Entity::delete_by_id(key.id.clone())
            .exec(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        if key.reference_id != auth.user.id {
            self.authz.revoke_api_key(&key.reference_id, &key.id).await?;
        }
        Ok(())
    }

    /// `POST /api-key/verify`: whether `raw` is a usable key (of `config_id`, when given) that
    /// is granted every action in `wanted`. A user's key is checked against its own
    /// `permissions`, as Better Auth does; an organization's key against its casbin role in that
    /// organization. A key refused for its permissions spends nothing; a good one counts as a use.
    ///
    /// # Errors
    /// Storage failures. A bad key is `Ok(Err(_))`.
    pub async fn verify_api_key(
        &self,
        raw: &str,
        config_id: Option<&str>,
        wanted: Option<&Statements>,
    ) -> IdentityResult<Result<api_key::Model, KeyRefusal>> {
        let key = match self.sessions.usable_api_key(raw, config_id).await? {
            Ok(key) => key,
            Err(r) => return Ok(Err(KeyRefusal::Rejected(r))),
        };
        if let Some(wanted) = wanted {
            let granted = match castellan_authz::admission::api_key_organization(&self.db, &key)
                .await
                .map_err(castellan_data::DataError::from)?
            {
                Some(org) => self.authz.api_key_allows(&org.id, &key.id, wanted).await?,
                None => own_permissions_cover(key.permissions.as_deref(), wanted),
            };
            if !granted {
                return Ok(Err(KeyRefusal::InsufficientPermissions));
            }
        }
        if let Err(r) = self.sessions.spend_api_key(&key).await? {
            return Ok(Err(KeyRefusal::Rejected(r)));
        }
        Ok(Ok(key))
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

/// Better Auth's check for a user's key: every wanted action is listed in the key's own
/// `permissions` (`{"resource": ["action", ...]}`); a key without permissions grants nothing.
fn own_permissions_cover(stored: Option<&str>, wanted: &Statements) -> bool {
    let Some(own) = stored.and_then(|s| serde_json::from_str::<Statements>(s).ok()) else {
        return false;
    };
    !wanted.is_empty()
        && wanted.iter().all(|(resource, actions)| {
            !actions.is_empty()
                && own
                    .get(resource)
                    .is_some_and(|granted| actions.iter().all(|a| granted.contains(a)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(v: serde_json::Value) -> Statements {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn a_users_key_grants_only_what_it_lists() {
        let own = r#"{"files": ["read", "write"], "reports": ["read"]}"#;
        let ok = statements(serde_json::json!({"files": ["read"], "reports": ["read"]}));
        let more = statements(serde_json::json!({"files": ["delete"]}));
        let other = statements(serde_json::json!({"billing": ["read"]}));
        let empty = statements(serde_json::json!({"files": []}));
        assert!(own_permissions_cover(Some(own), &ok));
        assert!(!own_permissions_cover(Some(own), &more));
        assert!(!own_permissions_cover(Some(own), &other));
        assert!(!own_permissions_cover(Some(own), &empty));
        assert!(!own_permissions_cover(Some(own), &Statements::new()));
        assert!(!own_permissions_cover(None, &ok));
        assert!(!own_permissions_cover(Some("not json"), &ok));
    }
}
