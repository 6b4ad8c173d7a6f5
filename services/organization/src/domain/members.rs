//! Members: listing, roles, removal, leaving, and permission questions.

use castellan_authz::grant;
use castellan_authz::{CREATOR_ROLE, OrgScope, Statements, repo};
use castellan_data::entity::{member, user};
use serde_json::json;

use super::{Actor, MEMBERSHIP_LIMIT, OrganizationService, normalise_roles};
use castellan_domain::Refusal;

use crate::error::{Kind, OrgError, OrgResult};

impl OrganizationService {
    /// # Errors
    /// Not a member (403), storage failures.
    pub async fn list_members(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        slug: Option<&str>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> OrgResult<(Vec<(member::Model, Option<user::Model>)>, u64)> {
        let not_member = || OrgError::denied("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
        let scope = match self.readable_scope(actor, org_id, slug).await {
            Ok(Some(scope)) => scope,
            Ok(None) => return Err(OrgError::invalid("NO_ACTIVE_ORGANIZATION")),
            Err(OrgError::Rejected(Refusal {
                code: Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
                ..
            })) => {
                return Err(not_member());
            }
            Err(e) => return Err(e),
        };
        Ok(repo::members_with_users(
            &self.db,
            &scope,
            limit.unwrap_or(MEMBERSHIP_LIMIT),
            offset.unwrap_or(0),
        )
        .await?)
    }

    /// The organization's scope for a member-management call, with Better Auth's errors.
    async fn managing_scope(&self, actor: &Actor, org_id: Option<&str>) -> OrgResult<OrgScope> {
        let id = Self::target(actor, org_id)
            .ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?
            .to_owned();
        self.require_scope(actor, &id, OrgError::invalid("MEMBER_NOT_FOUND"))
            .await
    }

    /// Counts the holders of the creator role.
    async fn creators(&self, scope: &OrgScope) -> OrgResult<usize> {
        Ok(repo::members_with_role(&self.db, scope, CREATOR_ROLE)
            .await?
            .len())
    }

    /// `update-member-role`. Only creators touch creators or grant the creator role; the last
    /// creator cannot demote themself. The creator passes the permission check automatically.
    ///
    /// # Errors
    /// As Better Auth's: no org, not a member, not allowed, unknown role, last owner.
    pub async fn update_member_role(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        member_id: &str,
        requested: &[String],
    ) -> OrgResult<member::Model> {
        let roles = normalise_roles(requested);
        if roles.is_empty() {
            return Err(OrgError::message_only(Kind::Invalid, "Role is required"));
        }
        let scope = self.managing_scope(actor, org_id).await?;
        let denied = || OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER");
        let target = repo::member_by_id(&self.db, &scope, member_id)
            .await?
            .ok_or_else(denied)?;
        let target_is_creator = castellan_authz::permissions::split_roles(&target.role)
            .iter()
            .any(|r| r == CREATOR_ROLE);
        let grants_creator = roles.iter().any(|r| r == CREATOR_ROLE);
        if !scope.is_creator() && (target_is_creator || grants_creator) {
            return Err(denied());
        }
        let known = self.known_roles(&scope).await?;
        let unknown: Vec<&str> = roles
            .iter()
            .filter(|r| !known.contains(r))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(OrgError::with_message(
                Kind::Invalid,
                "ROLE_NOT_FOUND",
                format!("ROLE_NOT_FOUND: {}", unknown.join(", ")),
            ));
        }
        // The last creator demoting themself would leave the organization without an owner.
        if target.user_id == actor.user_id()
            && target_is_creator
            && !grants_creator
            && self.creators(&scope).await? <= 1
        {
            return Err(OrgError::invalid(
                "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER",
            ));
        }
        let permit = self
            .require_permit::<grant::MemberUpdate>(&scope, denied())
            .await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::lock_organization(&txn, &scope).await?;
        let (updated, change) = repo::set_member_role(&txn, &permit, target.clone(), roles.join(",")).await?;
        // Re-check under the transaction: two owners demoting each other at once must not
        // leave the organization without one.
        if repo::members_with_role(&txn, &scope, CREATOR_ROLE)
            .await?
            .is_empty()
        {
            return Err(OrgError::invalid(
                "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER",
            ));
        }
        let details = json!({ "from": target.role, "to": updated.role, "userId": target.user_id });
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "member.role_update",
            ("member", &target.id),
            details,
        )
        .await?;
        txn.commit().await?;
        self.authz.announce(change).await;
        Ok(updated)
    }

