//! Member endpoints.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::json;

use super::validated;
use crate::domain::OrganizationService;
use crate::views;

pub async fn list(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    let slug = f.optional_string("organizationSlug");
    let limit = f.optional_count("limit");
    let offset = f.optional_count("offset");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let (members, total) = orgs
        .list_members(&actor, org_id.as_deref(), slug.as_deref(), limit, offset)
        .await?;
    let members: Vec<_> = members
        .iter()
        .map(|(m, u)| views::member_with_user(m, u.as_ref()))
        .collect();
    Ok(respond::json(&json!({ "members": members, "total": total })))
}

pub async fn remove(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let target = f.string("memberIdOrEmail");
    let org_id = f.optional_string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let removed = orgs
        .remove_member(&actor, org_id.as_deref(), &validated(target)?)
        .await?;
    Ok(respond::json(&json!({ "member": views::member(&removed) })))
}

pub async fn update_role(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let roles = f.string_or_list("role");
    let member_id = f.string("memberId");
    let org_id = f.optional_string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let updated = orgs
        .update_member_role(
            &actor,
            org_id.as_deref(),
            &validated(member_id)?,
            &validated(roles)?,
        )
        .await?;
    Ok(respond::json(&views::member(&updated)))
}

pub async fn active(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let actor = current.actor(&req, &state)?;
    let (member, user) = orgs.active_member(&actor).await?;
    Ok(respond::json(&views::member_with_user(&member, Some(&user))))
}

pub async fn active_role(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let user_id = f.optional_string("userId");
    let org_id = f.optional_string("organizationId");
    let slug = f.optional_string("organizationSlug");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let role = orgs
        .active_member_role(&actor, org_id.as_deref(), slug.as_deref(), user_id.as_deref())
        .await?;
    Ok(respond::json(&json!({ "role": role })))
}

pub async fn leave(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let org_id = f.string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let (member, user) = orgs.leave(&actor, &validated(org_id)?).await?;
    Ok(respond::json(&views::member_with_user(&member, Some(&user))))
}

pub async fn has_permission(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let org_id = f.optional_string("organizationId");
    let both = f.has("permissions") && f.has("permission");
    let permissions = f.optional_statements("permissions");
    let legacy = f.has("permission");
    f.finish()?;
    if both || (permissions.is_none() && !legacy) {
        return Err(ApiError::validation("[body] Invalid input"));
    }
    let actor = current.actor(&req, &state)?;
    // Better Auth reads only `permissions`; the deprecated `permission` always answers false.
    let success = orgs
        .has_permission(&actor, org_id.as_deref(), permissions.as_ref())
        .await?;
    Ok(respond::json(&json!({ "error": null, "success": success })))
}
