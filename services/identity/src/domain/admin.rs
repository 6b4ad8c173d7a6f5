//! The admin back office (Better Auth's admin plugin): user management, bans, session control and
//! impersonation. Permissions are casbin decisions in the platform domain over the caller's
//! `user.role`. Every change is written to the platform audit chain, impersonation with its reason.

use std::time::Duration;

use castellan_audit::AuditEvent;
use castellan_authz::Statements;
use castellan_authz::permissions::{PLATFORM, split_roles};
use castellan_crypto::random;
use castellan_data::DataError;
use castellan_data::entity::{session, user};
use castellan_data::repo::{accounts, users};
use castellan_session::{AuthSession, ClientInfo};
use chrono::TimeDelta;
use serde_json::{Value, json};

use super::IdentityService;
use crate::error::{IdentityError, IdentityResult};

/// Impersonation sessions last at most an hour.
pub const IMPERSONATION_LIFETIME: Duration = Duration::from_secs(3600);
/// Better Auth's default ban reason.
const DEFAULT_BAN_REASON: &str = "No reason";

/// Who acts, from where: recorded in the audit log.
pub struct Operator {
    pub auth: AuthSession,
    pub client: ClientInfo,
}

pub struct NewUser {
    pub email: String,
    pub password: Option<String>,
    pub name: String,
    pub role: Option<Vec<String>>,
}

impl IdentityService {
    /// Whether the user's platform roles grant `resource:action`.
    pub(crate) async fn platform_allows(
        &self,
        user: &user::Model,
        resource: &str,
        action: &str,
    ) -> IdentityResult<bool> {
        let roles = split_roles(user.role.as_deref().unwrap_or("user"));
        let wanted: Statements = [(resource.to_owned(), vec![action.to_owned()])].into();
        Ok(self.authz.allows(PLATFORM, &roles, &wanted).await?)
    }

    async fn require(
        &self,
        op: &Operator,
        resource: &str,
        action: &str,
        denied: &'static str,
    ) -> IdentityResult<()> {
        if self.platform_allows(&op.auth.user, resource, action).await? {
            Ok(())
        } else {
            Err(IdentityError::AdminDenied(denied))
        }
    }

    async fn platform_audit(
        &self,
        op: &Operator,
        action: &'static str,
        target: &str,
        details: Value,
    ) -> IdentityResult<()> {
        let event = AuditEvent {
            organization_id: castellan_audit::PLATFORM_LOG.to_owned(),
            action,
            actor_id: Some(
                op.auth
                    .session
                    .impersonated_by
                    .clone()
                    .unwrap_or_else(|| op.auth.user.id.clone()),
            ),
            target_type: Some("user"),
            target_id: Some(target.to_owned()),
            details,
            ip_address: Some(op.client.ip_address.clone()).filter(|s| !s.is_empty()),
            user_agent: Some(op.client.user_agent.clone()).filter(|s| !s.is_empty()),
        };
        castellan_audit::record(&self.db, event, self.now()).await?;
        Ok(())
    }

    /// A page of the platform audit log (bans, role changes, impersonation), newest first, and
    /// the total.
    ///
    /// # Errors
    /// Not allowed (`audit:read` in the platform domain); storage failures.
    pub async fn admin_audit_log(
        &self,
        op: &Operator,
        limit: u64,
        offset: u64,
    ) -> IdentityResult<(Vec<castellan_data::entity::audit_log::Model>, u64)> {
        self.require(op, "audit", "read", "YOU_ARE_NOT_ALLOWED_TO_READ_THE_AUDIT_LOG")
            .await?;
        Ok(castellan_audit::page(&self.db, castellan_audit::PLATFORM_LOG, limit, offset).await?)
    }

    /// Recomputes the platform audit log's hash chain.
    ///
    /// # Errors
    /// As [`IdentityService::admin_audit_log`].
    pub async fn admin_verify_audit_log(
        &self,
        op: &Operator,
    ) -> IdentityResult<castellan_audit::Verification> {
        self.require(op, "audit", "read", "YOU_ARE_NOT_ALLOWED_TO_READ_THE_AUDIT_LOG")
            .await?;
        Ok(castellan_audit::verify(&self.db, castellan_audit::PLATFORM_LOG).await?)
    }

    async fn target(&self, user_id: &str) -> IdentityResult<user::Model> {
        users::find_by_id(&self.db, user_id)
            .await?
            .ok_or(IdentityError::AdminUserNotFound)
    }

