//! A hostile-input sweep over every mounted route, taken from the server's own route table: NUL,
//! CR/LF, overlong, wrong-type, deeply nested and repeated inputs, in path segments, query
//! parameters and JSON bodies, sent by a signed-in admin who owns an active organization (so
//! handlers get past their session checks). No answer may be a 5xx, every error is JSON in
//! Better Auth's shape, and no answer sets a header from a hostile value.

use std::collections::BTreeMap;

use castellan_e2e::{Browser, TestApp, orgs};
use futures_util::StreamExt as _;
use serde_json::{Map, Value, json};

/// How a handler reads a field, which decides what a valid value of it looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Text,
    Email,
    Bool,
    Count,
    Object,
    Statements,
}

/// Every field a handler reads, with how it reads it, gathered from the services' sources so a
/// new field is swept without editing this test.
fn fields() -> Vec<(String, Kind)> {
    const READERS: [(&str, Kind); 17] = [
        ("string", Kind::Text),
        ("non_empty_string", Kind::Text),
        ("optional_string", Kind::Text),
        ("nullable_string", Kind::Text),
        ("string_or_list", Kind::Text),
        ("optional_string_or_list", Kind::Text),
        ("raw", Kind::Text),
        ("has", Kind::Text),
        ("get", Kind::Text),
        ("email", Kind::Email),
        ("optional_bool", Kind::Bool),
        ("optional_count", Kind::Count),
        ("optional_object", Kind::Object),
        ("optional_string_list", Kind::Text),
        ("optional_string_map", Kind::Object),
        ("optional_statements", Kind::Statements),
        ("one_of", Kind::Text),
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services");
    let mut found: BTreeMap<String, Kind> = BTreeMap::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("(\"") {
                let rest = &text[i + 2..];
                let Some(end) = rest.find('"') else { continue };
                let name = &rest[..end];
                let reader = text[..i].rsplit(['.', ' ', '(']).next().unwrap_or("");
                let Some((_, kind)) = READERS.iter().find(|(r, _)| *r == reader) else {
                    continue;
                };
                if !name.is_empty() && name.len() < 40 && name.chars().all(|c| c.is_ascii_alphanumeric()) {
                    // The most specific reading wins (`raw` then `optional_statements`, say).
                    let slot = found.entry(name.to_owned()).or_insert(*kind);
                    *slot = (*slot).max(*kind);
                }
            }
        }
    }
    assert!(found.len() > 40, "the field scan found too few names: {found:?}");
    found.into_iter().collect()
}

/// Who is calling, for values that must name real things to get past the first checks.
struct Caller {
    browser: Browser,
    user_id: String,
    org_id: String,
    /// A SCIM bearer token for the caller's organization: `/scim/v2` routes get it.
    scim_token: String,
}

/// A valid value for a field, so a probe that spoils one field reaches as deep as it can.
fn valid(name: &str, kind: Kind, who: &Caller) -> Value {
    match kind {
        Kind::Email => json!(format!("{}@e2e.test", castellan_e2e::unique("sw"))),
        Kind::Bool => json!(false),
        Kind::Count => json!(10),
        Kind::Object => json!({}),
        Kind::Statements => json!({"member": ["read"]}),
        Kind::Text => {
            let lower = name.to_ascii_lowercase();
            if lower.contains("url") || lower == "redirectto" {
                json!("/dashboard")
            } else if lower.contains("password") {
                json!(castellan_e2e::PASSWORD)
            } else if lower.contains("email") {
                json!(format!("{}@e2e.test", castellan_e2e::unique("sw")))
            } else if lower == "organizationid" {
                json!(who.org_id)
            } else if lower == "userid" {
                json!(who.user_id)
            } else if lower.contains("role") {
                json!("member")
            } else if lower == "slug" {
                json!(castellan_e2e::unique("sw-"))
            } else if lower == "domain" {
                json!("sweep.test")
            } else if lower == "provider" || lower == "providerid" {
                // The sweep's server has GitHub configured (see `SWEEP_SETTINGS`).
                json!("github")
            } else if lower == "issuer" {
                json!("https://idp.sweep.test")
            } else {
                json!(castellan_e2e::unique("sw"))
            }
        }
    }
}

/// Characters that do not compress: Postgres compresses a repetitive value before indexing it,
/// which would hide an index-row-size failure.
fn incompressible(len: usize) -> String {
    let mut s = String::with_capacity(len + 12);
    while s.len() < len {
        s.push_str(&castellan_e2e::unique(""));
    }
    s.truncate(len);
    s
}

fn hostile_strings() -> Vec<(&'static str, String)> {
    vec![
        ("nul", "a\u{0}b".to_owned()),
        ("crlf", "/a\r\nSet-Cookie: pwned=1".to_owned()),
        ("overlong", incompressible(60_000)),
    ]
}

