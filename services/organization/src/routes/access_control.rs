//! Custom-role endpoints (Better Auth's dynamic access control).

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::{Value, json};

use super::validated;
use crate::domain::OrganizationService;
use crate::views;

fn statements() -> Value {
    let map: serde_json::Map<String, Value> = castellan_authz::permissions::STATEMENTS
        .iter()
        .map(|(r, acts)| ((*r).to_owned(), Value::from(acts.to_vec())))
        .collect();
    Value::Object(map)
}

pub async fn create(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let role = f.non_empty_string("role");
    let permission = f.optional_statements("permission");
    let org_id = f.optional_string("organizationId");
    if !f.has("permission") {
        f.optional_object("permission");
        return Err(ApiError::validation(
            "[body.permission] Invalid input: expected record, received undefined",
        ));
    }
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let created = orgs
        .create_role(
            &actor,
            org_id.as_deref(),
            &validated(role)?,
            validated(permission)?,
        )
        .await?;
    Ok(respond::json(
        &json!({ "success": true, "roleData": views::custom_role(&created), "statements": statements() }),
    ))
}

fn name_or_id(f: &mut Fields<'_>) -> (Option<String>, Option<String>) {
    (
        f.optional_string("roleName").filter(|s| !s.is_empty()),
        f.optional_string("roleId").filter(|s| !s.is_empty()),
    )
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
    let roles = orgs.list_roles(&actor, org_id.as_deref()).await?;
    Ok(respond::json(
        &roles.iter().map(views::custom_role).collect::<Vec<Value>>(),
    ))
}

pub async fn get(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org_id = f.optional_string("organizationId");
    let (name, id) = name_or_id(&mut f);
    f.finish()?;
    if name.is_none() && id.is_none() {
        return Err(ApiError::validation(
            "[query] Invalid input: roleName or roleId is required",
        ));
    }
    let actor = current.actor(&req, &state)?;
    let role = orgs
        .get_role(&actor, org_id.as_deref(), name.as_deref(), id.as_deref())
        .await?;
    Ok(respond::json(&views::custom_role(&role)))
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
    let (name, id) = name_or_id(&mut f);
    let data = f.optional_object("data").unwrap_or_default();
    f.finish()?;
    if name.is_none() && id.is_none() {
        return Err(ApiError::validation(
            "[body] Invalid input: roleName or roleId is required",
        ));
    }
    let data = Value::Object(data);
    let mut d = Fields::body(Some(&data))?;
    let new_name = d.optional_string("roleName");
    let permission = d.optional_statements("permission");
    d.finish()?;
    let actor = current.actor(&req, &state)?;
    let updated = orgs
        .update_role(
            &actor,
            org_id.as_deref(),
            name.as_deref(),
            id.as_deref(),
            new_name.as_deref(),
            permission,
        )
        .await?;
    Ok(respond::json(
        &json!({ "success": true, "roleData": views::custom_role(&updated) }),
    ))
}

pub async fn delete(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let org_id = f.optional_string("organizationId");
    let (name, id) = name_or_id(&mut f);
    f.finish()?;
    if name.is_none() && id.is_none() {
        return Err(ApiError::validation(
            "[body] Invalid input: roleName or roleId is required",
        ));
    }
    let actor = current.actor(&req, &state)?;
    orgs.delete_role(&actor, org_id.as_deref(), name.as_deref(), id.as_deref())
        .await?;
    Ok(respond::json(&json!({ "success": true })))
}
