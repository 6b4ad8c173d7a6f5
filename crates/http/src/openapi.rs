//! The OpenAPI 3.1 document, generated from the mounted route table at start-up, so it lists
//! exactly what is served and cannot drift from it: every path and method, its path
//! parameters, Better Auth's error shape and the ways to authenticate. Served where Better
//! Auth's `openAPI` plugin serves it (`GET /open-api/generate-schema`), with a reference page
//! (`GET /reference`).

use serde_json::{Map, Value, json};

use crate::routes::RouteInfo;

/// The generated document, registered once by the bootstrap.
#[derive(Debug, Clone)]
pub struct OpenApiDocument(pub Value);

/// The names in a route pattern's `{...}` segments.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// `POST /sign-in/email` → `postSignInEmail`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for word in path.split(['/', '-', '{', '}']).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

/// The answers every operation may give. Bodies of 2xx answers vary per route and are not
/// described; errors have Better Auth's shape, except the 401/404 it sends empty.
fn responses(method: &str) -> Value {
    let error = json!({
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    });
    let mut out = Map::new();
    out.insert("200".into(), json!({"description": "Success"}));
    if method == "GET" {
        out.insert(
            "302".into(),
            json!({"description": "Redirect (callbacks and links)"}),
        );
    }
    for (code, what) in [
        ("400", "Invalid request"),
        ("403", "Forbidden"),
        ("409", "Conflict"),
        ("413", "Body too large"),
        ("415", "Unsupported content type"),
        ("422", "Unprocessable"),
        ("429", "Too many requests"),
    ] {
        let mut r = error.clone();
        if let Some(o) = r.as_object_mut() {
            o.insert("description".into(), what.into());
        }
        out.insert(code.into(), r);
    }
    out.insert(
        "401".into(),
        json!({"description": "Not signed in (the error shape, or empty as Better Auth sends it)"}),
    );
    out.insert(
        "404".into(),
        json!({"description": "Not found (the error shape, or empty as Better Auth sends it)"}),
    );
    Value::Object(out)
}

/// The SCIM service's routes (`/scim/v2/...`) answer in RFC 7644's terms: SCIM error objects
/// as `application/scim+json`, 201 on creation, 204 on deletion.
const SCIM_PREFIX: &str = "/scim/v2/";

fn scim_responses(method: &str) -> Value {
    let error = |what: &str| {
        json!({
            "description": what,
            "content": {"application/scim+json": {"schema": {"$ref": "#/components/schemas/ScimError"}}}
        })
    };
    let mut out = Map::new();
    let success = json!({"description": "Success", "content": {"application/scim+json": {"schema": {"type": "object"}}}});
    match method {
        "POST" => {
            out.insert("200".into(), success.clone());
            out.insert("201".into(), success);
        }
        "DELETE" => {
            out.insert("204".into(), json!({"description": "Deleted"}));
        }
        _ => {
            out.insert("200".into(), success);
        }
    }
    for (code, what) in [
        ("400", "Invalid request (scimType says why)"),
        ("401", "No valid SCIM bearer token"),
        ("403", "Forbidden"),
        ("404", "Not found"),
        ("405", "Method not allowed"),
        ("409", "Conflict (uniqueness)"),
        ("413", "Body too large"),
        ("415", "Unsupported content type"),
        ("429", "Too many requests"),
        ("501", "Not implemented"),
    ] {
        out.insert(code.into(), error(what));
    }
    Value::Object(out)
}

