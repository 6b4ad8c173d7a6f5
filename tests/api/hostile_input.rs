//! A hostile-input sweep over every mounted route, taken from the server's own route table: NUL,
//! CR/LF, overlong, wrong-type, deeply nested and repeated inputs, in path segments, query
//! parameters and JSON bodies, sent by a signed-in admin who owns an active organization (so
//! handlers get past their session checks). No answer may be a 5xx, every error is JSON in
//! Better Auth's shape, and no answer sets a header from a hostile value.

use std::collections::BTreeSet;

use castellan_e2e::{Browser, TestApp, orgs};
use futures_util::StreamExt as _;
use serde_json::{Map, Value, json};

/// Every field name a handler reads, gathered from the services' sources, so a new field is
/// swept without editing this test.
fn field_names() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../services");
    let mut names = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("(\"") {
                    let rest = &text[i + 2..];
                    let Some(end) = rest.find('"') else { continue };
                    let name = &rest[..end];
                    let before = &text[..i];
                    let reader = before.rsplit(['.', ' ', '(']).next().unwrap_or("");
                    let is_field_read = [
                        "string",
                        "non_empty_string",
                        "optional_string",
                        "nullable_string",
                        "optional_bool",
                        "string_or_list",
                        "optional_string_or_list",
                        "optional_object",
                        "optional_statements",
                        "optional_count",
                        "email",
                        "raw",
                        "has",
                        "get",
                    ]
                    .contains(&reader);
                    if is_field_read
                        && !name.is_empty()
                        && name.len() < 40
                        && name.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
    }
    let names: Vec<String> = names.into_iter().collect();
    assert!(names.len() > 40, "the field scan found too few names: {names:?}");
    names
}

fn hostile_strings() -> Vec<(&'static str, String)> {
    vec![
        ("nul", "a\u{0}b".to_owned()),
        ("crlf", "/a\r\nSet-Cookie: pwned=1".to_owned()),
        ("overlong", "x".repeat(60_000)),
    ]
}

fn wrong_types() -> Vec<(&'static str, Value)> {
    vec![
        ("number", json!(12345)),
        ("bool", json!(true)),
        ("array", json!(["a", 1])),
        ("object", json!({"a": {"b": 1}})),
        ("null", Value::Null),
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

fn probes(method: &str, template: &str, fields: &[String]) -> Vec<Probe> {
    let is_post = method == "POST";
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
    for field in fields {
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
        let mut values: Vec<(String, Value)> = hostile_strings()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), Value::String(v)))
            .collect();
        values.extend(wrong_types().into_iter().map(|(n, v)| (n.to_owned(), v)));
        for (name, value) in values {
            let mut body = Map::new();
            body.insert(field.clone(), value.clone());
            // Also nested one level down, where update endpoints read `data`.
            body.insert("data".to_owned(), json!({ field.clone(): value }));
            out.push(Probe {
                label: format!("body {field} {name}"),
                path: plain.clone(),
                body: Some(Value::Object(body).to_string()),
            });
        }
    }
    if is_post {
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
async fn caller(app: &TestApp) -> Browser {
    let (b, email) = app.new_user("sweep").await;
    let db = app.db().await;
    use sea_orm::ConnectionTrait as _;
    db.execute_unprepared(&format!(
        r#"UPDATE "user" SET "role" = 'admin' WHERE "email" = '{email}'"#
    ))
    .await
    .unwrap();
    let org = orgs::create(&b, "sweep").await;
    let r = b
        .post("/organization/set-active", &json!({"organizationId": org["id"]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    b
}

/// Where a probe's answer falls short: a 5xx, a non-JSON error, or a hostile header.
fn defect(r: &castellan_e2e::Response) -> Option<String> {
    if r.status >= 500 {
        return Some(format!("{} {}", r.status, r.text));
    }
    if r.status >= 400 {
        let shaped = r.json.get("message").is_some_and(Value::is_string);
        // Better Auth's empty 404/401 bodies are its shape for those answers.
        if !shaped && !(r.text.is_empty() && matches!(r.status, 401 | 404)) {
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
    let fields = field_names();
    let routes = castellan::route_table();
    assert!(routes.len() > 90, "the route table lists {} routes", routes.len());
    let mut defects = Vec::new();
    let mut sent = 0usize;
    for route in &routes {
        // A fresh caller per route: sign-out, delete-user and friends end the session.
        let b = caller(&app).await;
        let probes = probes(route.method.as_str(), route.path, &fields);
        sent += probes.len();
        let method = route.method.as_str().to_owned();
        let results: Vec<(String, castellan_e2e::Response)> = futures_util::stream::iter(probes)
            .map(|p| {
                let b = &b;
                let method = method.clone();
                async move {
                    let r = match &p.body {
                        Some(body) => b.post_raw(&p.path, "application/json", body.clone()).await,
                        None if method == "GET" => b.get(&p.path).await,
                        None => b.post_raw(&p.path, "application/json", "{}").await,
                    };
                    (p.label, r)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_hostile_input_cleanly_sqlite() {
    sweep(
        TestApp::spawn_with(castellan_e2e::Backend::Sqlite, &[("RATE_LIMIT", "0")])
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_hostile_input_cleanly_postgres_redis() {
    if let Some(app) =
        TestApp::spawn_with(castellan_e2e::Backend::PostgresRedis, &[("RATE_LIMIT", "0")]).await
    {
        sweep(app).await;
    }
}
