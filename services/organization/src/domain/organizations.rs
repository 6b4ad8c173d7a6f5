//! Creating, reading, updating, deleting and activating organizations.

use castellan_authz::admission;
use castellan_authz::grant;
use castellan_authz::{CREATOR_ROLE, OrgScope, repo};
use castellan_crypto::{random, signing};
use castellan_data::DataError;
use castellan_data::entity::{invitation, member, organization, team, team_member, user};
use castellan_data::repo::organizations;
use castellan_session::AuthSession;
use sea_orm::ActiveValue::{NotSet, Set};
use serde_json::Value;

use super::{Actor, MEMBERSHIP_LIMIT, OrganizationService};
use crate::error::{OrgError, OrgResult};

pub struct NewOrganization {
    pub name: String,
    pub slug: String,
    pub logo: Option<String>,
    pub metadata: Option<Value>,
    pub keep_current_active: bool,
}

pub struct Created {
    pub organization: organization::Model,
    pub owner: member::Model,
}

/// An organization with everything get-full-organization shows.
pub struct FullOrganization {
    pub organization: organization::Model,
    pub members: Vec<(member::Model, Option<user::Model>)>,
    pub invitations: Vec<invitation::Model>,
    pub teams: Vec<team::Model>,
}

/// Changes to an organization; `logo: Some(None)` clears it.
#[derive(Default)]
pub struct OrganizationChange {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub logo: Option<Option<String>>,
    pub metadata: Option<Value>,
}

/// Better Auth's `teamMember.membershipKey`: base64url(SHA-256(JSON `[teamId, userId]`)).
#[must_use]
pub fn membership_key(team_id: &str, user_id: &str) -> String {
    signing::sha256_b64url(serde_json::json!([team_id, user_id]).to_string().as_bytes())
}

