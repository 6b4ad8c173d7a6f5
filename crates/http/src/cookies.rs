//! Better Auth's cookies: names (with `__Secure-` on https), better-call's `Set-Cookie`
//! serialisation order, and its parsing rules.

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderValue};

use castellan_config::Settings;
use castellan_crypto::keyring::Keyring;
use castellan_crypto::signing;

pub const SESSION_TOKEN: &str = "session_token";
pub const DONT_REMEMBER: &str = "dont_remember";
pub const SESSION_DATA: &str = "session_data";

/// Cookie naming and attributes for one deployment.
#[derive(Debug, Clone)]
pub struct CookieJarConfig {
    prefix: String,
    secure: bool,
    secrets: Keyring,
}

impl CookieJarConfig {
    #[must_use]
    pub fn new(settings: &Settings) -> Self {
        Self {
            prefix: "better-auth".to_owned(),
            secure: settings.secure_cookies(),
            secrets: settings.secrets.clone(),
        }
    }

    /// The full cookie name: `better-auth.session_token`, or `__Secure-better-auth.session_token`.
    #[must_use]
    pub fn name(&self, suffix: &str) -> String {
        if self.secure {
            format!("__Secure-{}.{suffix}", self.prefix)
        } else {
            format!("{}.{suffix}", self.prefix)
        }
    }

    /// `Set-Cookie` for a signed value, better-call's attribute order.
    #[must_use]
    pub fn signed(&self, suffix: &str, value: &str, max_age: Option<u64>) -> String {
        let signed = signing::sign_cookie_value(self.secrets.current(), value);
        self.serialize(
            suffix,
            &castellan_crypto::encoding::uri_component(&signed),
            max_age,
        )
    }

    /// `Set-Cookie` for an unsigned value that is already cookie-safe (the cookie cache signs
    /// its own payload).
    #[must_use]
    pub fn plain(&self, suffix: &str, value: &str, max_age: Option<u64>) -> String {
        self.serialize(suffix, value, max_age)
    }

    /// The secrets cookies are signed with (the current one first).
    #[must_use]
    pub fn secrets(&self) -> &Keyring {
        &self.secrets
    }

    /// `Set-Cookie` that deletes the cookie.
    #[must_use]
    pub fn expired(&self, suffix: &str) -> String {
        self.serialize(suffix, "", Some(0))
    }

    fn serialize(&self, suffix: &str, encoded_value: &str, max_age: Option<u64>) -> String {
        let mut out = format!("{}={encoded_value}", self.name(suffix));
        if let Some(age) = max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        out.push_str("; Path=/; HttpOnly");
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str("; SameSite=Lax");
        out
    }

    /// The verified value of a signed cookie on the request; a bad signature reads as absent.
    #[must_use]
    pub fn read_signed(&self, req: &HttpRequest, suffix: &str) -> Option<String> {
        let raw = read_cookie(req, &self.name(suffix))?;
        self.secrets
            .verification_keys()
            .find_map(|key| signing::verify_cookie_value(key, &raw))
            .map(str::to_owned)
    }

    /// A signed value presented as a bearer token or cookie (also without padding), signed by
    /// the current secret or an earlier one.
    #[must_use]
    pub fn verify_lenient<'a>(&self, signed: &'a str) -> Option<&'a str> {
        self.secrets
            .verification_keys()
            .find_map(|key| signing::verify_lenient(key, signed))
    }
}

/// A cookie from the request's `Cookie` headers: first occurrence wins, surrounding quotes are
/// stripped, and the value is percent-decoded when it contains `%`.
#[must_use]
pub fn read_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse_encoded)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
}

/// Whether the request carries any `Cookie` header at all (this arms the origin check).
#[must_use]
pub fn has_cookies(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::COOKIE)
}

/// The session token a response hands out in a `Set-Cookie` (signed, percent-decoded), if any:
/// what Better Auth's bearer plugin copies into `set-auth-token`.
#[must_use]
pub fn issued_session_token(headers: &header::HeaderMap, session_cookie_name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| cookie::Cookie::parse_encoded(c).ok())
        .find(|c| {
            c.name() == session_cookie_name
                && !c.value().is_empty()
                && c.max_age() != Some(cookie::time::Duration::ZERO)
        })
        .map(|c| c.value().to_owned())
}

/// Adds `Set-Cookie` headers to a response.
pub fn append(res: &mut actix_web::HttpResponse, cookies: &[String]) {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secure: bool) -> CookieJarConfig {
        CookieJarConfig {
            prefix: "better-auth".into(),
            secure,
            secrets: Keyring::single("better-auth-secret-12345678901234567890"),
        }
    }

    #[test]
    fn signed_session_cookie_matches_better_call_byte_for_byte() {
        assert_eq!(
            config(false).signed(SESSION_TOKEN, "abcdefghijklmnopqrstuvwxyzABCDEF", Some(604_800)),
            "better-auth.session_token=abcdefghijklmnopqrstuvwxyzABCDEF.QmaNojtZSUlZhDy0KckVS%2FNKGUOtxYFA44h2iQBuCz4%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn https_gets_the_secure_prefix_and_flag() {
        let c = config(true).expired(SESSION_TOKEN);
        assert_eq!(
            c,
            "__Secure-better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn reads_percent_encoded_and_quoted_cookies() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((
                header::COOKIE,
                "a=1; better-auth.session_token=\"x.y%3D\"; better-auth.session_token=second",
            ))
            .to_http_request();
        assert_eq!(
            read_cookie(&req, "better-auth.session_token").as_deref(),
            Some("x.y=")
        );
        assert_eq!(read_cookie(&req, "missing"), None);
    }

    #[test]
    fn cookies_signed_before_a_rotation_still_read_and_new_ones_use_the_new_secret() {
        let before = config(false);
        let after = CookieJarConfig {
            secrets: Keyring::parse(
                Some("2:the-new-secret"),
                Some("better-auth-secret-12345678901234567890"),
            )
            .unwrap(),
            ..config(false)
        };
        let request = |set_cookie: String| {
            let pair = set_cookie.split(';').next().unwrap().to_owned();
            actix_web::test::TestRequest::default()
                .insert_header((header::COOKIE, pair))
                .to_http_request()
        };
        let old = before.signed(SESSION_TOKEN, "token-from-before", None);
        assert_eq!(
            after.read_signed(&request(old), SESSION_TOKEN).as_deref(),
            Some("token-from-before")
        );
        let new = after.signed(SESSION_TOKEN, "token-from-after", None);
        assert_ne!(new, before.signed(SESSION_TOKEN, "token-from-after", None));
        assert_eq!(
            after.read_signed(&request(new.clone()), SESSION_TOKEN).as_deref(),
            Some("token-from-after")
        );
        // The old deployment does not know the new secret.
        assert_eq!(before.read_signed(&request(new), SESSION_TOKEN), None);
    }
}
