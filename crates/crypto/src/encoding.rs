//! The percent-encodings Better Auth's wire uses, done by the `percent-encoding` and `url`
//! crates; only the character sets are named here.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The characters JavaScript's `encodeURIComponent` escapes: all but letters, digits and
/// `-_.!~*'()`.
pub const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// JavaScript's `encodeURIComponent`.
#[must_use]
pub fn uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// `application/x-www-form-urlencoded`, as `URLSearchParams` writes a value (spaces as `+`).
#[must_use]
pub fn form_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_javascripts_encoders() {
        // encodeURIComponent("a b&c/d@e!~*'()") and new URLSearchParams({v: ...}).toString().
        assert_eq!(uri_component("a b&c/d@e!~*'()é"), "a%20b%26c%2Fd%40e!~*'()%C3%A9");
        assert_eq!(
            form_component("a b&c/d@e!~*'()"),
            "a+b%26c%2Fd%40e%21%7E*%27%28%29"
        );
    }
}
