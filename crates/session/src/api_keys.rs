//! Authenticating with an API key (`x-api-key`): the key is looked up by its SHA-256, then
//! checked for being enabled, unexpired, within its usage budget and its own rate limit, in
//! `@better-auth/api-key`'s order. A user's key stands in for a session of that user.

use castellan_crypto::signing;
use castellan_data::entity::{api_key, session};
use castellan_data::repo::users;
use chrono::TimeDelta;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{AuthSession, SessionManager, SessionResult};

/// Why a presented key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRejection {
    Invalid,
    Disabled,
    Expired,
    UsageExceeded,
    RateLimited { try_again_in_ms: i64 },
}

impl SessionManager {
    /// A user's key standing in for a session of that user.
    ///
    /// # Errors
    /// Storage failures. A bad key is `Ok(Err(_))`.
    pub async fn authenticate_api_key(&self, raw: &str) -> SessionResult<Result<AuthSession, KeyRejection>> {
        let key = match self.usable_api_key(raw, None).await? {
            Ok(key) => key,
            Err(rejection) => return Ok(Err(rejection)),
        };
        if let Err(rejection) = self.spend_api_key(&key).await? {
            return Ok(Err(rejection));
        }
        let now = self.now();
        // Organization keys have no user to act as.
        let Some(user) = users::find_by_id(&self.db, &key.reference_id).await? else {
            return Ok(Err(KeyRejection::Invalid));
        };
        if self.is_banned(&user) {
            return Err(crate::SessionError::Banned);
        }
        let session = session::Model {
            id: key.id.clone(),
            expires_at: key.expires_at.unwrap_or(now + TimeDelta::days(7)),
            token: raw.to_owned(),
            created_at: key.created_at,
            updated_at: now,
            ip_address: None,
            user_agent: None,
            user_id: user.id.clone(),
            active_organization_id: None,
            active_team_id: None,
            impersonated_by: None,
            auth_method: Some("api-key".to_owned()),
            auth_connection_id: None,
            authenticated_at: None,
        };
        Ok(Ok(AuthSession { session, user }))
    }

    /// The first checks of `@better-auth/api-key`'s order: the key exists (by its hash), is of
    /// `config_id` when one is asked for, is enabled, and has not expired (an expired key is
    /// deleted). Nothing is spent yet: see [`Self::spend_api_key`].
    ///
    /// # Errors
    /// Storage failures. A bad key is `Ok(Err(_))`.
    pub async fn usable_api_key(
        &self,
        raw: &str,
        config_id: Option<&str>,
    ) -> SessionResult<Result<api_key::Model, KeyRejection>> {
        let db_err = |e: sea_orm::DbErr| crate::SessionError::Data(e.into());
        let hashed = signing::sha256_b64url(raw.as_bytes());
        let Some(key) = api_key::Entity::find()
            .filter(api_key::Column::Key.eq(&hashed))
            .one(&self.db)
            .await
            .map_err(db_err)?
        else {
            return Ok(Err(KeyRejection::Invalid));
        };
        if config_id.is_some_and(|c| c != key.config_id) {
            return Ok(Err(KeyRejection::Invalid));
        }
        if key.enabled == Some(false) {
            return Ok(Err(KeyRejection::Disabled));
        }
        if key.expires_at.is_some_and(|e| e <= self.now()) {
            api_key::Entity::delete_by_id(key.id.clone())
                .exec(&self.db)
                .await
                .map_err(db_err)?;
            return Ok(Err(KeyRejection::Expired));
        }
        Ok(Ok(key))
    }

    /// The last checks, which spend: the usage budget (`remaining`) and the key's own rate
    /// limit, each a guarded update so concurrent uses cannot overdraw.
    ///
    /// # Errors
    /// Storage failures. A spent key is `Ok(Err(_))`.
    pub async fn spend_api_key(&self, key: &api_key::Model) -> SessionResult<Result<(), KeyRejection>> {
        let db_err = |e: sea_orm::DbErr| crate::SessionError::Data(e.into());
        let now = self.now();
        let mut update = api_key::Entity::update_many().filter(api_key::Column::Id.eq(&key.id));
        match key.remaining {
            Some(0) => return Ok(Err(KeyRejection::UsageExceeded)),
            Some(n) => {
                // Guarded decrement: concurrent uses cannot overdraw the budget.
                update = update
                    .col_expr(api_key::Column::Remaining, sea_orm::sea_query::Expr::value(n - 1))
                    .filter(api_key::Column::Remaining.eq(n));
            }
            None => {}
        }
        if key.rate_limit_enabled != Some(false) {
            let window = TimeDelta::milliseconds(i64::from(key.rate_limit_time_window.unwrap_or(86_400_000)));
            let max = key.rate_limit_max.unwrap_or(10);
            let count = key.request_count.unwrap_or(0);
            let in_window = key.last_request.is_some_and(|l| l + window > now);
            if in_window && count >= max {
                let retry = key
                    .last_request
                    .map_or(0, |l| (l + window - now).num_milliseconds());
                return Ok(Err(KeyRejection::RateLimited {
                    try_again_in_ms: retry,
                }));
            }
            let (new_count, window_start) = if in_window {
                (count + 1, key.last_request)
            } else {
                (1, Some(now))
            };
            update = update
                .col_expr(
                    api_key::Column::RequestCount,
                    sea_orm::sea_query::Expr::value(new_count),
                )
                .col_expr(
                    api_key::Column::LastRequest,
                    sea_orm::sea_query::Expr::value(window_start),
                )
                .filter(api_key::Column::RequestCount.eq(count));
        }
        if update.exec(&self.db).await.map_err(db_err)?.rows_affected != 1 {
            // Another request used the key at the same instant; count this one as over the limit.
            return Ok(Err(KeyRejection::RateLimited {
                try_again_in_ms: 1000,
            }));
        }
        Ok(Ok(()))
    }
}
