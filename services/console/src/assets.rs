//! The pages' style sheet and script, embedded in the binary, and the deployment's theme.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::AuthState;

const APP_CSS: &str = include_str!("../assets/app.css");
const APP_JS: &str = include_str!("../assets/app.js");
const CSS: &str = "text/css; charset=utf-8";

pub async fn serve(state: web::Data<AuthState>, req: HttpRequest) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    // Short, since the names carry no version: a new release is picked up within minutes.
    res.insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    match req.match_info().get("name") {
        Some("app.css") => res.content_type(CSS).body(APP_CSS),
        Some("app.js") => res.content_type("text/javascript; charset=utf-8").body(APP_JS),
        Some("theme.css") => res
            .content_type(CSS)
            .body(theme_css(&state.settings.hosted_pages)),
        _ => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}

/// The accent colour (checked as `#rgb`/`#rrggbb` when the settings were read) and the
/// operator's own style sheet, after the built-in one so it wins.
fn theme_css(theme: &castellan_config::HostedPagesSettings) -> String {
    let mut css = String::new();
    if let Some(color) = &theme.color {
        css.push_str(&format!(":root {{ --accent: {color}; }}\n"));
    }
    if let Some(extra) = &theme.extra_css {
        css.push_str(extra);
    }
    css
}
