//! SCIM 2.0 (RFC 7643, RFC 7644) on JSON documents: the filter language, PATCH operations,
//! attribute projection and the discovery documents Castellan publishes. Resources are kept as
//! the JSON the directory sent, so every published attribute round-trips; the services map the
//! few that mean something to Castellan (the address, the name, `active`).

pub mod discovery;
pub mod error;
pub mod filter;
pub mod patch;
pub mod path;
pub mod projection;

pub use error::{ScimError, ScimType};

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension (stored as sent; not published).
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// `ListResponse` messages.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// `PatchOp` messages.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// `Error` messages.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `key` of an object, matched case-insensitively as SCIM attribute names are.
#[must_use]
pub fn get_ci<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<&'a serde_json::Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The key under which `object` holds `key` (its own spelling), if it does.
#[must_use]
pub fn key_ci(object: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}
