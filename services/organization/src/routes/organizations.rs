//! Organization endpoints.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::{Value, json};

use super::validated;
use crate::domain::OrganizationService;
use crate::domain::organizations::{NewOrganization, OrganizationChange};
use crate::error::{Kind, OrgError};
use crate::views;

pub async fn create(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let name = f.non_empty_string("name");
    let slug = f.non_empty_string("slug");
    let logo = f.nullable_string("logo").flatten();
    let metadata = f.optional_object("metadata").map(Value::Object);
    let keep = f.optional_bool("keepCurrentActiveOrganization").unwrap_or(false);
    f.finish()?;
    // Better Auth answers a session-less create with an empty 401.
    if current.session.is_none() {
        return Err(ApiError::empty(actix_web::http::StatusCode::UNAUTHORIZED));
    }
    let actor = current.actor(&req, &state)?;
    let new = NewOrganization {
        name: validated(name)?,
        slug: validated(slug)?,
        logo,
        metadata,
        keep_current_active: keep,
    };
    let created = orgs.create(&actor, new).await?;
    let mut body = views::organization(&created.organization, true);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("members".to_owned(), json!([views::member(&created.owner)]));
    }
    Ok(respond::json(&body))
}

pub async fn check_slug(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let slug = f.non_empty_string("slug");
    f.finish()?;
    current.actor(&req, &state)?;
    if orgs.slug_is_free(&validated(slug)?).await? {
        Ok(respond::json(&json!({ "status": true })))
    } else {
        Err(crate::error::OrgError::invalid("ORGANIZATION_SLUG_ALREADY_TAKEN").into())
    }
}

pub async fn update(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let org_id = f.optional_string("organizationId");
    let data = f.optional_object("data");
    f.finish()?;
    let data = Value::Object(data.unwrap_or_default());
    let mut d = Fields::body(Some(&data))?;
    let change = OrganizationChange {
        name: d.optional_string("name"),
        slug: d.optional_string("slug"),
        logo: d.nullable_string("logo"),
        metadata: d.optional_object("metadata").map(Value::Object),
    };
    d.finish()?;
    if current.session.is_none() {
        return Err(OrgError::message_only(Kind::Unauthenticated, "User not found").into());
    }
    let actor = current.actor(&req, &state)?;
    let updated = orgs.update(&actor, org_id.as_deref(), change).await?;
    Ok(respond::json(&views::organization(&updated, true)))
}

pub async fn delete(
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
    let deleted = orgs.delete(&actor, &validated(org_id)?).await?;
    Ok(respond::json(&views::organization(&deleted, false)))
}

/// The organization row alone; `null` when nothing names one.
pub async fn get(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    let slug = f.optional_string("organizationSlug");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let org = orgs.get(&actor, org_id.as_deref(), slug.as_deref()).await?;
    Ok(respond::json(
        &org.as_ref()
            .map_or(Value::Null, |o| views::organization(o, false)),
    ))
}

pub async fn get_full(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    let slug = f.optional_string("organizationSlug");
    let members_limit = f.optional_count("membersLimit");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let full = orgs
        .full(&actor, org_id.as_deref(), slug.as_deref(), members_limit)
        .await?;
    let Some(full) = full else {
        return Ok(respond::json(&Value::Null));
    };
    let mut body = views::organization(&full.organization, false);
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "invitations".into(),
            full.invitations.iter().map(views::invitation).collect(),
        );
        obj.insert(
            "members".into(),
            full.members
                .iter()
                .map(|(m, u)| views::member_with_user(m, u.as_ref()))
                .collect(),
        );
        obj.insert(
            "teams".into(),
            full.teams.iter().map(|t| views::team(t, true)).collect(),
        );
    }
    Ok(respond::json(&body))
}

pub async fn set_active(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::optional_body(body.get())?;
    let org_id = f.nullable_string("organizationId");
    let slug = f.optional_string("organizationSlug");
    f.finish()?;
    let dont_remember = current.dont_remember;
    let actor = current.actor(&req, &state)?;
    let (session, org) = orgs
        .set_active(&actor, org_id.as_ref().map(|o| o.as_deref()), slug.as_deref())
        .await?;
    let body = org
        .as_ref()
        .map_or(Value::Null, |o| views::organization(o, false));
    // Better Auth re-signs the session cookie here.
    let cookies = respond::session_cookies(&state, &session.session.token, dont_remember);
    Ok(respond::with_cookies(respond::json(&body), &cookies))
}

pub async fn list(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let actor = current.actor(&req, &state)?;
    let orgs = orgs.list(&actor).await?;
    let body: Vec<Value> = orgs.iter().map(|o| views::organization(o, false)).collect();
    Ok(respond::json(&body))
}
