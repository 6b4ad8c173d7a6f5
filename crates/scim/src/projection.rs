//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): which attributes a response
//! carries. `id` and `schemas` are always returned.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::path::AttrPath;

const ALWAYS: [&str; 2] = ["id", "schemas"];

fn paths(list: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(AttrPath::parse)
        .collect()
}

/// The parts of `from` a path names, copied into `into`.
fn copy(from: &Map<String, Value>, into: &mut Map<String, Value>, path: &AttrPath) {
    let Some(key) = crate::key_ci(from, &path.attr) else {
        return;
    };
    let picked = match (&path.sub, &from[&key]) {
        (None, v) => v.clone(),
        (Some(sub), Value::Object(o)) => match crate::key_ci(o, sub) {
            Some(k) => {
                let mut part = match into.get(&key) {
                    Some(Value::Object(existing)) => existing.clone(),
                    _ => Map::new(),
                };
                part.insert(k.clone(), o[&k].clone());
                Value::Object(part)
            }
            None => return,
        },
        (Some(sub), Value::Array(items)) => Value::Array(
            items
                .iter()
                .filter_map(Value::as_object)
                .filter_map(|o| {
                    crate::key_ci(o, sub).map(|k| Value::Object(Map::from_iter([(k.clone(), o[&k].clone())])))
                })
                .collect(),
        ),
        (Some(_), _) => return,
    };
    into.insert(key, picked);
}

fn remove(from: &mut Map<String, Value>, path: &AttrPath) {
    let Some(key) = crate::key_ci(from, &path.attr) else {
        return;
    };
    match (&path.sub, from.get_mut(&key)) {
        (None, _) => {
            from.remove(&key);
        }
        (Some(sub), Some(Value::Object(o))) => {
            if let Some(k) = crate::key_ci(o, sub) {
                o.remove(&k);
            }
        }
        (Some(sub), Some(Value::Array(items))) => {
            for o in items.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(k) = crate::key_ci(o, sub) {
                    o.remove(&k);
                }
            }
        }
        _ => {}
    }
}

/// Narrows `resource` (core schema `core`) to `attributes`, or drops `excluded`.
///
/// # Errors
/// `invalidPath` for a list that names no attribute path.
pub fn project(
    resource: &mut Map<String, Value>,
    attributes: Option<&str>,
    excluded: Option<&str>,
    core: &str,
) -> Result<(), ScimError> {
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let mut kept = Map::new();
        for name in ALWAYS {
            if let Some(v) = resource.get(name) {
                kept.insert(name.to_owned(), v.clone());
            }
        }
        for path in paths(list)? {
            if path.in_core(core) {
                copy(resource, &mut kept, &path);
            } else if let Some(urn) = &path.urn
                && let Some(key) = crate::key_ci(resource, urn)
                && let Some(Value::Object(ext)) = resource.get(&key)
            {
                let mut part = match kept.get(&key) {
                    Some(Value::Object(existing)) => existing.clone(),
                    _ => Map::new(),
                };
                copy(ext, &mut part, &path);
                kept.insert(key, Value::Object(part));
            }
        }
        *resource = kept;
    }
    if let Some(list) = excluded {
        for path in paths(list)? {
            if ALWAYS.iter().any(|a| a.eq_ignore_ascii_case(&path.attr)) && path.sub.is_none() {
                continue;
            }
            if path.in_core(core) {
                remove(resource, &path);
            } else if let Some(urn) = &path.urn
                && let Some(key) = crate::key_ci(resource, urn)
                && let Some(Value::Object(ext)) = resource.get_mut(&key)
            {
                remove(ext, &path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Map<String, Value> {
        json!({
            "schemas": [crate::USER_SCHEMA], "id": "u1", "userName": "ada", "title": "Countess",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "a@x.example", "type": "work"}],
            "meta": {"resourceType": "User"}
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn attributes_keep_only_what_is_named_and_excluded_attributes_drop_it() {
        let mut u = user();
        project(
            &mut u,
            Some("userName,name.givenName,emails.value"),
            None,
            crate::USER_SCHEMA,
        )
        .unwrap();
        assert_eq!(
            Value::Object(u),
            json!({"schemas": [crate::USER_SCHEMA], "id": "u1", "userName": "ada",
                   "name": {"givenName": "Ada"}, "emails": [{"value": "a@x.example"}]})
        );
        let mut u = user();
        project(&mut u, None, Some("title,name.familyName,id"), crate::USER_SCHEMA).unwrap();
        assert!(u.get("title").is_none());
        assert_eq!(u["name"], json!({"givenName": "Ada"}));
        assert_eq!(u["id"], "u1", "id is always returned");
        assert!(project(&mut user(), Some("a b"), None, crate::USER_SCHEMA).is_err());
    }
}
