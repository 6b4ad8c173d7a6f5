//! SCIM 2.0 over HTTP: the management routes of `@better-auth/scim` (`/scim/generate-token`
//! and friends, with a session) and the directory's routes under `/scim/v2` (with the SCIM
//! bearer token), which speak RFC 7644: `application/scim+json` bodies and SCIM error objects.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use castellan_data::entity::scim_connection::Model as Connection;
use castellan_http::body::{query_object, read_limited};
use castellan_http::routes::Routes;
use castellan_http::validate::validated;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service, respond};
use castellan_scim::{ScimError, ScimType, discovery};

use crate::domain::SsoService;
use crate::domain::scim::{ScimPage, ScimQuery};
use crate::error::{SsoError, SsoResult};

/// The largest SCIM body read.
const MAX_BODY: usize = 256 * 1024;
const SCIM_JSON: &str = "application/scim+json";

pub fn configure(routes: &mut Routes<'_>) {
    routes
        .post("/scim/generate-token", generate_token)
        .get("/scim/list-provider-connections", list_connections)
        .get("/scim/get-provider-connection", get_connection)
        .post("/scim/delete-provider-connection", delete_connection)
        .get("/scim/v2/ServiceProviderConfig", service_provider_config)
        .get("/scim/v2/Schemas", schemas)
        .get("/scim/v2/Schemas/{schema_id}", schema)
        .get("/scim/v2/ResourceTypes", resource_types)
        .get("/scim/v2/ResourceTypes/{resource_type_id}", resource_type);
    // The discovery documents are read-only: other methods are 405, in SCIM's shape.
    for path in [
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/Schemas",
        "/scim/v2/ResourceTypes",
    ] {
        routes
            .post(path, read_only)
            .put(path, read_only)
            .patch(path, read_only)
            .delete(path, read_only);
    }
    routes
        .post("/scim/v2/Users", create::<Users>)
        .get("/scim/v2/Users", list::<Users>)
        .post("/scim/v2/Users/.search", search::<Users>)
        .get("/scim/v2/Users/{user_id}", get::<Users>)
        .put("/scim/v2/Users/{user_id}", replace::<Users>)
        .patch("/scim/v2/Users/{user_id}", patch::<Users>)
        .delete("/scim/v2/Users/{user_id}", delete::<Users>)
        .post("/scim/v2/Groups", create::<Groups>)
        .get("/scim/v2/Groups", list::<Groups>)
        .post("/scim/v2/Groups/.search", search::<Groups>)
        .get("/scim/v2/Groups/{group_id}", get::<Groups>)
        .put("/scim/v2/Groups/{group_id}", replace::<Groups>)
        .patch("/scim/v2/Groups/{group_id}", patch::<Groups>)
        .delete("/scim/v2/Groups/{group_id}", delete::<Groups>)
        .post("/scim/v2/.search", search_everything)
        .get("/scim/v2/{resource}", unknown_resource);
}

/// A refusal in SCIM's shape.
#[derive(Debug)]
pub struct ScimFailure(ScimError);

impl std::fmt::Display for ScimFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

impl From<SsoError> for ScimFailure {
    fn from(e: SsoError) -> Self {
        if let SsoError::Scim(e) = e {
            return Self(e);
        }
        // Everything else through the service's one mapping, then in SCIM's words.
        let api = ApiError::from(e);
        let detail = match &api.body {
            castellan_http::error::ErrorBody::Coded { message, .. }
            | castellan_http::error::ErrorBody::CodedWithExtra { message, .. }
            | castellan_http::error::ErrorBody::MessageOnly(message) => message.clone(),
            castellan_http::error::ErrorBody::Empty => {
                api.status.canonical_reason().unwrap_or("Error").to_owned()
            }
        };
        Self(ScimError::new(api.status.as_u16(), None, detail))
    }
}

impl ResponseError for ScimFailure {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.content_type(SCIM_JSON);
        if self.0.status == 401 {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if self.0.status == 503 {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        res.body(self.0.body().to_string())
    }
}

fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_JSON)
        .body(body.to_string())
}

/// The connection the request's bearer token opens.
async fn connection(sso: &SsoService, req: &HttpRequest) -> Result<Connection, ScimFailure> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .ok_or_else(ScimError::unauthorized)?;
    Ok(sso.scim_authenticate(token).await?)
}

/// A JSON body as SCIM sends it (`application/scim+json`, or `application/json`).
async fn scim_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Value, ScimFailure> {
    let media = actix_web::HttpMessage::mime_type(req)
        .ok()
        .flatten()
        .map(|m| m.essence_str().to_ascii_lowercase())
        .unwrap_or_default();
    if media != SCIM_JSON && media != "application/json" {
        return Err(ScimError::new(415, None, "Send application/scim+json or application/json").into());
    }
    let bytes = read_limited(&mut payload, MAX_BODY)
        .await
        .map_err(|e| ScimError::new(e.status.as_u16(), None, "The body could not be read"))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| ScimError::bad(ScimType::InvalidSyntax, "The body is not valid JSON"))?;
    castellan_http::guard::reject_nul(&value)
        .map_err(|_| ScimError::bad(ScimType::InvalidValue, "NUL characters are not allowed"))?;
    Ok(value)
}

