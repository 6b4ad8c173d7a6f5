//! What Castellan publishes about itself (RFC 7643 §5-7): the service provider configuration,
//! the User and Group schemas (exactly the attributes it keeps) and their resource types.

use serde_json::{Value, json};

/// Most resources one list answer holds.
pub const MAX_RESULTS: usize = 200;

fn attribute(name: &str, kind: &str, multi: bool, required: bool, sub: &[Value]) -> Value {
    let mut a = json!({
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": name,
        "required": required,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    });
    if let Some(o) = a.as_object_mut() {
        if kind == "complex" {
            o.insert("subAttributes".into(), Value::Array(sub.to_vec()));
            o.remove("caseExact");
            o.remove("uniqueness");
        }
        if kind == "boolean" {
            o.remove("caseExact");
            o.remove("uniqueness");
        }
    }
    a
}

fn text(name: &str) -> Value {
    attribute(name, "string", false, false, &[])
}

/// The User schema: the attributes Castellan stores and returns as the directory sent them.
#[must_use]
pub fn user_schema(base: &str) -> Value {
    let mut user_name = attribute("userName", "string", false, true, &[]);
    user_name["uniqueness"] = "server".into();
    let mut email_type = text("type");
    email_type["canonicalValues"] = json!(["work", "home", "other"]);
    let attributes = vec![
        user_name,
        attribute(
            "name",
            "complex",
            false,
            false,
            &[
                text("formatted"),
                text("familyName"),
                text("givenName"),
                text("middleName"),
                text("honorificPrefix"),
                text("honorificSuffix"),
            ],
        ),
        text("displayName"),
        text("nickName"),
        text("title"),
        text("userType"),
        text("preferredLanguage"),
        text("locale"),
        text("timezone"),
        attribute("active", "boolean", false, false, &[]),
        attribute(
            "emails",
            "complex",
            true,
            false,
            &[
                text("value"),
                text("display"),
                email_type,
                attribute("primary", "boolean", false, false, &[]),
            ],
        ),
    ];
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": crate::USER_SCHEMA,
        "name": "User",
        "description": "User Account",
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", crate::USER_SCHEMA)},
    })
}

/// The Group schema: a name and members, who are users of the same connection.
#[must_use]
pub fn group_schema(base: &str) -> Value {
    let mut value = text("value");
    value["mutability"] = "immutable".into();
    let mut reference = attribute("$ref", "reference", false, false, &[]);
    reference["referenceTypes"] = json!(["User"]);
    reference["mutability"] = "immutable".into();
    let mut kind = text("type");
    kind["canonicalValues"] = json!(["User"]);
    kind["mutability"] = "immutable".into();
    let mut display = text("display");
    display["mutability"] = "readOnly".into();
    let mut display_name = attribute("displayName", "string", false, true, &[]);
    display_name["uniqueness"] = "server".into();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": crate::GROUP_SCHEMA,
        "name": "Group",
        "description": "Group",
        "attributes": [
            display_name,
            attribute("members", "complex", true, false, &[value, reference, kind, display]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{}", crate::GROUP_SCHEMA)},
    })
}

/// The `Group` resource type.
#[must_use]
pub fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": crate::GROUP_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
    })
}

/// The `User` resource type.
#[must_use]
pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": crate::USER_SCHEMA,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
    })
}

/// What the service supports: PATCH and filters, no bulk, sorting, ETags or password changes;
/// bearer tokens.
#[must_use]
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "The SCIM token generated for the connection (POST /api/auth/scim/generate-token)",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

/// A `ListResponse` of `resources`, all of them on one page.
#[must_use]
pub fn list_response(resources: Vec<Value>) -> Value {
    list_page(resources.len(), 1, resources)
}

/// A `ListResponse` page: `total` results, this page starting at `start` (1-based).
#[must_use]
pub fn list_page(total: usize, start: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [crate::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
