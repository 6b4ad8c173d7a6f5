//! Team endpoints.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::{Value, json};

use super::validated;
use crate::domain::OrganizationService;
use crate::views;

pub async fn create(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let name = f.string("name");
    let org_id = f.optional_string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let team = orgs
        .create_team(&actor, org_id.as_deref(), validated(name)?)
        .await?;
    Ok(respond::json(&views::team(&team, false)))
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
    let teams = orgs.list_teams(&actor, org_id.as_deref()).await?;
    Ok(respond::json(
        &teams.iter().map(|t| views::team(t, true)).collect::<Vec<Value>>(),
    ))
}

pub async fn update(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let team_id = f.string("teamId");
    let data = f.optional_object("data").unwrap_or_default();
    f.finish()?;
    let data = Value::Object(data);
    let mut d = Fields::body(Some(&data))?;
    let name = d.optional_string("name");
    let org_id = d.optional_string("organizationId");
    d.finish()?;
    let actor = current.actor(&req, &state)?;
    let team = orgs
        .update_team(&actor, org_id.as_deref(), &validated(team_id)?, name)
        .await?;
    Ok(respond::json(&views::team(&team, false)))
}

pub async fn remove(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let team_id = f.string("teamId");
    let org_id = f.optional_string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    orgs.remove_team(&actor, org_id.as_deref(), &validated(team_id)?)
        .await?;
    Ok(respond::json(&json!({ "message": "Team removed successfully." })))
}

pub async fn set_active(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::optional_body(body.get())?;
    let team_id = f.nullable_string("teamId");
    f.finish()?;
    let dont_remember = current.dont_remember;
    let actor = current.actor(&req, &state)?;
    let (session, team) = orgs
        .set_active_team(&actor, team_id.as_ref().map(|t| t.as_deref()))
        .await?;
    let body = team.as_ref().map_or(Value::Null, |t| views::team(t, false));
    let cookies = respond::session_cookies(&state, &session.session.token, dont_remember);
    Ok(respond::with_cookies(respond::json(&body), &cookies))
}

pub async fn list_for_user(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    let user_id = f.optional_string("userId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let teams = orgs
        .list_user_teams(&actor, org_id.as_deref(), user_id.as_deref())
        .await?;
    Ok(respond::json(
        &teams.iter().map(|t| views::team(t, true)).collect::<Vec<Value>>(),
    ))
}

fn team_and_user(body: &Body) -> Result<(String, String, Option<String>), ApiError> {
    let mut f = Fields::body(body.get())?;
    let team_id = f.string("teamId");
    let user_id = f.string("userId");
    let org_id = f.optional_string("organizationId");
    f.finish()?;
    Ok((validated(team_id)?, validated(user_id)?, org_id))
}

pub async fn add_member(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let (team_id, user_id, org_id) = team_and_user(&body)?;
    let actor = current.actor(&req, &state)?;
    let seat = orgs
        .add_team_member(&actor, org_id.as_deref(), &team_id, &user_id)
        .await?;
    Ok(respond::json(&views::team_member(&seat)))
}

pub async fn remove_member(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let (team_id, user_id, org_id) = team_and_user(&body)?;
    let actor = current.actor(&req, &state)?;
    orgs.remove_team_member(&actor, org_id.as_deref(), &team_id, &user_id)
        .await?;
    Ok(respond::json(
        &json!({ "message": "Team member removed successfully." }),
    ))
}

pub async fn list_members(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let team_id = f.optional_string("teamId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let seats = orgs.list_team_members(&actor, team_id.as_deref()).await?;
    Ok(respond::json(
        &seats.iter().map(views::team_member).collect::<Vec<Value>>(),
    ))
}