    /// # Errors
    /// Not allowed; storage failures.
    pub async fn admin_list_users(
        &self,
        op: &Operator,
        q: &users::UserQuery,
    ) -> IdentityResult<(Vec<user::Model>, u64)> {
        self.require(op, "user", "list", "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
            .await?;
        Ok(users::list(&self.db, q).await?)
    }

    /// # Errors
    /// Not allowed, unknown user.
    pub async fn admin_get_user(&self, op: &Operator, user_id: &str) -> IdentityResult<user::Model> {
        self.require(op, "user", "get", "YOU_ARE_NOT_ALLOWED_TO_GET_USER")
            .await?;
        self.target(user_id).await
    }

    /// # Errors
    /// Not allowed, a taken email, a bad password.
    pub async fn admin_create_user(&self, op: &Operator, new: NewUser) -> IdentityResult<user::Model> {
        self.require(op, "user", "create", "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS")
            .await?;
        if new.role.is_some() {
            self.require(op, "user", "set-role", "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE")
                .await?;
        }
        if let Some(p) = &new.password {
            self.check_password_length(p)?;
        }
        let email = new.email.to_lowercase();
        if users::find_by_email(&self.db, &email).await?.is_some() {
            return Err(IdentityError::AdminInvalid(
                "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
            ));
        }
        let role = new.role.map_or_else(|| "user".to_owned(), |r| r.join(","));
        let now = self.now();
        let created = users::insert(
            &self.db,
            users::NewUser {
                id: random::generate_id(),
                name: new.name,
                email,
                image: None,
                email_verified: false,
                role: Some(role),
            },
            now,
        )
        .await
        .map_err(|e| match e {
            DataError::Conflict => IdentityError::AdminInvalid("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
            other => other.into(),
        })?;
        if let Some(p) = new.password {
            let hash = self.passwords.hash(&p).await?;
            accounts::insert_credential(&self.db, random::generate_id(), &created.id, hash, now).await?;
        }
        self.platform_audit(
            op,
            "admin.user_create",
            &created.id,
            json!({ "email": created.email, "role": created.role }),
        )
        .await?;
        Ok(created)
    }

    /// # Errors
    /// Not allowed, unknown user, a taken email.
    pub async fn admin_update_user(
        &self,
        op: &Operator,
        user_id: &str,
        change: users::AdminChange,
    ) -> IdentityResult<user::Model> {
        self.require(op, "user", "update", "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS")
            .await?;
        if change.role.is_some() {
            self.require(op, "user", "set-role", "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE")
                .await?;
        }
        if change.email.is_some() || change.email_verified.is_some() {
            self.require(op, "user", "set-email", "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL")
                .await?;
        }
        if change.ban.is_some() {
            self.require(op, "user", "ban", "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
                .await?;
        }
        let banning = change.ban.as_ref().is_some_and(|(b, _, _)| *b);
        let target = self.target(user_id).await?;
        let updated = users::admin_update(&self.db, target, change, self.now())
            .await
            .map_err(|e| match e {
                DataError::Conflict => IdentityError::AdminInvalid("USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"),
                other => other.into(),
            })?;
        if banning {
            self.sessions.revoke_all(user_id, None).await?;
        } else {
            self.sessions.forget_user(user_id).await?;
        }
        self.platform_audit(op, "admin.user_update", user_id, Value::Null)
            .await?;
        Ok(updated)
    }

    /// # Errors
    /// Not allowed, unknown user.
    pub async fn admin_set_role(
        &self,
        op: &Operator,
        user_id: &str,
        roles: &[String],
    ) -> IdentityResult<user::Model> {
        self.require(op, "user", "set-role", "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE")
            .await?;
        let target = self.target(user_id).await?;
        let from = target.role.clone();
        let role = roles
            .iter()
            .flat_map(|r| split_roles(r))
            .collect::<Vec<_>>()
            .join(",");
        let change = users::AdminChange {
            role: Some(role.clone()),
            ..Default::default()
        };
        let updated = users::admin_update(&self.db, target, change, self.now()).await?;
        self.sessions.forget_user(user_id).await?;
        self.platform_audit(op, "admin.set_role", user_id, json!({ "from": from, "to": role }))
            .await?;
        Ok(updated)
    }

    /// # Errors
    /// Not allowed, unknown user, a bad password.
    pub async fn admin_set_password(&self, op: &Operator, user_id: &str, new: &str) -> IdentityResult<()> {
        self.require(
            op,
            "user",
            "set-password",
            "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD",
        )
        .await?;
        if op.auth.session.impersonated_by.is_some() {
            return Err(IdentityError::ImpersonationForbidden);
        }
        self.check_password_length(new)?;
        self.target(user_id).await?;
        let hash = self.passwords.hash(new).await?;
        let now = self.now();
        match accounts::find_credential(&self.db, user_id).await? {
            Some(a) => accounts::set_password(&self.db, a, hash, now).await?,
            None => accounts::insert_credential(&self.db, random::generate_id(), user_id, hash, now).await?,
        };
        self.platform_audit(op, "admin.set_password", user_id, Value::Null)
            .await?;
        Ok(())
    }

    /// Bans the user (optionally for `expires_in`) and ends all their sessions.
    ///
    /// # Errors
    /// Not allowed, self, unknown user.
    pub async fn admin_ban(
        &self,
        op: &Operator,
        user_id: &str,
        reason: Option<String>,
        expires_in: Option<i64>,
    ) -> IdentityResult<user::Model> {
        self.require(op, "user", "ban", "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
            .await?;
        if user_id == op.auth.user.id {
            return Err(IdentityError::AdminInvalid("YOU_CANNOT_BAN_YOURSELF"));
        }
        let target = self.target(user_id).await?;
        let now = self.now();
        let reason = reason.unwrap_or_else(|| DEFAULT_BAN_REASON.to_owned());
        let until = expires_in.map(|s| now + TimeDelta::seconds(s));
        let change = users::AdminChange {
            ban: Some((true, Some(reason.clone()), until)),
            ..Default::default()
        };
        let updated = users::admin_update(&self.db, target, change, now).await?;
        self.sessions.revoke_all(user_id, None).await?;
        self.platform_audit(
            op,
            "admin.ban",
            user_id,
            json!({ "reason": reason, "expiresIn": expires_in }),
        )
        .await?;
        Ok(updated)
    }

    /// # Errors
    /// Not allowed, unknown user.
    pub async fn admin_unban(&self, op: &Operator, user_id: &str) -> IdentityResult<user::Model> {
        self.require(op, "user", "ban", "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS")
            .await?;
        let target = self.target(user_id).await?;
        let change = users::AdminChange {
            ban: Some((false, None, None)),
            ..Default::default()
        };
        let updated = users::admin_update(&self.db, target, change, self.now()).await?;
        self.sessions.forget_user(user_id).await?;
        self.platform_audit(op, "admin.unban", user_id, Value::Null)
            .await?;
        Ok(updated)
    }

    /// # Errors
    /// Not allowed.
    pub async fn admin_list_sessions(
        &self,
        op: &Operator,
        user_id: &str,
    ) -> IdentityResult<Vec<session::Model>> {
        self.require(
            op,
            "session",
            "list",
            "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS",
        )
        .await?;
        Ok(self.sessions.list(user_id).await?)
    }

    /// # Errors
    /// Not allowed.
    pub async fn admin_revoke_session(&self, op: &Operator, token: &str) -> IdentityResult<()> {
        self.require(
            op,
            "session",
            "revoke",
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        )
        .await?;
        self.sessions.revoke(token).await?;
        Ok(())
    }

    /// # Errors
    /// Not allowed.
    pub async fn admin_revoke_sessions(&self, op: &Operator, user_id: &str) -> IdentityResult<()> {
        self.require(
            op,
            "session",
            "revoke",
            "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS",
        )
        .await?;
        self.sessions.revoke_all(user_id, None).await?;
        self.platform_audit(op, "admin.revoke_sessions", user_id, Value::Null)
            .await?;
        Ok(())
    }

    /// # Errors
    /// Not allowed, self, unknown user.
    pub async fn admin_remove_user(&self, op: &Operator, user_id: &str) -> IdentityResult<()> {
        self.require(op, "user", "delete", "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS")
            .await?;
        if user_id == op.auth.user.id {
            return Err(IdentityError::AdminInvalid("YOU_CANNOT_REMOVE_YOURSELF"));
        }
        self.target(user_id).await?;
        self.sessions.revoke_all(user_id, None).await?;
        users::delete(&self.db, user_id, self.now()).await?;
        self.platform_audit(op, "admin.user_remove", user_id, Value::Null)
            .await?;
        Ok(())
    }

    /// Opens an impersonation session (at most an hour). An impersonation session cannot start
    /// another; impersonating an admin needs `impersonate-admins`.
    ///
    /// # Errors
    /// Not allowed, unknown user, a missing reason when one is required.
    pub async fn impersonate(
        &self,
        op: &Operator,
        user_id: &str,
        reason: Option<String>,
    ) -> IdentityResult<AuthSession> {
        if op.auth.session.impersonated_by.is_some() {
            return Err(IdentityError::ImpersonationForbidden);
        }
        self.require(
            op,
            "user",
            "impersonate",
            "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS",
        )
        .await?;
        if self.settings.impersonation_requires_reason
            && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(IdentityError::ReasonRequired);
        }
        let target = self.target(user_id).await?;
        let target_is_admin = split_roles(target.role.as_deref().unwrap_or(""))
            .iter()
            .any(|r| r == "admin");
        if target_is_admin
            && !self
                .platform_allows(&op.auth.user, "user", "impersonate-admins")
                .await?
        {
            return Err(IdentityError::AdminDenied("YOU_CANNOT_IMPERSONATE_ADMINS"));
        }
        let session = self
            .sessions
            .create_impersonation(&target, &op.auth.user.id, &op.client, IMPERSONATION_LIFETIME)
            .await?;
        self.platform_audit(
            op,
            "admin.impersonation_start",
            user_id,
            json!({ "reason": reason, "sessionId": session.session.id }),
        )
        .await?;
        Ok(session)
    }

    /// Ends an impersonation and returns the admin's own session (named by the `admin_session`
    /// cookie's token), which must belong to the impersonating admin.
    ///
    /// # Errors
    /// Not impersonating, or the admin session is gone.
    pub async fn stop_impersonating(
        &self,
        op: &Operator,
        admin_token: Option<&str>,
    ) -> IdentityResult<AuthSession> {
        let Some(admin_id) = op.auth.session.impersonated_by.clone() else {
            return Err(IdentityError::NotImpersonating);
        };
        let admin = match admin_token {
            Some(t) => self.sessions.find(t).await?,
            None => None,
        };
        let Some(admin) = admin.filter(|a| a.user.id == admin_id) else {
            return Err(IdentityError::NotImpersonating);
        };
        self.sessions.revoke(&op.auth.session.token).await?;
        let event_op = Operator {
            auth: admin.clone(),
            client: op.client.clone(),
        };
        self.platform_audit(
            &event_op,
            "admin.impersonation_stop",
            &op.auth.user.id,
            json!({ "sessionId": op.auth.session.id }),
        )
        .await?;
        Ok(admin)
    }

    /// # Errors
    /// Storage failures.
    pub async fn admin_has_permission(
        &self,
        auth: &AuthSession,
        wanted: &Statements,
    ) -> IdentityResult<bool> {
        let roles = split_roles(auth.user.role.as_deref().unwrap_or("user"));
        Ok(self.authz.allows(PLATFORM, &roles, wanted).await?)
    }
}

impl IdentityService {
    /// For the `castellan admin create` command: the first admin, without an admin to ask.
    /// Creates the user with the admin role, or gives an existing user the role (and the
    /// password, if they have none).
    ///
    /// # Errors
    /// A bad password; storage failures.
    pub async fn ensure_admin(&self, email: &str, name: &str, password: &str) -> IdentityResult<user::Model> {
        self.check_password_length(password)?;
        let now = self.now();
        let user = match users::find_by_email(&self.db, email).await? {
            Some(existing) => {
                let mut roles = split_roles(existing.role.as_deref().unwrap_or("user"));
                if !roles.iter().any(|r| r == "admin") {
                    roles.push("admin".to_owned());
                }
                let change = users::AdminChange {
                    role: Some(roles.join(",")),
                    ..Default::default()
                };
                users::admin_update(&self.db, existing, change, now).await?
            }
            None => {
                let new = users::NewUser {
                    id: random::generate_id(),
                    name: name.to_owned(),
                    email: email.to_owned(),
                    image: None,
                    email_verified: true,
                    role: Some("admin".to_owned()),
                };
                users::insert(&self.db, new, now).await?
            }
        };
        if accounts::find_credential(&self.db, &user.id)
            .await?
            .and_then(|a| a.password)
            .is_none()
        {
            self.set_password(&user.id, password).await?;
        }
        self.sessions.forget_user(&user.id).await?;
        Ok(user)
    }
}
