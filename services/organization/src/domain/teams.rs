//! Teams inside an organization and their members.

use castellan_authz::grant;
use castellan_authz::{OrgScope, repo};
use castellan_crypto::random;
use castellan_data::entity::{team, team_member};
use castellan_session::AuthSession;
use serde_json::json;

use super::organizations::membership_key;
use super::{Actor, OrganizationService};
use crate::error::{OrgError, OrgResult};

impl OrganizationService {
    async fn team_scope(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        not_member: OrgError,
    ) -> OrgResult<OrgScope> {
        let id = Self::target(actor, org_id)
            .ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?
            .to_owned();
        self.require_scope(actor, &id, not_member).await
    }

    /// # Errors
    /// Not a member, not allowed.
    pub async fn create_team(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        name: String,
    ) -> OrgResult<team::Model> {
        let scope = self
            .team_scope(
                actor,
                org_id,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION"),
            )
            .await?;
        let permit = self
            .require_permit::<grant::TeamCreate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION"),
            )
            .await?;
        let now = self.now();
        let row = team::Model {
            id: random::generate_id(),
            name,
            member_count: 0,
            organization_id: scope.org_id().to_owned(),
            created_at: now,
            updated_at: Some(now),
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::create_team(&txn, &permit, row.clone()).await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "team.create",
            ("team", &row.id),
            json!({ "name": row.name }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// # Errors
    /// Not a member.
    pub async fn list_teams(&self, actor: &Actor, org_id: Option<&str>) -> OrgResult<Vec<team::Model>> {
        let scope = self
            .team_scope(
                actor,
                org_id,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION"),
            )
            .await?;
        Ok(repo::teams(&self.db, &scope).await?)
    }

    /// # Errors
    /// Not a member or not allowed, unknown team.
    pub async fn update_team(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        team_id: &str,
        name: Option<String>,
    ) -> OrgResult<team::Model> {
        let denied = || OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM");
        let scope = self.team_scope(actor, org_id, denied()).await?;
        let permit = self.require_permit::<grant::TeamUpdate>(&scope, denied()).await?;
        let existing = repo::team_by_id(&self.db, &scope, team_id)
            .await?
            .ok_or_else(|| OrgError::invalid("TEAM_NOT_FOUND"))?;
        let txn = castellan_data::begin_write(&self.db).await?;
        let updated = repo::rename_team(&txn, &permit, &existing.id, name.clone(), self.now()).await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "team.update",
            ("team", team_id),
            json!({ "name": name }),
        )
        .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// # Errors
    /// Not a member, the caller's active team, not allowed, unknown or last team.
    pub async fn remove_team(&self, actor: &Actor, org_id: Option<&str>, team_id: &str) -> OrgResult<()> {
        let denied = || OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM");
        let scope = self.team_scope(actor, org_id, denied()).await?;
        if actor.auth.session.active_team_id.as_deref() == Some(team_id) {
            return Err(denied());
        }
        let permit = self
            .require_permit::<grant::TeamDelete>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION"),
            )
            .await?;
        let teams = repo::teams(&self.db, &scope).await?;
        if !teams.iter().any(|t| t.id == team_id) {
            return Err(OrgError::invalid("TEAM_NOT_FOUND"));
        }
        if teams.len() <= 1 {
            return Err(OrgError::invalid("UNABLE_TO_REMOVE_LAST_TEAM"));
        }
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::delete_team(&txn, &permit, team_id).await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "team.delete",
            ("team", team_id),
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// `set-active-team`: `Some(None)` clears it.
    ///
    /// # Errors
    /// No active organization, unknown team, not a team member.
    pub async fn set_active_team(
        &self,
        actor: &Actor,
        team_id: Option<Option<&str>>,
    ) -> OrgResult<(AuthSession, Option<team::Model>)> {
        let team_id = match team_id {
            Some(None) => {
                let org = actor.active_org().map(str::to_owned);
                return Ok((
                    self.sessions.set_active(&actor.auth, org, Some(None)).await?,
                    None,
                ));
            }
            Some(Some(id)) => id.to_owned(),
            None => match actor.auth.session.active_team_id.clone() {
                Some(id) => id,
                None => return Ok((actor.auth.clone(), None)),
            },
        };
        let org_id = actor
            .active_org()
            .ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?
            .to_owned();
        let scope = self
            .require_scope(actor, &org_id, OrgError::invalid("TEAM_NOT_FOUND"))
            .await?;
        let team = repo::team_by_id(&self.db, &scope, &team_id)
            .await?
            .ok_or_else(|| OrgError::invalid("TEAM_NOT_FOUND"))?;
        if !repo::is_seated(&self.db, &scope, &team.id, actor.user_id()).await? {
            return Err(OrgError::denied("USER_IS_NOT_A_MEMBER_OF_THE_TEAM"));
        }
        let session = self
            .sessions
            .set_active(&actor.auth, Some(org_id), Some(Some(team.id.clone())))
            .await?;
        Ok((session, Some(team)))
    }

    /// `list-user-teams`, with Better Auth's rules: the caller's own teams (in one organization,
    /// or in every organization they belong to), or, with `user_id`, another member's teams in
    /// the named or active organization, which needs `member:update` there.
    ///
    /// # Errors
    /// No organization, not a member, not allowed, target not a member.
    pub async fn list_user_teams(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        user_id: Option<&str>,
    ) -> OrgResult<Vec<team::Model>> {
        let not_member = || OrgError::denied("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
        let target_user = user_id.filter(|u| !u.is_empty()).unwrap_or(actor.user_id());
        if target_user != actor.user_id() {
            let id =
                Self::target(actor, org_id).ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?;
            let scope = self.require_scope(actor, id, not_member()).await?;
            self.require_permit::<grant::MemberUpdate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER"),
            )
            .await?;
            if repo::member_by_user(&self.db, &scope, Some(target_user), None)
                .await?
                .is_none()
            {
                return Err(OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"));
            }
            return Ok(repo::user_teams(&self.db, &scope, target_user).await?);
        }
        match org_id.filter(|s| !s.is_empty()) {
            Some(id) => {
                let scope = self.require_scope(actor, id, not_member()).await?;
                Ok(repo::user_teams(&self.db, &scope, actor.user_id()).await?)
            }
            None => Ok(repo::own_teams(&self.db, actor.user_id()).await?),
        }
    }

    /// `add-team-member`; idempotent.
    ///
    /// # Errors
    /// Not a member, not allowed, target not a member, unknown team.
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        team_id: &str,
        user_id: &str,
    ) -> OrgResult<team_member::Model> {
        let scope = self
            .team_scope(
                actor,
                org_id,
                OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
            )
            .await?;
        let permit = self
            .require_permit::<grant::MemberUpdate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER"),
            )
            .await?;
        if repo::member_by_user(&self.db, &scope, Some(user_id), None)
            .await?
            .is_none()
        {
            return Err(OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"));
        }
        let team = repo::team_by_id(&self.db, &scope, team_id)
            .await?
            .ok_or_else(|| OrgError::invalid("TEAM_NOT_FOUND"))?;
        let key = membership_key(&team.id, user_id);
        let seat = team_member::Model {
            id: random::generate_id(),
            team_id: team.id.clone(),
            user_id: user_id.to_owned(),
            membership_key: Some(key),
            created_at: Some(self.now()),
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        let seat = repo::add_seat(&txn, &permit, seat).await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "team.member_add",
            ("team", &team.id),
            json!({ "userId": user_id }),
        )
        .await?;
        txn.commit().await?;
        Ok(seat)
    }

    /// # Errors
    /// Not a member, not allowed, not in the team.
    pub async fn remove_team_member(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        team_id: &str,
        user_id: &str,
    ) -> OrgResult<()> {
        let scope = self
            .team_scope(
                actor,
                org_id,
                OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"),
            )
            .await?;
        let permit = self
            .require_permit::<grant::MemberDelete>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER"),
            )
            .await?;
        let team = repo::team_by_id(&self.db, &scope, team_id)
            .await?
            .ok_or_else(|| OrgError::invalid("TEAM_NOT_FOUND"))?;
        let txn = castellan_data::begin_write(&self.db).await?;
        if !repo::remove_seat(&txn, &permit, &team.id, user_id).await? {
            return Err(OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_TEAM"));
        }
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "team.member_remove",
            ("team", &team.id),
            json!({ "userId": user_id }),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// `list-team-members` of a team the caller belongs to (default: the active team).
    ///
    /// # Errors
    /// No team, unknown team, not in the team.
    pub async fn list_team_members(
        &self,
        actor: &Actor,
        team_id: Option<&str>,
    ) -> OrgResult<Vec<team_member::Model>> {
        let team_id = team_id
            .map(str::to_owned)
            .or_else(|| actor.auth.session.active_team_id.clone())
            .ok_or_else(|| OrgError::invalid("YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM"))?;
        // Whether the team is unknown, foreign or just not the caller's, the answer is the same.
        let not_in_team = || OrgError::invalid("USER_IS_NOT_A_MEMBER_OF_THE_TEAM");
        let team = repo::team_of_member(&self.db, actor.user_id(), &team_id)
            .await?
            .ok_or_else(not_in_team)?;
        let scope = self
            .require_scope(actor, &team.organization_id, not_in_team())
            .await?;
        if !repo::is_seated(&self.db, &scope, &team.id, actor.user_id()).await? {
            return Err(not_in_team());
        }
        Ok(repo::team_seats(&self.db, &scope, &team.id).await?)
    }
}