impl OrganizationService {
    /// Creates the organization with the caller as owner, and its default team. Unless asked
    /// not to, the new organization becomes the session's active one.
    ///
    /// # Errors
    /// `ORGANIZATION_ALREADY_EXISTS` for a taken slug; storage failures.
    pub async fn create(&self, actor: &Actor, new: NewOrganization) -> OrgResult<Created> {
        if organizations::find_by_slug(&self.db, &new.slug).await?.is_some() {
            return Err(OrgError::invalid("ORGANIZATION_ALREADY_EXISTS"));
        }
        let now = self.now();
        let organization = organization::Model {
            id: random::generate_id(),
            name: new.name,
            slug: new.slug,
            logo: new.logo,
            created_at: now,
            metadata: new.metadata.map(|m| m.to_string()),
        };
        let owner = member::Model {
            id: random::generate_id(),
            organization_id: organization.id.clone(),
            user_id: actor.user_id().to_owned(),
            role: CREATOR_ROLE.to_owned(),
            created_at: now,
        };
        let default_team = team::Model {
            id: random::generate_id(),
            name: organization.name.clone(),
            member_count: 1,
            organization_id: organization.id.clone(),
            created_at: now,
            updated_at: None,
        };
        let owner_seat = team_member::Model {
            id: random::generate_id(),
            team_id: default_team.id.clone(),
            user_id: actor.user_id().to_owned(),
            membership_key: Some(membership_key(&default_team.id, actor.user_id())),
            created_at: Some(now),
        };
        let keep_current_active = new.keep_current_active;
        let rows = admission::NewOrganization {
            organization: organization.clone(),
            owner: owner.clone(),
            default_team: default_team.clone(),
            owner_seat,
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        match admission::create_organization(&txn, &rows)
            .await
            .map_err(DataError::from)
        {
            Err(DataError::Conflict) => return Err(OrgError::invalid("ORGANIZATION_ALREADY_EXISTS")),
            other => other?,
        }
        self.audit(
            &txn,
            actor,
            &organization.id,
            "organization.create",
            ("organization", &organization.id),
            Value::Null,
        )
        .await?;
        txn.commit().await?;
        if !keep_current_active {
            self.sessions
                .set_active(
                    &actor.auth,
                    Some(organization.id.clone()),
                    Some(Some(default_team.id.clone())),
                )
                .await?;
        }
        Ok(Created { organization, owner })
    }

    /// # Errors
    /// Storage failures.
    pub async fn slug_is_free(&self, slug: &str) -> OrgResult<bool> {
        Ok(organizations::find_by_slug(&self.db, slug).await?.is_none())
    }

    /// # Errors
    /// Storage failures.
    pub async fn list(&self, actor: &Actor) -> OrgResult<Vec<organization::Model>> {
        Ok(repo::organizations_of(&self.db, actor.user_id()).await?)
    }

    /// Resolves an organization for reading: the slug wins over the id, then the active one.
    /// `None` when nothing names one. A non-member's refused read also clears their active
    /// organization, as Better Auth does.
    pub(crate) async fn readable_scope(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        slug: Option<&str>,
    ) -> OrgResult<Option<OrgScope>> {
        // No existence check ahead of the membership check: an outsider gets the same answer for
        // a real organization and a made-up one.
        let not_member = || OrgError::denied("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION");
        let id = match slug.filter(|s| !s.is_empty()) {
            Some(slug) => match organizations::find_by_slug(&self.db, slug).await? {
                Some(o) => o.id,
                None => return Err(not_member()),
            },
            None => match Self::target(actor, org_id) {
                Some(id) => id.to_owned(),
                None => return Ok(None),
            },
        };
        match self.scope(actor, &id).await? {
            Some(scope) => Ok(Some(scope)),
            None => {
                if actor.active_org() == Some(id.as_str()) {
                    self.sessions.set_active(&actor.auth, None, None).await?;
                }
                Err(not_member())
            }
        }
    }

    /// # Errors
    /// Not found, not a member, storage failures.
    pub async fn get(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        slug: Option<&str>,
    ) -> OrgResult<Option<organization::Model>> {
        Ok(self
            .readable_scope(actor, org_id, slug)
            .await?
            .map(|s| s.organization().clone()))
    }

    /// # Errors
    /// Not found, not a member, storage failures.
    pub async fn full(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        slug: Option<&str>,
        members_limit: Option<u64>,
    ) -> OrgResult<Option<FullOrganization>> {
        let Some(scope) = self.readable_scope(actor, org_id, slug).await? else {
            return Ok(None);
        };
        let (members, _) =
            repo::members_with_users(&self.db, &scope, members_limit.unwrap_or(MEMBERSHIP_LIMIT), 0).await?;
        // Better Auth 1.7.25 shows invitations only to those who may create them.
        let invitations = match self.authz.permit::<grant::InvitationCreate>(&scope).await? {
            Some(permit) => repo::invitations(&self.db, &permit).await?,
            None => Vec::new(),
        };
        let teams = repo::teams(&self.db, &scope).await?;
        Ok(Some(FullOrganization {
            organization: scope.organization().clone(),
            members,
            invitations,
            teams,
        }))
    }

    /// # Errors
    /// Not found, not a member, not allowed, a taken slug, storage failures.
    pub async fn update(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        change: OrganizationChange,
    ) -> OrgResult<organization::Model> {
        let id = Self::target(actor, org_id)
            .ok_or_else(|| OrgError::invalid("ORGANIZATION_NOT_FOUND"))?
            .to_owned();
        let scope = self
            .require_scope(
                actor,
                &id,
                OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
            )
            .await?;
        let permit = self
            .require_permit::<grant::OrganizationUpdate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION"),
            )
            .await?;
        if let Some(slug) = &change.slug
            && organizations::find_by_slug(&self.db, slug)
                .await?
                .is_some_and(|o| o.id != id)
        {
            return Err(OrgError::invalid("ORGANIZATION_SLUG_ALREADY_TAKEN"));
        }
        let row = organization::ActiveModel {
            id: NotSet,
            name: change.name.clone().map_or(NotSet, Set),
            slug: change.slug.clone().map_or(NotSet, Set),
            logo: change.logo.clone().map_or(NotSet, Set),
            created_at: NotSet,
            metadata: change
                .metadata
                .as_ref()
                .map_or(NotSet, |m| Set(Some(m.to_string()))),
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        let (updated, announced) = match repo::update_organization(&txn, &permit, row).await {
            Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => {
                return Err(OrgError::invalid("ORGANIZATION_SLUG_ALREADY_TAKEN"));
            }
            other => other?,
        };
        let details = serde_json::json!({ "name": change.name, "slug": change.slug });
        self.audit(
            &txn,
            actor,
            &id,
            "organization.update",
            ("organization", &id),
            details,
        )
        .await?;
        txn.commit().await?;
        self.authz.announce(announced).await;
        Ok(updated)
    }

    /// # Errors
    /// Not found, not a member, not allowed, storage failures.
    pub async fn delete(&self, actor: &Actor, org_id: &str) -> OrgResult<organization::Model> {
        let scope = self
            .require_scope(
                actor,
                org_id,
                OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
            )
            .await?;
        let org = scope.organization().clone();
        let permit = self
            .require_permit::<grant::OrganizationDelete>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION"),
            )
            .await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        let change = repo::delete_organization(&txn, &permit).await?;
        // The log outlives the organization: its deletion is the last entry.
        self.audit(
            &txn,
            actor,
            org_id,
            "organization.delete",
            ("organization", org_id),
            Value::Null,
        )
        .await?;
        txn.commit().await?;
        self.authz.announce(change).await;
        self.authz.invalidate(org_id).await;
        if actor.active_org() == Some(org_id) {
            self.sessions.set_active(&actor.auth, None, Some(None)).await?;
        }
        Ok(org)
    }

    /// `set-active`: `Some(None)` clears the active organization; `None` (no id, no slug)
    /// re-reads the current one. Returns the new session and the organization.
    ///
    /// # Errors
    /// Not found, not a member (which also clears the active organization), storage failures.
    pub async fn set_active(
        &self,
        actor: &Actor,
        org_id: Option<Option<&str>>,
        slug: Option<&str>,
    ) -> OrgResult<(AuthSession, Option<organization::Model>)> {
        // `None`: a slug that names no organization, answered like a foreign one (no existence
        // oracle).
        let id: Option<String> = match (org_id, slug) {
            (Some(None), None) => {
                let session = self.sessions.set_active(&actor.auth, None, None).await?;
                return Ok((session, None));
            }
            (_, Some(slug)) => organizations::find_by_slug(&self.db, slug).await?.map(|o| o.id),
            (Some(Some(id)), None) => Some(id.to_owned()),
            (None, None) => match actor.active_org() {
                Some(id) => Some(id.to_owned()),
                None => return Ok((actor.auth.clone(), None)),
            },
        };
        let scope = match &id {
            Some(id) => self.scope(actor, id).await?,
            None => None,
        };
        let (Some(id), Some(scope)) = (id, scope) else {
            self.sessions.set_active(&actor.auth, None, None).await?;
            return Err(OrgError::denied("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"));
        };
        let session = self.sessions.set_active(&actor.auth, Some(id), None).await?;
        Ok((session, Some(scope.organization().clone())))
    }
}