/// The document for `routes`, served under `server_url` (the public auth URL).
#[must_use]
pub fn document(routes: &[RouteInfo], server_url: &str, version: &str) -> OpenApiDocument {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes {
        let method = route.method.as_str();
        let params: Vec<Value> = path_parameters(route.path)
            .into_iter()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let tag = route
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let scim = route.path.starts_with(SCIM_PREFIX);
        let mut operation = json!({
            "operationId": operation_id(method, route.path),
            "summary": format!("{method} {}", route.path),
            "tags": [tag],
            "parameters": params,
            "responses": if scim { scim_responses(method) } else { responses(method) },
            "security": if scim {
                json!([{"bearerAuth": []}])
            } else {
                json!([{}, {"sessionCookie": []}, {"bearerAuth": []}, {"apiKey": []}])
            },
        });
        let body = match method {
            "POST" if scim => Some(json!({"application/scim+json": {"schema": {"type": "object"}}})),
            "PUT" | "PATCH" => Some(json!({"application/scim+json": {"schema": {"type": "object"}}})),
            "POST" => Some(json!({"application/json": {"schema": {"type": "object"}}})),
            _ => None,
        };
        if let (Some(content), Some(o)) = (body, operation.as_object_mut()) {
            o.insert(
                "requestBody".into(),
                json!({"required": false, "content": content}),
            );
        }
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(item) = item.as_object_mut() {
            item.insert(method.to_ascii_lowercase(), operation);
        }
    }
    OpenApiDocument(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Castellan",
            "version": version,
            "description": "Better Auth's HTTP API, served by Castellan. Errors are {\"message\", \"code\"}.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "message": {"type": "string"},
                        "code": {"type": "string"},
                    },
                },
                "ScimError": {
                    "type": "object",
                    "required": ["schemas", "status"],
                    "properties": {
                        "schemas": {"type": "array", "items": {"type": "string"}},
                        "status": {"type": "string"},
                        "scimType": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                },
            },
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "better-auth.session_token"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }))
}

/// The reference page: Scalar's API reference (as Better Auth's plugin serves it) over `url`.
#[must_use]
pub fn reference_page(url: &str) -> String {
    let url = url.replace('"', "%22").replace('<', "%3C");
    format!(
        "<!doctype html>\n<html>\n<head>\n<title>Castellan API reference</title>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n</head>\n<body>\n\
         <script id=\"api-reference\" data-url=\"{url}\"></script>\n\
         <script src=\"https://cdn.jsdelivr.net/npm/@scalar/api-reference\"></script>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn every_route_becomes_an_operation_with_its_path_parameters() {
        let routes = [
            RouteInfo {
                method: Method::POST,
                path: "/sign-in/email",
            },
            RouteInfo {
                method: Method::GET,
                path: "/reset-password/{token}",
            },
            RouteInfo {
                method: Method::POST,
                path: "/callback/{provider}",
            },
            RouteInfo {
                method: Method::GET,
                path: "/callback/{provider}",
            },
        ];
        let doc = document(&routes, "http://x.test/api/auth", "1.0").0;
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["paths"]["/sign-in/email"]["post"]["operationId"],
            "postSignInEmail"
        );
        assert_eq!(
            doc["paths"]["/reset-password/{token}"]["get"]["parameters"][0]["name"],
            "token"
        );
        let callback = doc["paths"]["/callback/{provider}"].as_object().unwrap();
        assert!(callback.contains_key("get") && callback.contains_key("post"));
        assert!(doc["paths"]["/sign-in/email"]["post"]["requestBody"].is_object());
        assert!(
            doc["paths"]["/reset-password/{token}"]["get"]
                .get("requestBody")
                .is_none()
        );
    }

    #[test]
    fn scim_routes_are_described_in_scim_terms() {
        let routes = [RouteInfo {
            method: Method::PATCH,
            path: "/scim/v2/Users/{user_id}",
        }];
        let doc = document(&routes, "http://x.test/api/auth", "1.0").0;
        let op = &doc["paths"]["/scim/v2/Users/{user_id}"]["patch"];
        assert_eq!(
            op["responses"]["404"]["content"]["application/scim+json"]["schema"]["$ref"],
            "#/components/schemas/ScimError"
        );
        assert!(op["requestBody"]["content"]["application/scim+json"].is_object());
        assert_eq!(op["security"], json!([{"bearerAuth": []}]));
        assert_eq!(
            doc["components"]["schemas"]["ScimError"]["required"],
            json!(["schemas", "status"])
        );
    }

    #[test]
    fn the_reference_page_cannot_be_broken_out_of() {
        let page = reference_page("/api/auth/open-api/generate-schema\"><script>");
        assert!(!page.contains("\"><script>"));
    }
}
