//! Invitation endpoints.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::{Value, json};

use super::validated;
use crate::domain::OrganizationService;
use crate::domain::invitations::Invite;
use crate::error::{Kind, OrgError};
use crate::views;

pub async fn invite(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    let roles = f.string_or_list("role");
    let org_id = f.optional_string("organizationId");
    let resend = f.optional_bool("resend").unwrap_or(false);
    let team_ids = f.optional_string_or_list("teamId").unwrap_or_default();
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let invite = Invite {
        email: validated(email)?,
        roles: validated(roles)?,
        organization_id: org_id,
        resend,
        team_ids,
    };
    let created = orgs.invite(&actor, invite).await?;
    Ok(respond::json(&views::invitation(&created)))
}

fn invitation_id(body: &Body) -> Result<String, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("invitationId");
    f.finish()?;
    validated(id)
}

pub async fn accept(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_id(&body)?;
    let actor = current.actor(&req, &state)?;
    let (invitation, member) = orgs.accept(&actor, &id).await?;
    Ok(respond::json(
        &json!({ "invitation": views::invitation(&invitation), "member": views::member(&member) }),
    ))
}

pub async fn reject(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_id(&body)?;
    let actor = current.actor(&req, &state)?;
    let invitation = orgs.reject(&actor, &id).await?;
    Ok(respond::json(
        &json!({ "invitation": views::invitation(&invitation), "member": null }),
    ))
}

pub async fn cancel(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let id = invitation_id(&body)?;
    let actor = current.actor(&req, &state)?;
    let invitation = orgs.cancel(&actor, &id).await?;
    Ok(respond::json(&views::invitation(&invitation)))
}

pub async fn get(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let id = f.string("id");
    f.finish()?;
    if current.session.is_none() {
        return Err(OrgError::message_only(Kind::Unauthenticated, "Not authenticated").into());
    }
    let actor = current.actor(&req, &state)?;
    let details = orgs.invitation(&actor, &validated(id)?).await?;
    let mut body = views::invitation(&details.invitation);
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "organizationName".into(),
            details.organization.name.clone().into(),
        );
        obj.insert(
            "organizationSlug".into(),
            details.organization.slug.clone().into(),
        );
        obj.insert("inviterEmail".into(), details.inviter_email.into());
    }
    Ok(respond::json(&body))
}

pub async fn list(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let list = orgs.list_invitations(&actor, org_id.as_deref()).await?;
    Ok(respond::json(
        &list.iter().map(views::invitation).collect::<Vec<Value>>(),
    ))
}

pub async fn list_for_user(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    if castellan_http::body::query_param(&req, "email").is_some() {
        return Err(OrgError::message_only(
            Kind::Invalid,
            "User email cannot be passed for client side API calls.",
        )
        .into());
    }
    let actor = current.actor(&req, &state)?;
    let list = orgs.list_user_invitations(&actor).await?;
    let body: Vec<Value> = list
        .iter()
        .map(|(inv, org_name)| {
            let mut v = views::invitation(inv);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("organizationName".into(), org_name.clone().into());
            }
            v
        })
        .collect();
    Ok(respond::json(&body))
}
