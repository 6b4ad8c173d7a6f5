//! The pages' style sheet and script, embedded in the binary, and the deployment's theme.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::AuthState;

const APP_CSS: &str = include_str!("../assets/app.css");
const APP_JS: &str = include_str!("../assets/app.js");

pub async fn serve(state: web::Data<AuthState>, req: HttpRequest) -> HttpResponse {
    let (body, kind) = match req.match_info().get("name") {
        Some("app.css") => (APP_CSS.to_owned(), "text/css; charset=utf-8"),
        Some("app.js") => (APP_JS.to_owned(), "text/javascript; charset=utf-8"),
        Some("theme.css") => (theme_css(&state.settings.hosted_pages), "text/css; charset=utf-8"),
        _ => {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("not found");
        }
    };
    HttpResponse::Ok()
        .content_type(kind)
        // Short, since the names carry no version: a new release is picked up within minutes.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
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
