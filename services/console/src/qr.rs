//! QR codes for enrolling an authenticator app. The `otpauth://` URI holds the TOTP secret, so
//! it travels in a POST body (never a URL that proxies and logs keep) and is not logged.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use castellan_http::ApiError;
use qrcode::QrCode;
use qrcode::render::svg;

/// Longest accepted text: an `otpauth://` URI with a long issuer and account stays well below.
const MAX_LEN: usize = 1024;

pub async fn svg(body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let text = match std::str::from_utf8(&body) {
        Ok(t) if !t.is_empty() && t.len() <= MAX_LEN && t.starts_with("otpauth://") => t,
        _ => {
            return Err(ApiError::validation(
                "The body must be an otpauth:// URI of at most 1024 bytes",
            ));
        }
    };
    match QrCode::new(text.as_bytes()) {
        Ok(code) => Ok(HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(
                code.render::<svg::Color<'_>>()
                    .min_dimensions(200, 200)
                    .quiet_zone(true)
                    .build(),
            )),
        Err(_) => Err(ApiError::validation("The text does not fit in a QR code")),
    }
}
