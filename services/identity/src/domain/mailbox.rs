//! Users who proved they hold a mailbox, by a mailed link or code: found, or created on first
//! use. Proof of the mailbox outranks whatever was set up at the address without it.

use castellan_crypto::random;
use castellan_data::DataError;
use castellan_data::entity::user;
use castellan_data::repo::{accounts, users};

use super::IdentityService;
use crate::error::{IdentityError, IdentityResult};

/// What a user created by a mailbox proof starts with.
#[derive(Debug, Default)]
pub struct NewProfile {
    pub name: String,
    pub image: Option<String>,
}

/// The mailbox's user, and whether this proof created it.
pub struct MailboxOwner {
    pub user: user::Model,
    pub is_new_user: bool,
}

impl IdentityService {
    /// The user at `email` (lower-cased), marked verified; created with `profile` when there is
    /// none and `sign_up` allows it, else `None`.
    ///
    /// # Errors
    /// Storage failures.
    pub(crate) async fn mailbox_owner(
        &self,
        email: &str,
        profile: NewProfile,
        sign_up: bool,
    ) -> IdentityResult<Option<MailboxOwner>> {
        let email = email.to_lowercase();
        if let Some(user) = users::find_by_email(&self.db, &email).await? {
            return self.existing(user).await;
        }
        if !sign_up {
            return Ok(None);
        }
        let is_admin = self.settings.admin_emails.contains(&email);
        let new_user = users::NewUser {
            id: random::generate_id(),
            name: profile.name,
            email: email.clone(),
            image: profile.image,
            email_verified: true,
            role: Some(if is_admin { "admin" } else { "user" }.to_owned()),
        };
        match users::insert(&self.db, new_user, self.now()).await {
            Ok(user) => Ok(Some(MailboxOwner {
                user,
                is_new_user: true,
            })),
            // Created meanwhile by another request: this proof is for that user.
            Err(DataError::Conflict) => {
                let user = users::find_by_email(&self.db, &email)
                    .await?
                    .ok_or(IdentityError::UserNotFound)?;
                self.existing(user).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn existing(&self, user: user::Model) -> IdentityResult<Option<MailboxOwner>> {
        Ok(Some(MailboxOwner {
            user: self.prove_address(user).await?,
            is_new_user: false,
        }))
    }

    /// Marks the address proven; a user who had not proven it loses their accounts and sessions
    /// first (Better Auth's `revokeUnprovenAccountAccess`): whoever holds the mailbox owns the
    /// address, not necessarily whoever registered with it.
    pub(crate) async fn prove_address(&self, user: user::Model) -> IdentityResult<user::Model> {
        if user.email_verified {
            return Ok(user);
        }
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(DataError::from)?;
        accounts::delete_for_user(&txn, &user.id).await?;
        let email = user.email.clone();
        let user = users::set_email(&txn, user, &email, true, self.now()).await?;
        txn.commit().await.map_err(DataError::from)?;
        self.sessions.revoke_all(&user.id, None).await?;
        Ok(user)
    }
}
