//! Attribute paths: `userName`, `name.givenName`, and the same behind a schema URN
//! (`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName`).

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};

/// `[urn:]attr[.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema the attribute belongs to, when the path names one.
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

/// `ALPHA *(nameChar)`, RFC 7643 §2.1, plus `$ref`.
fn is_name(s: &str) -> bool {
    s == "$ref"
        || (s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

/// Splits a leading schema URN off `s` (at its last `:`), if `s` starts with `urn:`.
#[must_use]
pub fn split_urn(s: &str) -> (Option<&str>, &str) {
    if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && let Some(i) = s.rfind(':')
        && i > 3
    {
        return (Some(&s[..i]), &s[i + 1..]);
    }
    (None, s)
}

impl AttrPath {
    /// # Errors
    /// `invalidPath` for anything but `[urn:]attr[.sub]`.
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        let invalid = || ScimError::bad(ScimType::InvalidPath, format!("{s:?} is not an attribute path"));
        let (urn, rest) = split_urn(s);
        let (attr, sub) = match rest.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        if !is_name(attr) || sub.is_some_and(|b| !is_name(b)) {
            return Err(invalid());
        }
        Ok(Self {
            urn: urn.map(str::to_owned),
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// Whether the path names the resource's core schema (or none).
    #[must_use]
    pub fn in_core(&self, core: &str) -> bool {
        self.urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(core))
    }
}

/// The object a path's attribute lives in: the resource itself for its core schema, the
/// extension's object otherwise.
#[must_use]
pub fn container<'a>(
    doc: &'a Map<String, Value>,
    urn: Option<&str>,
    core: &str,
) -> Option<&'a Map<String, Value>> {
    match urn {
        Some(u) if !u.eq_ignore_ascii_case(core) => crate::get_ci(doc, u)?.as_object(),
        _ => Some(doc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_an_attribute_a_sub_attribute_and_maybe_a_schema() {
        let p = AttrPath::parse("name.givenName").unwrap();
        assert_eq!(
            (p.urn, p.attr.as_str(), p.sub.as_deref()),
            (None, "name", Some("givenName"))
        );
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
        assert_eq!(p.urn.as_deref(), Some(crate::USER_SCHEMA));
        assert_eq!(p.attr, "userName");
        assert!(p.in_core(crate::USER_SCHEMA));
        let p =
            AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").unwrap();
        assert!(!p.in_core(crate::USER_SCHEMA));
        for bad in ["", "1abc", "a b", "a.b.c", "name.", "x\u{0}", "ür€n:x", "urn:"] {
            assert!(AttrPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