/// Wrong types: one scalar, one container (the validator treats every mismatch alike).
fn wrong_types() -> Vec<(&'static str, Value)> {
    vec![
        ("number", json!(12345)),
        ("object", json!({"a": [1, {"b": null}]})),
    ]
}

fn query_encode(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn path_with(template: &str, segment: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(segment.as_bytes()).collect();
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(&encoded);
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// One probe: a path (with query) and, for POST routes, a raw JSON body.
struct Probe {
    label: String,
    path: String,
    body: Option<String>,
}

fn probes(method: &str, template: &str, fields: &[(String, Kind)], who: &Caller) -> Vec<Probe> {
    // Every method that carries a body gets the body probes.
    let is_post = matches!(method, "POST" | "PUT" | "PATCH");
    let plain = path_with(template, "some-id");
    let mut out = Vec::new();
    if template.contains('{') {
        for (name, value) in hostile_strings() {
            let value = if name == "overlong" {
                "x".repeat(4_000)
            } else {
                value
            };
            out.push(Probe {
                label: format!("path segment {name}"),
                path: path_with(template, &value),
                body: is_post.then(|| "{}".to_owned()),
            });
        }
    }
    for (field, _) in fields {
        // Every field as a query parameter of a GET route; on POST routes, the parameters some
        // of them read from the query (the guard in front of routing is the same for all).
        let read_from_query = ["callbackURL", "token", "organizationId", "disableRefresh"];
        for (name, value) in hostile_strings()
            .into_iter()
            .filter(|_| !is_post || read_from_query.contains(&field.as_str()))
        {
            let value = if name == "overlong" {
                "x".repeat(4_000)
            } else {
                value
            };
            out.push(Probe {
                label: format!("query {field} {name}"),
                path: format!("{plain}?{}", query_encode(&[(field, &value)])),
                body: is_post.then(|| "{}".to_owned()),
            });
        }
        if !is_post {
            out.push(Probe {
                label: format!("query {field} repeated"),
                path: format!("{plain}?{}", query_encode(&[(field, "a"), (field, "b")])),
                body: None,
            });
            continue;
        }
        // NUL is refused before any field is read; it gets one probe per route, below.
        let mut values: Vec<(String, Value)> = hostile_strings()
            .into_iter()
            .filter(|(n, _)| *n != "nul")
            .map(|(n, v)| (n.to_owned(), Value::String(v)))
            .collect();
        values.extend(wrong_types().into_iter().map(|(n, v)| (n.to_owned(), v)));
        for (name, value) in values {
            // Every other field valid; this one spoiled, at the top and inside `data`, where
            // update endpoints read their changes.
            let mut body: Map<String, Value> = fields
                .iter()
                .map(|(f, k)| (f.clone(), valid(f, *k, who)))
                .collect();
            let mut data: Map<String, Value> = fields
                .iter()
                .filter(|(f, _)| f != "data")
                .map(|(f, k)| (f.clone(), valid(f, *k, who)))
                .collect();
            data.insert(field.clone(), value.clone());
            body.insert(field.clone(), value);
            if field != "data" {
                body.insert("data".to_owned(), Value::Object(data));
            }
            out.push(Probe {
                label: format!("body {field} {name}"),
                path: plain.clone(),
                body: Some(Value::Object(body).to_string()),
            });
        }
    }
    if is_post {
        let nul: Map<String, Value> = fields
            .iter()
            .map(|(f, k)| {
                let v = if *k == Kind::Text {
                    json!("a\u{0}b")
                } else {
                    valid(f, *k, who)
                };
                (f.clone(), v)
            })
            .collect();
        out.push(Probe {
            label: "NUL in every text field".to_owned(),
            path: plain.clone(),
            body: Some(Value::Object(nul).to_string()),
        });
        let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
        let deep_object = format!("{}1{}", "{\"a\":".repeat(3_000), "}".repeat(3_000));
        for (label, body) in [
            ("deeply nested array", deep),
            ("deeply nested object", deep_object),
        ] {
            out.push(Probe {
                label: label.to_owned(),
                path: plain.clone(),
                body: Some(body),
            });
        }
        out.push(Probe {
            label: "duplicated JSON key".to_owned(),
            path: plain.clone(),
            body: Some(r#"{"email":"a@b.co","email":"c\u0000d@e.fg"}"#.to_owned()),
        });
    }
    out
}

/// A signed-in admin with an active organization, as deep into every handler as a stranger gets.
async fn caller(app: &TestApp) -> Caller {
    let (browser, email) = app.new_user("sweep").await;
    let db = app.db().await;
    use sea_orm::ConnectionTrait as _;
    db.execute_unprepared(&format!(
        r#"UPDATE "user" SET "role" = 'admin' WHERE "email" = '{email}'"#
    ))
    .await
    .unwrap();
    let org = orgs::create(&browser, "sweep").await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let r = browser
        .post("/organization/set-active", &json!({"organizationId": org_id}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user_id = browser.session().await["user"]["id"].as_str().unwrap().to_owned();
    let r = browser
        .post(
            "/scim/generate-token",
            &json!({"providerId": castellan_e2e::unique("sweep")}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let scim_token = r.json["scimToken"].as_str().unwrap().to_owned();
    Caller {
        browser,
        user_id,
        org_id,
        scim_token,
    }
}

/// Where a probe's answer falls short: a 5xx, a non-JSON error, or a hostile header.
fn defect(r: &castellan_e2e::Response) -> Option<String> {
    if r.status >= 500 {
        return Some(format!("{} {}", r.status, r.text));
    }
    if r.status >= 400 {
        // Better Auth's shape, or on SCIM's routes RFC 7644's error object.
        let shaped = r.json.get("message").is_some_and(Value::is_string)
            || (r.json["schemas"] == json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
                && r.json["detail"].is_string());
        // Better Auth's empty 404/401 bodies are its shape for those answers.
        let empty_like_better_auth = r.text.is_empty() && matches!(r.status, 401 | 404);
        if !(shaped || empty_like_better_auth) {
            return Some(format!(
                "{} with a non-JSON error body: {:.200}",
                r.status, r.text
            ));
        }
    }
    for (name, value) in &r.headers {
        if value
            .as_bytes()
            .iter()
            .any(|b| *b == 0 || *b == b'\r' || *b == b'\n')
            || name.as_str() == "pwned"
        {
            return Some(format!("hostile header {name}"));
        }
    }
    if r.set_cookies().iter().any(|c| c.starts_with("pwned")) {
        return Some("a hostile cookie was set".to_owned());
    }
    None
}

/// The sweep sends thousands of requests from one address: rate limiting is off for it.
async fn sweep(app: TestApp) {
    let fields = fields();
    let routes = castellan::route_table();
    assert!(routes.len() > 90, "the route table lists {} routes", routes.len());
    let mut defects = Vec::new();
    let mut sent = 0usize;
    for route in &routes {
        // A fresh caller per route: sign-out, delete-user and friends end the session.
        let who = caller(&app).await;
        let probes = probes(route.method.as_str(), route.path, &fields, &who);
        let b = &who.browser;
        sent += probes.len();
        // SCIM's routes are the directory's: they get the organization's SCIM token.
        let bearer = format!("Bearer {}", who.scim_token);
        let mut headers = vec![("content-type", "application/json")];
        if route.path.starts_with("/scim/v2/") {
            headers.push(("authorization", bearer.as_str()));
        }
        let headers = &headers;
        let results: Vec<(String, castellan_e2e::Response)> = futures_util::stream::iter(probes)
            .map(|p| {
                let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
                async move {
                    let body = match (&p.body, method.as_str()) {
                        (Some(body), _) => Some(body.clone()),
                        (None, "GET" | "DELETE") => None,
                        (None, _) => Some("{}".to_owned()),
                    };
                    (p.label, b.send_raw(method, &p.path, headers, body).await)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        for (label, r) in results {
            if let Some(d) = defect(&r) {
                defects.push(format!("{} {} [{label}]: {d}", route.method, route.path));
            }
        }
    }
    assert!(sent > 5_000, "only {sent} probes were sent");
    assert!(
        defects.is_empty(),
        "{} defects of {sent} probes:\n{}",
        defects.len(),
        defects.join("\n")
    );
    // The server is still healthy afterwards.
    assert_eq!(app.browser().get("/ok").await.json, json!({"ok": true}));
}

/// Rate limiting off (the sweep sends thousands of requests from one address), and a social
/// provider configured, so the social routes are swept past "no such provider". Its endpoints
/// are a closed loopback port: a flow that reaches the provider fails as an unreachable one does.
const SWEEP_SETTINGS: &[(&str, &str)] = &[
    ("RATE_LIMIT", "0"),
    ("GITHUB_CLIENT_ID", "sweep-client"),
    ("GITHUB_CLIENT_SECRET", "sweep-secret"),
    ("GITHUB_URL", "http://127.0.0.1:9"),
    ("GITHUB_API_URL", "http://127.0.0.1:9"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_hostile_input_cleanly_sqlite() {
    sweep(
        TestApp::spawn_with(castellan_e2e::Backend::Sqlite, SWEEP_SETTINGS)
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_hostile_input_cleanly_postgres_redis() {
    if let Some(app) = TestApp::spawn_with(castellan_e2e::Backend::PostgresRedis, SWEEP_SETTINGS).await {
        sweep(app).await;
    }
}
