//! Webhook endpoints (Castellan's own; Better Auth has in-process hooks only). Every route
//! names its owner the same way: `scope: "platform"` for platform endpoints (admins), else the
//! organization (`organizationId`, or the session's active one).

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::{Value, json};

use super::validated;
use crate::domain::OrganizationService;
use crate::domain::webhooks::{NewWebhook, WebhookChange, WebhookTarget};
use crate::views;

const DEFAULT_PAGE: u64 = 50;
const MAX_PAGE: u64 = 200;
const MAX_DESCRIPTION: usize = 500;

/// The owner fields: `scope` and `organizationId`.
struct OwnerFields {
    platform: bool,
    organization_id: Option<String>,
}

impl OwnerFields {
    fn read(f: &mut Fields<'_>) -> Self {
        let platform =
            f.has("scope") && f.one_of("scope", &["organization", "platform"]).as_deref() == Some("platform");
        Self {
            platform,
            organization_id: f.optional_string("organizationId"),
        }
    }

    fn target(&self) -> WebhookTarget<'_> {
        if self.platform {
            WebhookTarget::Platform
        } else {
            WebhookTarget::Organization(self.organization_id.as_deref())
        }
    }
}

fn description(f: &mut Fields<'_>) -> Option<Option<String>> {
    let d = f.nullable_string("description")?;
    Some(d.map(|d| d.chars().take(MAX_DESCRIPTION).collect()))
}

/// `POST /webhook/create {url, eventTypes?, description?}`: the endpoint and its `secret`.
pub async fn create(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let url = f.non_empty_string("url");
    let event_types = f.optional_string_list("eventTypes").unwrap_or_default();
    let description = description(&mut f).flatten();
    let owner = OwnerFields::read(&mut f);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let new = NewWebhook {
        url: validated(url)?,
        description,
        event_types,
    };
    let (row, secret) = orgs.create_webhook(&actor, owner.target(), new).await?;
    Ok(respond::json(&views::webhook_with_secret(&row, secret)))
}

/// `GET /webhook/list`: the owner's endpoints.
pub async fn list(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let owner = OwnerFields::read(&mut f);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let rows = orgs.list_webhooks(&actor, owner.target()).await?;
    Ok(respond::json(
        &rows.iter().map(views::webhook).collect::<Vec<Value>>(),
    ))
}

/// `POST /webhook/update {webhookId, url?, eventTypes?, description?, enabled?}`.
pub async fn update(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.non_empty_string("webhookId");
    let change = WebhookChange {
        url: if f.has("url") {
            f.non_empty_string("url")
        } else {
            None
        },
        description: description(&mut f),
        event_types: f.optional_string_list("eventTypes"),
        enabled: f.optional_bool("enabled"),
    };
    let owner = OwnerFields::read(&mut f);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let row = orgs
        .update_webhook(&actor, owner.target(), &validated(id)?, change)
        .await?;
    Ok(respond::json(&views::webhook(&row)))
}

/// `POST /webhook/delete {webhookId}`.
pub async fn delete(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.non_empty_string("webhookId");
    let owner = OwnerFields::read(&mut f);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    orgs.delete_webhook(&actor, owner.target(), &validated(id)?)
        .await?;
    Ok(respond::json(&json!({ "success": true })))
}

/// `POST /webhook/rotate-secret {webhookId}`: the new `secret`; the old one signs beside it
/// for a day.
pub async fn rotate_secret(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.non_empty_string("webhookId");
    let owner = OwnerFields::read(&mut f);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let (row, secret) = orgs
        .rotate_webhook_secret(&actor, owner.target(), &validated(id)?)
        .await?;
    Ok(respond::json(&views::webhook_with_secret(&row, secret)))
}

/// `GET /webhook/list-deliveries?webhookId=&status=&limit=&offset=`: newest first.
pub async fn list_deliveries(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let id = f.non_empty_string("webhookId");
    let status = f
        .has("status")
        .then(|| f.one_of("status", &["pending", "delivered", "failed"]))
        .flatten();
    let limit = f.optional_count("limit").unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let offset = f.optional_count("offset").unwrap_or(0);
    let owner = OwnerFields::read(&mut f);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let (rows, total) = orgs
        .webhook_deliveries(
            &actor,
            owner.target(),
            &validated(id)?,
            status.as_deref(),
            limit,
            offset,
        )
        .await?;
    let deliveries: Vec<Value> = rows
        .iter()
        .map(|r| views::webhook_delivery(&r.delivery, &r.event))
        .collect();
    Ok(respond::json(
        &json!({ "deliveries": deliveries, "total": total, "limit": limit, "offset": offset }),
    ))
}

/// `POST /webhook/redeliver {deliveryId}`: queued again now, with the same `webhook-id`.
pub async fn redeliver(
    Service(orgs): Service<OrganizationService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.non_empty_string("deliveryId");
    let owner = OwnerFields::read(&mut f);
    f.finish()?;
    let actor = current.actor(&req, &state)?;
    let row = orgs
        .redeliver_webhook(&actor, owner.target(), &validated(id)?)
        .await?;
    Ok(respond::json(&json!({ "id": row.id, "status": row.status })))
}
