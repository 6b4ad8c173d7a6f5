//! Better Auth's account-linking rules, with the account-takeover guards Castellan adds: who a
//! provider identity signs in as, and when it may join an existing user.

use castellan_config::social::Provider;
use castellan_crypto::random;
use castellan_data::entity::user;
use castellan_data::repo::{accounts, users};
use castellan_data::{DataError, DatabaseTransaction};
use castellan_oauth::LoginFailure;

use super::SocialService;
use super::profile::ProviderProfile;
use crate::error::IdentityError;

/// The user a provider identity belongs to after this login.
pub struct Resolved {
    pub user: user::Model,
    pub is_new_user: bool,
}

/// The signed-in user a `link-social` flow attaches the identity to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkTarget {
    pub user_id: String,
    pub email: String,
}

fn refused(code: &'static str, reason: impl Into<String>) -> LoginFailure {
    LoginFailure::new(code, reason.into())
}

/// A storage failure during a login: logged, and told to the browser only as `internal_error`.
pub(super) fn storage(e: impl Into<IdentityError>) -> LoginFailure {
    let e: IdentityError = e.into();
    tracing::error!(error = %e, "a social login could not be completed");
    LoginFailure::new("internal_error", "the login could not be completed")
}

impl SocialService {
    /// Whether the provider vouches for the address: it says so, or it is trusted and says
    /// nothing. An address a provider calls unverified is never taken as verified.
    fn vouches_for_email(&self, provider: &Provider, profile: &ProviderProfile) -> bool {
        match profile.email_verified {
            Some(verified) => verified,
            None => self
                .settings
                .social
                .linking
                .trusted_providers
                .contains(&provider.id),
        }
    }

    /// Sign-in: the linked user; else an existing user with the same address, when linking is
    /// allowed; else a new user (unless sign-up is off).
    pub(super) async fn resolve_sign_in(
        &self,
        txn: &DatabaseTransaction,
        provider: &Provider,
        profile: &ProviderProfile,
        tokens: accounts::StoredTokens,
        request_sign_up: bool,
    ) -> Result<Resolved, LoginFailure> {
        let now = self.now();
        if let Some(account) = accounts::find_linked(txn, &provider.id, &profile.account_id)
            .await
            .map_err(storage)?
        {
            let user = users::find_by_id(txn, &account.user_id)
                .await
                .map_err(storage)?
                .ok_or_else(|| refused("user_not_found", "the linked user no longer exists"))?;
            accounts::store_tokens(txn, account, tokens, now)
                .await
                .map_err(storage)?;
            return Ok(Resolved {
                user,
                is_new_user: false,
            });
        }
        let email = profile
            .email
            .as_deref()
            .map(str::to_lowercase)
            .filter(|e| castellan_domain::is_valid_email(e))
            .ok_or_else(|| refused("email_not_found", "the provider gave no usable email address"))?;
        let vouched = self.vouches_for_email(provider, profile);
        if let Some(user) = users::find_by_email(txn, &email).await.map_err(storage)? {
            let linking = &self.settings.social.linking;
            if !linking.enabled {
                return Err(refused("account_not_linked", "account linking is disabled"));
            }
            if !vouched {
                return Err(refused(
                    "account_not_linked",
                    "the provider does not vouch for the address, so it may not join an existing user",
                ));
            }
            // An unverified local account may have been registered by someone else with this
            // address, waiting for its owner to sign in: never hand it to them.
            if !user.email_verified {
                return Err(refused(
                    "account_not_linked",
                    "the existing user has not verified the address; verify it first, then link",
                ));
            }
            accounts::insert_oauth(txn, &provider.id, &profile.account_id, &user.id, tokens, now)
                .await
                .map_err(storage)?;
            return Ok(Resolved {
                user,
                is_new_user: false,
            });
        }
        if provider.disable_sign_up || (provider.disable_implicit_sign_up && !request_sign_up) {
            return Err(refused(
                "signup_disabled",
                "sign-up through this provider is disabled",
            ));
        }
        let is_admin = vouched && self.settings.admin_emails.contains(&email);
        let name = profile
            .name
            .clone()
            .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
        let new_user = users::NewUser {
            id: random::generate_id(),
            name,
            email,
            image: profile.image.clone(),
            email_verified: vouched,
            role: Some(if is_admin { "admin" } else { "user" }.to_owned()),
        };
        let user = match users::insert(txn, new_user, now).await {
            Err(DataError::Conflict) => {
                return Err(refused(
                    "unable_to_create_user",
                    "the address was taken meanwhile",
                ));
            }
            other => other.map_err(storage)?,
        };
        accounts::insert_oauth(txn, &provider.id, &profile.account_id, &user.id, tokens, now)
            .await
            .map_err(storage)?;
        Ok(Resolved {
            user,
            is_new_user: true,
        })
    }

    /// `link-social`: attaches the identity to the signed-in user, whose address it must share
    /// unless different addresses are allowed. An identity linked to someone else stays theirs.
    pub(super) async fn resolve_link(
        &self,
        txn: &DatabaseTransaction,
        provider: &Provider,
        profile: &ProviderProfile,
        tokens: accounts::StoredTokens,
        target: &LinkTarget,
    ) -> Result<(), LoginFailure> {
        let same_email = profile
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&target.email));
        if !same_email && !self.settings.social.linking.allow_different_emails {
            return Err(refused(
                "email_does_not_match",
                "the provider's address is not the user's",
            ));
        }
        let now = self.now();
        match accounts::find_linked(txn, &provider.id, &profile.account_id)
            .await
            .map_err(storage)?
        {
            Some(account) if account.user_id != target.user_id => Err(refused(
                "account_already_linked_to_different_user",
                "this identity is linked to another user",
            )),
            Some(account) => {
                accounts::store_tokens(txn, account, tokens, now)
                    .await
                    .map_err(storage)?;
                Ok(())
            }
            None => {
                accounts::insert_oauth(
                    txn,
                    &provider.id,
                    &profile.account_id,
                    &target.user_id,
                    tokens,
                    now,
                )
                .await
                .map_err(storage)?;
                Ok(())
            }
        }
    }
}
