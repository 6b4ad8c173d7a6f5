//! API-key endpoints (`/api-key/*`, `@better-auth/api-key` 1.7.5).

use actix_web::{HttpRequest, HttpResponse};
use castellan_data::entity::api_key;
use castellan_http::body::query_object;
use castellan_http::respond::{self, iso};
use castellan_http::{ApiError, Body, Fields, MaybeSession, Service};
use serde_json::{Value, json};

use super::validated;
use crate::domain::IdentityService;
use crate::domain::api_keys::{KeyChange, NewKey};
use crate::error::IdentityError;

/// Fields only a server-side call may set.
const SERVER_ONLY: [&str; 8] = [
    "userId",
    "refillAmount",
    "refillInterval",
    "rateLimitTimeWindow",
    "rateLimitMax",
    "rateLimitEnabled",
    "remaining",
    "permissions",
];

fn parsed(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

fn view(k: &api_key::Model) -> Value {
    json!({
        "id": k.id,
        "configId": k.config_id,
        "name": k.name,
        "start": k.start,
        "prefix": k.prefix,
        "referenceId": k.reference_id,
        "refillInterval": k.refill_interval,
        "refillAmount": k.refill_amount,
        "lastRefillAt": k.last_refill_at.as_ref().map(iso),
        "enabled": k.enabled,
        "rateLimitEnabled": k.rate_limit_enabled,
        "rateLimitTimeWindow": k.rate_limit_time_window,
        "rateLimitMax": k.rate_limit_max,
        "requestCount": k.request_count,
        "remaining": k.remaining,
        "lastRequest": k.last_request.as_ref().map(iso),
        "expiresAt": k.expires_at.as_ref().map(iso),
        "createdAt": iso(&k.created_at),
        "updatedAt": iso(&k.updated_at),
        "permissions": parsed(k.permissions.as_deref()),
        "metadata": parsed(k.metadata.as_deref()),
    })
}

pub async fn create(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::optional_body(body.get())?;
    // An organization key's permissions are its casbin role there: Castellan lets the
    // organization's administrators set them, within what they hold.
    let org_key = f.raw("organizationId").is_some_and(Value::is_string);
    if let Some(field) = SERVER_ONLY
        .iter()
        .find(|k| f.has(k) && !(org_key && **k == "permissions"))
    {
        return Err(IdentityError::ServerOnlyProperty(field).into());
    }
    let new = NewKey {
        permissions: f.optional_statements("permissions"),
        name: f.optional_string("name"),
        prefix: f.optional_string("prefix"),
        expires_in: f.raw("expiresIn").and_then(Value::as_i64),
        metadata: f.optional_object("metadata").map(Value::Object),
        config_id: f.optional_string("configId"),
        organization_id: f.optional_string("organizationId"),
    };
    if f.raw("expiresIn")
        .is_some_and(|v| !v.is_null() && v.as_i64().is_none())
    {
        return Err(ApiError::validation(
            "[body.expiresIn] Invalid input: expected number",
        ));
    }
    f.finish()?;
    let auth = current.require()?;
    let (row, key) = identity.create_api_key(&auth, new).await?;
    let mut body = view(&row);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("key".into(), key.into());
    }
    Ok(respond::json(&body))
}

pub async fn get(
    Service(identity): Service<IdentityService>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let id = f.string("id");
    f.finish()?;
    let auth = current.require()?;
    let key = identity.get_api_key(&auth, &validated(id)?).await?;
    Ok(respond::json(&view(&key)))
}

pub async fn update(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    if let Some(field) = SERVER_ONLY.iter().find(|k| f.has(k)) {
        return Err(IdentityError::ServerOnlyProperty(field).into());
    }
    let id = f.string("keyId");
    let change = KeyChange {
        name: f.optional_string("name"),
        enabled: f.optional_bool("enabled"),
        expires_in: f.raw("expiresIn").map(Value::as_i64),
        metadata: f.optional_object("metadata").map(Value::Object),
    };
    f.finish()?;
    let auth = current.require()?;
    let key = identity.update_api_key(&auth, &validated(id)?, change).await?;
    Ok(respond::json(&view(&key)))
}

pub async fn delete(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("keyId");
    f.finish()?;
    let auth = current.require()?;
    identity.delete_api_key(&auth, &validated(id)?).await?;
    Ok(respond::json(&json!({ "success": true })))
}

pub async fn list(
    Service(identity): Service<IdentityService>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let org = f.optional_string("organizationId");
    let limit = f.optional_count("limit");
    let offset = f.optional_count("offset");
    f.finish()?;
    let auth = current.require()?;
    let (keys, total) = identity
        .list_api_keys(&auth, org.as_deref(), limit, offset)
        .await?;
    let api_keys: Vec<Value> = keys.iter().map(view).collect();
    Ok(respond::json(
        &json!({ "apiKeys": api_keys, "total": total, "limit": limit, "offset": offset }),
    ))
}

/// `POST /api-key/verify` (Better Auth's `verifyApiKey`, over HTTP): `{valid, error, key}`. The
/// key itself is the credential, so no session is needed; a refusal is a 200 with
/// `valid: false`, as Better Auth answers it.
pub async fn verify(
    Service(identity): Service<IdentityService>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    use crate::domain::api_keys::KeyRefusal;
    use castellan_session::api_keys::KeyRejection;
    let mut f = Fields::body(body.get())?;
    let key = f.string("key");
    let permissions = f.optional_statements("permissions");
    let config_id = f.optional_string("configId");
    f.finish()?;
    let outcome = identity
        .verify_api_key(&validated(key)?, config_id.as_deref(), permissions.as_ref())
        .await?;
    let (code, message, details) = match &outcome {
        Ok(row) => {
            return Ok(respond::json(
                &json!({ "valid": true, "error": null, "key": view(row) }),
            ));
        }
        Err(KeyRefusal::InsufficientPermissions) => ("KEY_NOT_FOUND", "API Key not found", None),
        Err(KeyRefusal::Rejected(KeyRejection::Invalid)) => ("INVALID_API_KEY", "Invalid API key.", None),
        Err(KeyRefusal::Rejected(KeyRejection::Disabled)) => ("KEY_DISABLED", "API Key is disabled", None),
        Err(KeyRefusal::Rejected(KeyRejection::Expired)) => ("KEY_EXPIRED", "API Key has expired", None),
        Err(KeyRefusal::Rejected(KeyRejection::UsageExceeded)) => {
            ("USAGE_EXCEEDED", "API Key has reached its usage limit", None)
        }
        Err(KeyRefusal::Rejected(KeyRejection::RateLimited { try_again_in_ms })) => (
            "RATE_LIMITED",
            "Rate limit exceeded.",
            Some(json!({ "tryAgainIn": try_again_in_ms })),
        ),
    };
    let mut error = json!({ "code": code, "message": message });
    if let (Some(details), Some(obj)) = (details, error.as_object_mut()) {
        obj.insert("details".into(), details);
    }
    Ok(respond::json(
        &json!({ "valid": false, "error": error, "key": null }),
    ))
}
