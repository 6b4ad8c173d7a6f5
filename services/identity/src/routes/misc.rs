//! Health, the API description and the error landing page.

use actix_web::HttpResponse;
use actix_web::{HttpRequest, http::header::ContentType};
use castellan_http::body::query_param;
use castellan_http::respond;
use serde_json::json;

pub async fn ok() -> HttpResponse {
    respond::json(&json!({ "ok": true }))
}

/// `GET /open-api/generate-schema`: the OpenAPI document the bootstrap generated from the
/// mounted routes.
pub async fn open_api(req: HttpRequest) -> Result<HttpResponse, castellan_http::ApiError> {
    let doc = castellan_http::state::registered::<castellan_http::openapi::OpenApiDocument>(&req)?;
    Ok(respond::json(&doc.0))
}

/// `GET /reference`: a page that renders the document.
pub async fn reference(state: actix_web::web::Data<castellan_http::AuthState>) -> HttpResponse {
    let url = format!("{}{}", state.settings.base_path, super::OPEN_API);
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(castellan_http::openapi::reference_page(&url))
}

/// Readiness: 200 when the database and the cache (Redis, when configured) answer, else 503.
/// The answer names each dependency's state, never an error's detail.
pub async fn ready(state: actix_web::web::Data<castellan_http::AuthState>) -> HttpResponse {
    let database = state
        .db
        .ping()
        .await
        .map_err(|e| tracing::warn!(error = %e, "readiness: database"));
    let cache = state
        .cache
        .ping()
        .await
        .map_err(|e| tracing::warn!(error = %e, "readiness: cache"));
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let redis = match state.cache.kind() {
        "redis" => word(cache.is_ok()),
        _ => "not configured",
    };
    let ready = database.is_ok() && cache.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": { "database": word(database.is_ok()), "redis": redis },
    });
    if ready {
        respond::json(&body)
    } else {
        respond::json_with_status(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, &body)
    }
}

/// Where failed links land when the app gave no callback URL.
pub async fn error_page(req: HttpRequest) -> HttpResponse {
    let code = query_param(&req, "error").unwrap_or_else(|| "UNKNOWN".to_owned());
    let description = query_param(&req, "error_description").unwrap_or_default();
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body>\
         <h1>Something went wrong</h1><p>Error code: <code>{}</code></p><p>{}</p></body></html>",
        quick_xml::escape::escape(&code),
        quick_xml::escape::escape(&description)
    );
    HttpResponse::Ok().content_type(ContentType::html()).body(body)
}
