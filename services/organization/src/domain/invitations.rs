//! Invitations: sending, accepting, rejecting, cancelling and listing them.

use castellan_authz::admission::{self, Joined};
use castellan_authz::grant;
use castellan_authz::{CREATOR_ROLE, repo};
use castellan_crypto::random;
use castellan_data::entity::{invitation, member, organization, team_member, user};
use castellan_data::repo::{invitations, users};
use castellan_mail::Mail;
use serde_json::{Map, json};

use super::organizations::membership_key;
use super::{
    Actor, INVITATION_LIMIT, INVITATION_TTL, MEMBERSHIP_LIMIT, OrganizationService, normalise_roles,
};
use crate::error::{Kind, OrgError, OrgResult};

pub struct Invite {
    pub email: String,
    pub roles: Vec<String>,
    pub organization_id: Option<String>,
    pub resend: bool,
    pub team_ids: Vec<String>,
}

/// An invitation shown to its recipient, with the names Better Auth adds.
pub struct InvitationDetails {
    pub invitation: invitation::Model,
    pub organization: organization::Model,
    pub inviter_email: String,
}

impl OrganizationService {
    /// `invite-member`, with Better Auth's checks in Better Auth's order.
    ///
    /// # Errors
    /// See the spec's list: no organization, bad email, not allowed, unknown role, already a
    /// member, already invited, limits, unknown teams.
    pub async fn invite(&self, actor: &Actor, invite: Invite) -> OrgResult<invitation::Model> {
        let org_id = Self::target(actor, invite.organization_id.as_deref())
            .ok_or_else(|| OrgError::invalid("ORGANIZATION_NOT_FOUND"))?
            .to_owned();
        let email = invite.email.to_lowercase();
        if !castellan_domain::is_valid_email(&email) {
            return Err(OrgError::invalid("INVALID_EMAIL"));
        }
        let scope = self
            .require_scope(actor, &org_id, OrgError::invalid("MEMBER_NOT_FOUND"))
            .await?;
        let permit = self
            .require_permit::<grant::InvitationCreate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION"),
            )
            .await?;
        let roles = normalise_roles(&invite.roles);
        if roles.is_empty() {
            return Err(OrgError::invalid("ROLE_NOT_FOUND"));
        }
        let known = self.known_roles(&scope).await?;
        let unknown: Vec<&str> = roles
            .iter()
            .filter(|r| !known.contains(r))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(OrgError::message_only(
                Kind::Invalid,
                format!("ROLE_NOT_FOUND: {}", unknown.join(", ")),
            ));
        }
        if roles.iter().any(|r| r == CREATOR_ROLE) && !scope.is_creator() {
            return Err(OrgError::denied(
                "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE",
            ));
        }
        if repo::member_by_user(&self.db, &scope, None, Some(&email))
            .await?
            .is_some()
        {
            return Err(OrgError::invalid("USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION"));
        }
        let now = self.now();
        if let Some(existing) = repo::pending_invitation_for(&self.db, &permit, &email, now).await? {
            if !invite.resend {
                return Err(OrgError::invalid("USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION"));
            }
            let expires_at = now + INVITATION_TTL;
            repo::extend_invitation(&self.db, &permit, &existing.id, expires_at).await?;
            let resent = invitation::Model {
                expires_at,
                ..existing
            };
            self.send_invitation(&resent, scope.organization(), &actor.auth.user);
            return Ok(resent);
        }
        if repo::pending_invitation_count(&self.db, &permit, now).await? >= INVITATION_LIMIT {
            return Err(OrgError::denied("INVITATION_LIMIT_REACHED"));
        }
        for team_id in &invite.team_ids {
            if team_id.contains(',') {
                return Err(OrgError::invalid("INVALID_TEAM_ID"));
            }
            if repo::team_by_id(&self.db, &scope, team_id).await?.is_none() {
                return Err(OrgError::invalid("TEAM_NOT_FOUND"));
            }
        }
        let row = invitation::Model {
            id: random::generate_id(),
            organization_id: org_id.clone(),
            email,
            role: Some(roles.join(",")),
            team_id: (!invite.team_ids.is_empty()).then(|| invite.team_ids.join(",")),
            status: "pending".to_owned(),
            expires_at: now + INVITATION_TTL,
            created_at: now,
            inviter_id: actor.user_id().to_owned(),
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        let created = repo::create_invitation(&txn, &permit, row).await?;
        let details = json!({ "email": created.email, "role": created.role });
        self.audit(
            &txn,
            actor,
            &org_id,
            "invitation.create",
            ("invitation", &created.id),
            details,
        )
        .await?;
        txn.commit().await?;
        self.send_invitation(&created, scope.organization(), &actor.auth.user);
        Ok(created)
    }

    fn send_invitation(&self, inv: &invitation::Model, org: &organization::Model, inviter: &user::Model) {
        let url = format!("{}/accept-invitation/{}", self.settings.origin(), inv.id);
        let mut extra = Map::new();
        extra.insert("invitationId".into(), inv.id.clone().into());
        extra.insert("organizationId".into(), org.id.clone().into());
        extra.insert("role".into(), inv.role.clone().unwrap_or_default().into());
        extra.insert("inviter".into(), inviter.email.clone().into());
        let mail = Mail {
            kind: "invitation".into(),
            to: inv.email.clone(),
            subject: format!("Invitation to join {}", org.name),
            text: format!(
                "{} invited you to join {}.\n\nAccept the invitation: {url}\n",
                inviter.email, org.name
            ),
            url: Some(url),
            token: None,
            extra,
        };
        self.mailer.queue(mail);
    }

    /// A pending, unexpired invitation addressed to the caller. Anyone else is told they are
    /// not its recipient whether or not the id exists (no existence oracle); only the recipient
    /// learns that their invitation is gone or expired.
    async fn invitation_for_recipient(
        &self,
        actor: &Actor,
        id: &str,
        allow_expired: bool,
    ) -> OrgResult<invitation::Model> {
        let inv = invitations::find_by_id(&self.db, id)
            .await?
            .filter(|i| i.email.to_lowercase() == actor.auth.user.email.to_lowercase())
            .ok_or_else(|| OrgError::denied("YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION"))?;
        if inv.status != "pending" || !(allow_expired || inv.expires_at > self.now()) {
            return Err(OrgError::invalid("INVITATION_NOT_FOUND"));
        }
        Ok(inv)
    }

    /// `accept-invitation`. The pending → accepted step is a guarded update, so two concurrent
    /// accepts yield one membership; the organization lock keeps the membership limit exact.
    ///
    /// # Errors
    /// Not found, not the recipient, limits, already a member.
    pub async fn accept(&self, actor: &Actor, id: &str) -> OrgResult<(invitation::Model, member::Model)> {
        let inv = self.invitation_for_recipient(actor, id, false).await?;
        let now = self.now();
        let team_ids: Vec<String> = inv
            .team_id
            .as_deref()
            .map(castellan_authz::permissions::split_roles)
            .unwrap_or_default();
        let seats: Vec<team_member::Model> = team_ids
            .iter()
            .map(|team_id| team_member::Model {
                id: random::generate_id(),
                team_id: team_id.clone(),
                user_id: actor.user_id().to_owned(),
                membership_key: Some(membership_key(team_id, actor.user_id())),
                created_at: Some(now),
            })
            .collect();
        let member = member::Model {
            id: random::generate_id(),
            organization_id: inv.organization_id.clone(),
            user_id: actor.user_id().to_owned(),
            role: inv.role.clone().unwrap_or_else(|| "member".to_owned()),
            created_at: now,
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        match admission::join_by_invitation(&txn, &inv, &member, &seats, MEMBERSHIP_LIMIT).await? {
            Joined::Joined => {}
            Joined::MembershipLimitReached => {
                return Err(OrgError::denied("ORGANIZATION_MEMBERSHIP_LIMIT_REACHED"));
            }
            Joined::InvitationNoLongerPending => return Err(OrgError::invalid("INVITATION_NOT_FOUND")),
            Joined::AlreadyMember => {
                return Err(OrgError::invalid("USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION"));
            }
        }
        let details = json!({ "invitationId": inv.id, "role": member.role });
        self.audit(
            &txn,
            actor,
            &inv.organization_id,
            "member.add",
            ("member", &member.id),
            details,
        )
        .await?;
        txn.commit().await?;
        let team = (team_ids.len() == 1).then(|| team_ids.first().cloned()).flatten();
        self.sessions
            .set_active(&actor.auth, Some(inv.organization_id.clone()), team.map(Some))
            .await?;
        Ok((
            invitation::Model {
                status: "accepted".to_owned(),
                ..inv
            },
            member,
        ))
    }

    /// `reject-invitation` (expired pending invitations may be rejected too).
    ///
    /// # Errors
    /// Not found, not the recipient.
    pub async fn reject(&self, actor: &Actor, id: &str) -> OrgResult<invitation::Model> {
        let inv = self.invitation_for_recipient(actor, id, true).await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        if !invitations::transition(&txn, &inv.id, Some("pending"), "rejected").await? {
            return Err(OrgError::invalid("INVITATION_NOT_FOUND"));
        }
        self.audit(
            &txn,
            actor,
            &inv.organization_id,
            "invitation.reject",
            ("invitation", &inv.id),
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(invitation::Model {
            status: "rejected".to_owned(),
            ..inv
        })
    }

    /// `cancel-invitation`: by a member allowed to cancel, in the invitation's organization.
    ///
    /// # Errors
    /// Not found, not a member, not allowed.
    pub async fn cancel(&self, actor: &Actor, id: &str) -> OrgResult<invitation::Model> {
        // An outsider cannot tell a foreign invitation from a made-up id.
        let not_found = || OrgError::invalid("INVITATION_NOT_FOUND");
        let inv = invitations::find_by_id(&self.db, id)
            .await?
            .ok_or_else(not_found)?;
        let scope = self
            .require_scope(actor, &inv.organization_id, not_found())
            .await?;
        let permit = self
            .require_permit::<grant::InvitationCancel>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION"),
            )
            .await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::cancel_invitation(&txn, &permit, &inv.id).await?;
        self.audit(
            &txn,
            actor,
            scope.org_id(),
            "invitation.cancel",
            ("invitation", &inv.id),
            json!({}),
        )
        .await?;
        txn.commit().await?;
        Ok(invitation::Model {
            status: "canceled".to_owned(),
            ..inv
        })
    }

    /// `get-invitation` for its recipient.
    ///
    /// # Errors
    /// Not found, not the recipient, inviter gone.
    pub async fn invitation(&self, actor: &Actor, id: &str) -> OrgResult<InvitationDetails> {
        let inv = self.invitation_for_recipient(actor, id, false).await?;
        let organization = admission::invitation_organization(&self.db, &inv)
            .await?
            .ok_or_else(|| OrgError::invalid("INVITATION_NOT_FOUND"))?;
        let inviter_is_member = admission::inviter_is_member(&self.db, &inv).await?;
        let inviter = users::find_by_id(&self.db, &inv.inviter_id).await?;
        let (true, Some(inviter)) = (inviter_is_member, inviter) else {
            return Err(OrgError::invalid(
                "INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION",
            ));
        };
        Ok(InvitationDetails {
            invitation: inv,
            organization,
            inviter_email: inviter.email,
        })
    }

    /// `list-invitations`: every invitation of the organization, for those who may invite.
    ///
    /// # Errors
    /// No organization, not a member, not allowed.
    pub async fn list_invitations(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
    ) -> OrgResult<Vec<invitation::Model>> {
        let id = Self::target(actor, org_id)
            .ok_or_else(|| OrgError::message_only(Kind::Invalid, "Organization ID is required"))?
            .to_owned();
        let scope = self
            .require_scope(
                actor,
                &id,
                OrgError::message_only(Kind::Denied, "You are not a member of this organization"),
            )
            .await?;
        let permit = self
            .require_permit::<grant::InvitationCreate>(
                &scope,
                OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS"),
            )
            .await?;
        Ok(repo::invitations(&self.db, &permit).await?)
    }

    /// `list-user-invitations`: pending invitations to the caller's verified address.
    ///
    /// # Errors
    /// An unverified email.
    pub async fn list_user_invitations(&self, actor: &Actor) -> OrgResult<Vec<(invitation::Model, String)>> {
        if !actor.auth.user.email_verified {
            return Err(OrgError::denied("EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION"));
        }
        let pending = invitations::pending_for_email(&self.db, &actor.auth.user.email).await?;
        let mut out = Vec::with_capacity(pending.len());
        for inv in pending {
            let name = admission::invitation_organization(&self.db, &inv)
                .await?
                .map(|o| o.name)
                .unwrap_or_default();
            out.push((inv, name));
        }
        Ok(out)
    }
}