fn query_text(query: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_owned)
}

fn positive(raw: Option<String>, name: &str) -> Result<Option<usize>, ScimFailure> {
    match raw {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map(|n| Some(usize::try_from(n.max(0)).unwrap_or(0)))
            .map_err(|_| ScimError::bad(ScimType::InvalidValue, format!("{name} must be an integer")).into()),
    }
}

fn list_query(query: &serde_json::Map<String, Value>) -> Result<ScimQuery, ScimFailure> {
    Ok(ScimQuery {
        filter: query_text(query, "filter"),
        start_index: positive(query_text(query, "startIndex"), "startIndex")?,
        count: positive(query_text(query, "count"), "count")?,
        attributes: query_text(query, "attributes"),
        excluded_attributes: query_text(query, "excludedAttributes"),
    })
}

fn list_answer(page: ScimPage) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::list_page(page.total, page.start_index, page.resources),
    )
}

// --- Management (a session of an owner or admin) ---

/// `POST /scim/generate-token {providerId, organizationId?}`: 201 `{scimToken}`.
async fn generate_token(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let provider_id = f.string("providerId");
    let organization_id = f.optional_string("organizationId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let token = sso
        .generate_scim_token(&actor, &validated(provider_id)?, organization_id.as_deref())
        .await?;
    Ok(respond::json_with_status(
        StatusCode::CREATED,
        &json!({ "scimToken": token }),
    ))
}

fn connection_view(c: &castellan_data::entity::scim_connection::Model) -> Value {
    json!({ "id": c.id, "providerId": c.provider_id, "organizationId": c.organization_id })
}

/// `GET /scim/list-provider-connections`: `{providers}`.
async fn list_connections(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let actor = current.actor(&req, &state)?;
    let providers: Vec<Value> = sso
        .scim_connections(&actor)
        .await?
        .iter()
        .map(connection_view)
        .collect();
    Ok(respond::json(&json!({ "providers": providers })))
}

/// `GET /scim/get-provider-connection?providerId=`.
async fn get_connection(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let provider_id = f.string("providerId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let c = sso.scim_connection(&actor, &validated(provider_id)?).await?;
    Ok(respond::json(&connection_view(&c)))
}

/// `POST /scim/delete-provider-connection {providerId}`.
async fn delete_connection(
    Service(sso): Service<SsoService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let provider_id = f.string("providerId");
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    sso.delete_scim_connection(&actor, &validated(provider_id)?)
        .await?;
    Ok(respond::json(&json!({ "success": true })))
}

// --- Discovery (public, as RFC 7644 §4 allows) ---

async fn service_provider_config(Service(sso): Service<SsoService>) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::service_provider_config(&sso.scim_base()),
    )
}

fn all_schemas(base: &str) -> Vec<Value> {
    vec![discovery::user_schema(base), discovery::group_schema(base)]
}

fn all_resource_types(base: &str) -> Vec<Value> {
    vec![
        discovery::user_resource_type(base),
        discovery::group_resource_type(base),
    ]
}

async fn schemas(Service(sso): Service<SsoService>) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::list_response(all_schemas(&sso.scim_base())),
    )
}

