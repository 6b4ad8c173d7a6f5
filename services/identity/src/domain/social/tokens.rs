//! The provider tokens kept in `account`: sealed at rest in Better Auth's `encryptOAuthTokens`
//! format, refreshed when they are about to expire, and the linked accounts' management.

use castellan_config::social::Protocol;
use castellan_data::entity::account;
use castellan_data::repo::accounts::{self, StoredTokens};
use castellan_oauth::{LoginFailure, Tokens};
use castellan_session::AuthSession;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::SocialService;
use super::profile;
use crate::error::{IdentityError, IdentityResult};

/// A token is refreshed when it has less than this left (Better Auth's margin).
const REFRESH_MARGIN_SECONDS: i64 = 5;

/// `get-access-token`'s answer.
pub struct AccessToken {
    pub access_token: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub id_token: Option<String>,
}

/// `refresh-token`'s answer.
pub struct RefreshedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    pub scope: Option<String>,
    pub id_token: Option<String>,
    pub provider_id: String,
    pub account_id: String,
}

/// `account-info`'s answer: the provider's current view of the user.
pub struct AccountInfo {
    pub account: account::Model,
    pub profile: profile::ProviderProfile,
}

fn scopes_of(account: &account::Model) -> Vec<String> {
    account
        .scope
        .as_deref()
        .map(|s| {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl SocialService {
    /// What a provider issued, sealed for the `account` row.
    pub(super) fn seal_tokens(
        &self,
        issued: &Tokens,
        asked: &[String],
    ) -> Result<StoredTokens, LoginFailure> {
        let seal = |t: &str| {
            self.settings.secrets.encrypt(t).map_err(|e| {
                tracing::error!(error = %e, "sealing a provider token failed");
                LoginFailure::new("internal_error", "the login could not be completed")
            })
        };
        let now = self.now();
        let scopes = issued.scopes.clone().unwrap_or_else(|| asked.to_vec());
        Ok(StoredTokens {
            access_token: Some(issued.access_token.as_str())
                .filter(|t| !t.is_empty())
                .map(seal)
                .transpose()?,
            refresh_token: issued.refresh_token.as_deref().map(seal).transpose()?,
            id_token: issued.id_token.as_deref().map(seal).transpose()?,
            access_token_expires_at: issued
                .expires_in
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| now + d),
            refresh_token_expires_at: None,
            scope: Some(scopes.join(",")).filter(|s| !s.is_empty()),
        })
    }

    /// A stored token in the clear. Rows written by a Better Auth deployment without
    /// `encryptOAuthTokens` hold plain tokens, which are read as they are; a sealed value that
    /// no longer opens (a retired secret) reads as absent.
    fn open_token(&self, stored: Option<&str>) -> Option<String> {
        let stored = stored.filter(|s| !s.is_empty())?;
        match self.settings.secrets.decrypt(stored) {
            Ok(plain) => Some(plain),
            Err(_) if castellan_crypto::keyring::looks_sealed(stored) => {
                tracing::warn!("a stored provider token no longer opens with the configured secrets");
                None
            }
            Err(_) => Some(stored.to_owned()),
        }
    }

    /// One of the caller's accounts: by local id, else by the provider's account id.
    async fn own_account(&self, auth: &AuthSession, account_id: &str) -> IdentityResult<account::Model> {
        if let Some(found) = accounts::find_for_user(&self.db, &auth.user.id, account_id).await? {
            return Ok(found);
        }
        accounts::list_for_user(&self.db, &auth.user.id)
            .await?
            .into_iter()
            .find(|a| a.account_id == account_id && a.provider_id != accounts::CREDENTIAL_PROVIDER)
            .ok_or(IdentityError::AccountNotFound)
    }

    fn provider_of(&self, account: &account::Model) -> IdentityResult<&castellan_config::social::Provider> {
        self.settings
            .social
            .providers
            .iter()
            .find(|p| p.id == account.provider_id)
            .ok_or_else(|| IdentityError::ProviderNotSupported(account.provider_id.clone()))
    }

    /// Asks the provider for fresh tokens and stores them.
    async fn refresh_account(&self, account: account::Model) -> IdentityResult<account::Model> {
        let provider = self.provider_of(&account)?;
        let refresh_token = self
            .open_token(account.refresh_token.as_deref())
            .ok_or(IdentityError::RefreshTokenNotFound)?;
        let registration = self
            .registration(provider)
            .await
            .map_err(|f| IdentityError::ProviderUnavailable(f.reason))?;
        let issued = self
            .rp
            .refresh(&registration, &provider.client_secret, &refresh_token)
            .await
            .map_err(|f| {
                tracing::info!(provider = %provider.id, reason = %f.reason, "token refresh refused");
                IdentityError::FailedToRefreshAccessToken
            })?;
        let mut stored = self
            .seal_tokens(&issued, &scopes_of(&account))
            .map_err(IdentityError::from_login)?;
        // A refresh may grant narrower scopes; Better Auth keeps the stored ones.
        stored.scope = None;
        Ok(accounts::store_tokens(&self.db, account, stored, self.now()).await?)
    }

    /// `get-access-token`: the account's access token, refreshed first when it is (nearly)
    /// expired and a refresh token is there.
    ///
    /// # Errors
    /// 400 ACCOUNT_NOT_FOUND; 400 FAILED_TO_GET_ACCESS_TOKEN when there is none to give.
    pub async fn access_token(&self, auth: &AuthSession, account_id: &str) -> IdentityResult<AccessToken> {
        let mut account = self.own_account(auth, account_id).await?;
        let due = account
            .access_token_expires_at
            .is_some_and(|at| at - self.now() < chrono::Duration::seconds(REFRESH_MARGIN_SECONDS));
        if due && account.refresh_token.is_some() {
            account = self
                .refresh_account(account)
                .await
                .map_err(|_| IdentityError::FailedToGetAccessToken)?;
        }
        let access_token = self
            .open_token(account.access_token.as_deref())
            .ok_or(IdentityError::FailedToGetAccessToken)?;
        Ok(AccessToken {
            access_token,
            expires_at: account.access_token_expires_at,
            scopes: scopes_of(&account),
            id_token: self.open_token(account.id_token.as_deref()),
        })
    }

    /// `refresh-token`: always asks the provider.
    ///
    /// # Errors
    /// 400 ACCOUNT_NOT_FOUND, REFRESH_TOKEN_NOT_FOUND, FAILED_TO_REFRESH_ACCESS_TOKEN.
    pub async fn refresh_tokens(
        &self,
        auth: &AuthSession,
        account_id: &str,
    ) -> IdentityResult<RefreshedTokens> {
        let account = self.own_account(auth, account_id).await?;
        let account = self.refresh_account(account).await?;
        Ok(RefreshedTokens {
            access_token: self
                .open_token(account.access_token.as_deref())
                .unwrap_or_default(),
            refresh_token: self.open_token(account.refresh_token.as_deref()),
            access_token_expires_at: account.access_token_expires_at,
            refresh_token_expires_at: account.refresh_token_expires_at,
            scope: account.scope.clone(),
            id_token: self.open_token(account.id_token.as_deref()),
            provider_id: account.provider_id.clone(),
            account_id: account.id.clone(),
        })
    }

    /// `account-info`: the provider's user info, read with the account's (refreshed) token.
    ///
    /// # Errors
    /// As [`Self::access_token`]; 401 FAILED_TO_GET_USER_INFO when the provider will not say.
    pub async fn account_info(&self, auth: &AuthSession, account_id: &str) -> IdentityResult<AccountInfo> {
        let account = self.own_account(auth, account_id).await?;
        let provider = self.provider_of(&account)?;
        let token = self.access_token(auth, &account.id).await?;
        let registration = self
            .registration(provider)
            .await
            .map_err(|f| IdentityError::ProviderUnavailable(f.reason))?;
        let profile = match (&provider.protocol, registration.user_info_endpoint.as_deref()) {
            (Protocol::OAuth2 { user_info_url, .. }, _) => {
                profile::from_user_api(&self.rp, &provider.profile, user_info_url, &token.access_token).await
            }
            (Protocol::Oidc { .. }, Some(endpoint)) => {
                let mapping = profile::claim_mapping(provider);
                match self.rp.fetch_json(endpoint, &token.access_token).await {
                    Ok(Value::Object(claims)) => profile::from_claims(&claims, &mapping),
                    Ok(_) => Err(LoginFailure::new("invalid_provider", "userinfo is not an object")),
                    Err(f) => Err(f),
                }
            }
            (Protocol::Oidc { .. }, None) => {
                Err(LoginFailure::new("invalid_provider", "no userinfo endpoint"))
            }
        }
        .map_err(|f| {
            tracing::info!(provider = %provider.id, reason = %f.reason, "account info refused");
            IdentityError::FailedToGetUserInfo
        })?;
        if profile.account_id != account.account_id {
            return Err(IdentityError::FailedToGetUserInfo);
        }
        Ok(AccountInfo { account, profile })
    }

    /// `unlink-account`: removes one of the caller's accounts, never the last one.
    ///
    /// # Errors
    /// 400 FAILED_TO_UNLINK_LAST_ACCOUNT; 400 ACCOUNT_NOT_FOUND.
    pub async fn unlink(&self, auth: &AuthSession, account_id: &str) -> IdentityResult<()> {
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        let all = accounts::list_for_user(&txn, &auth.user.id).await?;
        // Better Auth answers this before it looks for the account.
        if all.len() <= 1 {
            return Err(IdentityError::LastAccount);
        }
        let target = all
            .iter()
            .find(|a| a.id == account_id)
            .or_else(|| {
                all.iter()
                    .find(|a| a.account_id == account_id && a.provider_id != accounts::CREDENTIAL_PROVIDER)
            })
            .ok_or(IdentityError::AccountNotFound)?;
        accounts::delete_for_user_by_id(&txn, &auth.user.id, &target.id).await?;
        txn.commit().await.map_err(castellan_data::DataError::from)?;
        Ok(())
    }

    /// The start of a link for the signed-in user.
    #[must_use]
    pub fn link_target(auth: &AuthSession) -> super::LinkTarget {
        super::LinkTarget {
            user_id: auth.user.id.clone(),
            email: auth.user.email.clone(),
        }
    }
}
