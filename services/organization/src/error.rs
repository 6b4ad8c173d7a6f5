//! The organization service's errors and their one mapping to Better Auth's answers. Better Auth
//! gives the same situation different statuses on different endpoints (a non-member gets 403 on
//! get-full-organization, 400 on update, 401 on has-permission), so a rejection carries its kind
//! as the endpoint's domain logic decides it, and this file turns kinds into statuses.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use castellan_http::ApiError;

pub use castellan_domain::Kind;
use castellan_domain::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Rejected(Refusal),
    /// The caller holds too little to grant a role: Better Auth lists what is missing.
    #[error("missing permissions {0:?}")]
    MissingPermissions(Vec<String>),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Data(#[from] castellan_data::DataError),
    #[error(transparent)]
    Authz(#[from] castellan_authz::AuthzError),
    #[error(transparent)]
    Audit(#[from] castellan_audit::AuditError),
    #[error(transparent)]
    Session(#[from] castellan_session::SessionError),
}

pub type OrgResult<T> = Result<T, OrgError>;

/// Better Auth's organization error codes and their messages.
const MESSAGES: &[(&str, &str)] = &[
    (
        "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION",
        "You are not allowed to create a new organization",
    ),
    (
        "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS",
        "You have reached the maximum number of organizations",
    ),
    ("ORGANIZATION_ALREADY_EXISTS", "Organization already exists"),
    (
        "ORGANIZATION_SLUG_ALREADY_TAKEN",
        "Organization slug already taken",
    ),
    ("ORGANIZATION_NOT_FOUND", "Organization not found"),
    (
        "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION",
        "User is not a member of the organization",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION",
        "You are not allowed to update this organization",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION",
        "You are not allowed to delete this organization",
    ),
    ("NO_ACTIVE_ORGANIZATION", "No active organization"),
    (
        "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION",
        "User is already a member of this organization",
    ),
    ("MEMBER_NOT_FOUND", "Member not found"),
    ("ROLE_NOT_FOUND", "Role not found"),
    ("TEAM_NOT_FOUND", "Team not found"),
    ("INVITATION_NOT_FOUND", "Invitation not found"),
    (
        "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER",
        "You cannot leave the organization as the only owner",
    ),
    (
        "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER",
        "You cannot leave the organization without an owner",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER",
        "You are not allowed to delete this member",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION",
        "You are not allowed to invite users to this organization",
    ),
    (
        "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION",
        "User is already invited to this organization",
    ),
    (
        "YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION",
        "You are not the recipient of the invitation",
    ),
    (
        "EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION",
        "Email verification required before accepting or rejecting invitation",
    ),
    (
        "EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION",
        "Email verification required to view or list invitations for the session email",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION",
        "You are not allowed to cancel this invitation",
    ),
    (
        "INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION",
        "Inviter is no longer a member of the organization",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE",
        "You are not allowed to invite a user with this role",
    ),
    (
        "YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS",
        "You have reached the maximum number of teams",
    ),
    ("UNABLE_TO_REMOVE_LAST_TEAM", "Unable to remove last team"),
    (
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER",
        "You are not allowed to update this member",
    ),
    (
        "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED",
        "Organization membership limit reached",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION",
        "You are not allowed to create teams in this organization",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION",
        "You are not allowed to delete teams in this organization",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM",
        "You are not allowed to update this team",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM",
        "You are not allowed to delete this team",
    ),
    ("INVITATION_LIMIT_REACHED", "Invitation limit reached"),
    ("TEAM_MEMBER_LIMIT_REACHED", "Team member limit reached"),
    (
        "USER_IS_NOT_A_MEMBER_OF_THE_TEAM",
        "User is not a member of the team",
    ),
    ("YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM", "You do not have an active team"),
    (
        "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER",
        "You are not allowed to create a new member",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER",
        "You are not allowed to remove a team member",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION",
        "You are not allowed to access this organization as an owner",
    ),
    (
        "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION",
        "You are not a member of this organization",
    ),
    (
        "YOU_MUST_BE_IN_AN_ORGANIZATION_TO_CREATE_A_ROLE",
        "You must be in an organization to create a role",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE",
        "You are not allowed to create a role",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_UPDATE_A_ROLE",
        "You are not allowed to update a role",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_DELETE_A_ROLE",
        "You are not allowed to delete a role",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_READ_A_ROLE",
        "You are not allowed to read a role",
    ),
    ("TOO_MANY_ROLES", "This organization has too many roles"),
    (
        "INVALID_RESOURCE",
        "The provided permission includes an invalid resource",
    ),
    ("ROLE_NAME_IS_ALREADY_TAKEN", "That role name is already taken"),
    (
        "CANNOT_DELETE_A_PRE_DEFINED_ROLE",
        "Cannot delete a pre-defined role",
    ),
    (
        "ROLE_IS_ASSIGNED_TO_MEMBERS",
        "Cannot delete a role that is assigned to members. Please reassign the members to a different role first",
    ),
    ("INVALID_TEAM_ID", "Team id contains a reserved character"),
    (
        "YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS",
        "You are not allowed to list invitations for this organization",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_READ_THE_AUDIT_LOG",
        "You are not allowed to read the audit log of this organization",
    ),
    ("WEBHOOK_NOT_FOUND", "Webhook endpoint not found"),
    ("WEBHOOK_DELIVERY_NOT_FOUND", "Webhook delivery not found"),
    (
        "YOU_ARE_NOT_ALLOWED_TO_MANAGE_WEBHOOKS",
        "You are not allowed to manage the webhooks of this organization",
    ),
    (
        "YOU_ARE_NOT_ALLOWED_TO_MANAGE_PLATFORM_WEBHOOKS",
        "Only platform admins may manage platform webhooks",
    ),
    ("INVALID_WEBHOOK_URL", "The webhook URL is not valid"),
    (
        "WEBHOOK_URL_NOT_ALLOWED",
        "Webhooks may only be sent to public addresses, not loopback, private or link-local ones",
    ),
    ("INVALID_EVENT_TYPE", "An event type is not valid"),
    ("TOO_MANY_WEBHOOKS", "The limit of webhook endpoints is reached"),
    ("INVALID_EMAIL", "Invalid email"),
    ("UNAUTHORIZED", "Unauthorized"),
];

fn message(code: &'static str) -> &'static str {
    MESSAGES.iter().find(|(c, _)| *c == code).map_or(code, |(_, m)| m)
}

impl OrgError {
    #[must_use]
    pub fn invalid(code: &'static str) -> Self {
        Self::Rejected(Refusal::coded(Kind::Invalid, code, message(code)))
    }

    #[must_use]
    pub fn denied(code: &'static str) -> Self {
        Self::Rejected(Refusal::coded(Kind::Denied, code, message(code)))
    }

    #[must_use]
    pub fn unauthenticated(code: &'static str) -> Self {
        Self::Rejected(Refusal::coded(Kind::Unauthenticated, code, message(code)))
    }

    #[must_use]
    pub fn missing(code: &'static str) -> Self {
        Self::Rejected(Refusal::coded(Kind::Missing, code, message(code)))
    }

    /// A refusal Better Auth words without a code.
    #[must_use]
    pub fn message_only(kind: Kind, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Rejected(Refusal::message_only(kind, message))
    }

    /// A refusal with a code and a custom message.
    #[must_use]
    pub fn with_message(kind: Kind, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Rejected(Refusal::coded(kind, code, message))
    }
}

impl From<OrgError> for ApiError {
    fn from(e: OrgError) -> Self {
        match e {
            OrgError::Rejected(refusal) => refusal.into(),
            OrgError::MissingPermissions(missing) => Self::with_extra(
                StatusCode::FORBIDDEN,
                "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE",
                message("YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE"),
                serde_json::json!({ "missingPermissions": missing }),
            ),
            OrgError::Session(e) => e.into(),
            OrgError::Data(e) | OrgError::Authz(castellan_authz::AuthzError::Data(e)) => e.into(),
            OrgError::Db(e)
            | OrgError::Authz(castellan_authz::AuthzError::Db(e))
            | OrgError::Audit(castellan_audit::AuditError::Db(e)) => e.into(),
            other => Self::internal(&other),
        }
    }
}