async fn schema(
    Service(sso): Service<SsoService>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    let found = all_schemas(&sso.scim_base())
        .into_iter()
        .find(|s| s["id"] == id.as_str());
    let found = found.ok_or_else(|| ScimError::not_found(format!("No schema {id}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

async fn resource_types(Service(sso): Service<SsoService>) -> HttpResponse {
    scim_json(
        StatusCode::OK,
        &discovery::list_response(all_resource_types(&sso.scim_base())),
    )
}

async fn resource_type(
    Service(sso): Service<SsoService>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    let found = all_resource_types(&sso.scim_base())
        .into_iter()
        .find(|t| t["id"] == id.as_str());
    let found = found.ok_or_else(|| ScimError::not_found(format!("No resource type {id}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

async fn unknown_resource(id: web::Path<String>) -> HttpResponse {
    ScimFailure(ScimError::not_found(format!("No resource type at /{id}"))).error_response()
}

async fn read_only() -> HttpResponse {
    ScimFailure(ScimError::new(405, None, "This endpoint is read-only")).error_response()
}

/// `POST /.search`: users and groups at once (RFC 7644 §3.4.3).
async fn search_everything(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    let query = search_query(&req, payload).await?;
    Ok(list_answer(sso.scim_search(&connection, &query).await?))
}

/// A `SearchRequest` body's parameters, read as a list's query text is.
async fn search_query(req: &HttpRequest, payload: web::Payload) -> Result<ScimQuery, ScimFailure> {
    let body = scim_body(req, payload).await?;
    let Value::Object(fields) = body else {
        return Err(ScimError::bad(ScimType::InvalidSyntax, "The body must be a SearchRequest").into());
    };
    let as_query: serde_json::Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => return None,
            };
            Some((k, Value::String(text)))
        })
        .collect();
    list_query(&as_query)
}

// --- Users and groups (the connection's bearer token) ---

/// What the directory manages, one implementation per resource type: the handlers below are
/// the same for both.
trait Resources {
    async fn create(sso: &SsoService, c: &Connection, body: Value) -> SsoResult<Value>;
    async fn list(sso: &SsoService, c: &Connection, query: &ScimQuery) -> SsoResult<ScimPage>;
    async fn get(sso: &SsoService, c: &Connection, id: &str, query: &ScimQuery) -> SsoResult<Value>;
    async fn replace(sso: &SsoService, c: &Connection, id: &str, body: Value) -> SsoResult<Value>;
    async fn patch(sso: &SsoService, c: &Connection, id: &str, body: &Value) -> SsoResult<Value>;
    async fn delete(sso: &SsoService, c: &Connection, id: &str) -> SsoResult<()>;
}

struct Users;
struct Groups;

impl Resources for Users {
    async fn create(sso: &SsoService, c: &Connection, body: Value) -> SsoResult<Value> {
        sso.scim_create_user(c, body).await
    }
    async fn list(sso: &SsoService, c: &Connection, query: &ScimQuery) -> SsoResult<ScimPage> {
        sso.scim_list_users(c, query).await
    }
    async fn get(sso: &SsoService, c: &Connection, id: &str, query: &ScimQuery) -> SsoResult<Value> {
        sso.scim_get_user(c, id, query).await
    }
    async fn replace(sso: &SsoService, c: &Connection, id: &str, body: Value) -> SsoResult<Value> {
        sso.scim_replace_user(c, id, body).await
    }
    async fn patch(sso: &SsoService, c: &Connection, id: &str, body: &Value) -> SsoResult<Value> {
        sso.scim_patch_user(c, id, body).await
    }
    async fn delete(sso: &SsoService, c: &Connection, id: &str) -> SsoResult<()> {
        sso.scim_delete_user(c, id).await
    }
}

impl Resources for Groups {
    async fn create(sso: &SsoService, c: &Connection, body: Value) -> SsoResult<Value> {
        sso.scim_create_group(c, body).await
    }
    async fn list(sso: &SsoService, c: &Connection, query: &ScimQuery) -> SsoResult<ScimPage> {
        sso.scim_list_groups(c, query).await
    }
    async fn get(sso: &SsoService, c: &Connection, id: &str, query: &ScimQuery) -> SsoResult<Value> {
        sso.scim_get_group(c, id, query).await
    }
    async fn replace(sso: &SsoService, c: &Connection, id: &str, body: Value) -> SsoResult<Value> {
        sso.scim_replace_group(c, id, body).await
    }
    async fn patch(sso: &SsoService, c: &Connection, id: &str, body: &Value) -> SsoResult<Value> {
        sso.scim_patch_group(c, id, body).await
    }
    async fn delete(sso: &SsoService, c: &Connection, id: &str) -> SsoResult<()> {
        sso.scim_delete_group(c, id).await
    }
}

/// `POST /Users`, `POST /Groups`: 201 with the resource and its `Location`.
async fn create<R: Resources>(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    let body = scim_body(&req, payload).await?;
    let created = R::create(&sso, &connection, body).await?;
    let location = created["meta"]["location"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(HttpResponse::Created()
        .content_type(SCIM_JSON)
        .insert_header((header::LOCATION, location))
        .body(created.to_string()))
}

async fn list<R: Resources>(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    let query = list_query(&query_object(&req))?;
    Ok(list_answer(R::list(&sso, &connection, &query).await?))
}

/// `POST /Users/.search`, `POST /Groups/.search`.
async fn search<R: Resources>(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    let query = search_query(&req, payload).await?;
    Ok(list_answer(R::list(&sso, &connection, &query).await?))
}

async fn get<R: Resources>(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    let query = list_query(&query_object(&req))?;
    Ok(scim_json(
        StatusCode::OK,
        &R::get(&sso, &connection, &id, &query).await?,
    ))
}

async fn replace<R: Resources>(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    let body = scim_body(&req, payload).await?;
    Ok(scim_json(
        StatusCode::OK,
        &R::replace(&sso, &connection, &id, body).await?,
    ))
}

async fn patch<R: Resources>(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    let body = scim_body(&req, payload).await?;
    Ok(scim_json(
        StatusCode::OK,
        &R::patch(&sso, &connection, &id, &body).await?,
    ))
}

async fn delete<R: Resources>(
    Service(sso): Service<SsoService>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimFailure> {
    let connection = connection(&sso, &req).await?;
    R::delete(&sso, &connection, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