    /// `remove-member` by member id or email.
    ///
    /// # Errors
    /// As Better Auth's.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        member_id_or_email: &str,
    ) -> OrgResult<member::Model> {
        let scope = self.managing_scope(actor, org_id).await?;
        let target = if member_id_or_email.contains('@') {
            repo::member_by_user(&self.db, &scope, None, Some(member_id_or_email)).await?
        } else {
            repo::member_by_id(&self.db, &scope, member_id_or_email).await?
        }
        .ok_or_else(|| OrgError::invalid("MEMBER_NOT_FOUND"))?;
        let target_is_creator = castellan_authz::permissions::split_roles(&target.role)
            .iter()
            .any(|r| r == CREATOR_ROLE);
        if target_is_creator && (!scope.is_creator() || self.creators(&scope).await? <= 1) {
            return Err(OrgError::invalid(
                "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
            ));
        }
        if self.authz.permit::<grant::MemberDelete>(&scope).await?.is_none() {
            return Err(OrgError::unauthenticated(
                "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER",
            ));
        }
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::lock_organization(&txn, &scope).await?;
        let change = repo::remove_member(&txn, &scope, &target).await?;
        if target_is_creator
            && repo::members_with_role(&txn, &scope, CREATOR_ROLE)
                .await?
                .is_empty()
        {
            return Err(OrgError::invalid(
                "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
            ));
        }
        let details = json!({ "userId": target.user_id, "role": target.role });
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "member.remove",
            ("member", &target.id),
            details,
        )
        .await?;
        txn.commit().await?;
        self.authz.announce(change).await;
        if target.user_id == actor.user_id() && actor.active_org() == Some(scope.org_id()) {
            self.sessions.set_active(&actor.auth, None, None).await?;
        }
        Ok(target)
    }

    /// `leave`: the caller's own membership ends, unless they are the last owner.
    ///
    /// # Errors
    /// Not a member, last owner, storage failures.
    pub async fn leave(&self, actor: &Actor, org_id: &str) -> OrgResult<(member::Model, user::Model)> {
        let scope = self
            .require_scope(actor, org_id, OrgError::invalid("MEMBER_NOT_FOUND"))
            .await?;
        if scope.is_creator() && self.creators(&scope).await? <= 1 {
            return Err(OrgError::invalid(
                "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
            ));
        }
        let me = scope.member().clone();
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::lock_organization(&txn, &scope).await?;
        let change = repo::remove_member(&txn, &scope, &me).await?;
        if scope.is_creator()
            && repo::members_with_role(&txn, &scope, CREATOR_ROLE)
                .await?
                .is_empty()
        {
            return Err(OrgError::invalid(
                "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
            ));
        }
        self.audit(
            &txn,
            actor,
            org_id,
            "member.leave",
            ("member", &me.id),
            json!({ "role": me.role }),
        )
        .await?;
        txn.commit().await?;
        self.authz.announce(change).await;
        if actor.active_org() == Some(org_id) {
            self.sessions.set_active(&actor.auth, None, None).await?;
        }
        Ok((me, actor.auth.user.clone()))
    }

    /// `get-active-member`: only the session's active organization counts.
    ///
    /// # Errors
    /// No active organization, not a member.
    pub async fn active_member(&self, actor: &Actor) -> OrgResult<(member::Model, user::Model)> {
        let id = actor
            .active_org()
            .ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?
            .to_owned();
        let scope = self
            .require_scope(actor, &id, OrgError::invalid("MEMBER_NOT_FOUND"))
            .await?;
        Ok((scope.member().clone(), actor.auth.user.clone()))
    }

    /// `get-active-member-role`: any member may read any other member's role.
    ///
    /// # Errors
    /// No organization, not a member.
    pub async fn active_member_role(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        slug: Option<&str>,
        user_id: Option<&str>,
    ) -> OrgResult<String> {
        let not_member = || OrgError::denied("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
        let scope = match self.readable_scope(actor, org_id, slug).await {
            Ok(Some(scope)) => scope,
            Ok(None) => return Err(OrgError::invalid("NO_ACTIVE_ORGANIZATION")),
            Err(OrgError::Rejected(Refusal {
                code: Some("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
                ..
            })) => {
                return Err(not_member());
            }
            Err(e) => return Err(e),
        };
        match user_id.filter(|u| *u != actor.user_id()) {
            None => Ok(scope.member().role.clone()),
            Some(other) => Ok(repo::member_by_user(&self.db, &scope, Some(other), None)
                .await?
                .ok_or_else(not_member)?
                .role),
        }
    }

    /// `has-permission`: whether any of the caller's roles grants the whole request.
    ///
    /// # Errors
    /// No organization (400), not a member (401).
    pub async fn has_permission(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        wanted: Option<&Statements>,
    ) -> OrgResult<bool> {
        let id = Self::target(actor, org_id)
            .ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?
            .to_owned();
        let scope = self
            .require_scope(
                actor,
                &id,
                OrgError::unauthenticated("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
            )
            .await?;
        let Some(wanted) = wanted else { return Ok(false) };
        Ok(self.authz.allows(scope.org_id(), scope.roles(), wanted).await?)
    }
}
