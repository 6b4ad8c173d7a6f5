//! Health and the error landing page.

use actix_web::HttpResponse;
use actix_web::{HttpRequest, http::header::ContentType};
use castellan_http::body::query_param;
use castellan_http::respond;
use serde_json::json;

pub async fn ok() -> HttpResponse {
    respond::json(&json!({ "ok": true }))
}

fn escape_html(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Where failed links land when the app gave no callback URL.
pub async fn error_page(req: HttpRequest) -> HttpResponse {
    let code = query_param(&req, "error").unwrap_or_else(|| "UNKNOWN".to_owned());
    let description = query_param(&req, "error_description").unwrap_or_default();
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body>\
         <h1>Something went wrong</h1><p>Error code: <code>{}</code></p><p>{}</p></body></html>",
        escape_html(&code),
        escape_html(&description)
    );
    HttpResponse::Ok().content_type(ContentType::html()).body(body)
}
