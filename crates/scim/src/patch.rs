//! PATCH (RFC 7644 §3.5.2) on a resource's JSON: `add`, `replace` and `remove`, with or without
//! a path, on simple, complex, multi-valued and extension attributes and on values selected by
//! a filter (`emails[type eq "work"].value`). The dialects directories actually send are
//! accepted: Entra's capitalised operations and string booleans (`"False"`), Okta's pathless
//! `replace` of `{"active": false}`, and a `remove` that lists the values to take out.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::filter::{self, Filter};
use crate::path::{AttrPath, split_urn};

/// Operations one request may carry.
pub const MAX_OPERATIONS: usize = 100;
/// Attributes no PATCH may touch: the server assigns them.
const READ_ONLY: [&str; 2] = ["id", "meta"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// Where an operation applies.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A whole extension object (`urn:...:enterprise:2.0:User`).
    Schema(String),
    Attr(AttrPath),
    /// `attr[filter]` or `attr[filter].sub`.
    Filtered {
        path: AttrPath,
        filter: Filter,
        sub: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: OpKind,
    pub target: Option<Target>,
    pub value: Option<Value>,
}

fn invalid_path(path: &str) -> ScimError {
    ScimError::bad(
        ScimType::InvalidPath,
        format!("{path:?} is not a valid PATCH path"),
    )
}

/// Parses a PATCH path. `extensions` are the schema URNs a whole-object path may name.
///
/// # Errors
/// `invalidPath`, or `invalidFilter` inside brackets.
pub fn parse_path(path: &str, extensions: &[&str]) -> Result<Target, ScimError> {
    if let Some(urn) = extensions.iter().find(|u| u.eq_ignore_ascii_case(path)) {
        return Ok(Target::Schema((*urn).to_owned()));
    }
    let Some(open) = path.find('[') else {
        return AttrPath::parse(path)
            .map(Target::Attr)
            .map_err(|_| invalid_path(path));
    };
    let close = path
        .rfind(']')
        .filter(|c| *c > open)
        .ok_or_else(|| invalid_path(path))?;
    let head = AttrPath::parse(&path[..open]).map_err(|_| invalid_path(path))?;
    if head.sub.is_some() {
        return Err(invalid_path(path));
    }
    let filter = filter::parse(&path[open + 1..close])?;
    let sub = match &path[close + 1..] {
        "" => None,
        rest => {
            let name = rest.strip_prefix('.').ok_or_else(|| invalid_path(path))?;
            AttrPath::parse(name).map_err(|_| invalid_path(path))?;
            Some(name.to_owned())
        }
    };
    Ok(Target::Filtered {
        path: head,
        filter,
        sub,
    })
}

/// Reads a `PatchOp` message.
///
/// # Errors
/// `invalidSyntax` for a body that is not one, `invalidPath`/`invalidFilter` for its paths.
pub fn parse(body: &Value, extensions: &[&str]) -> Result<Vec<Operation>, ScimError> {
    let syntax = |d: &str| ScimError::bad(ScimType::InvalidSyntax, d.to_owned());
    let object = body
        .as_object()
        .ok_or_else(|| syntax("the body is not a PatchOp object"))?;
    let schemas = crate::get_ci(object, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|s| s.as_str() == Some(crate::PATCH_OP))) {
        return Err(syntax(
            "schemas must list urn:ietf:params:scim:api:messages:2.0:PatchOp",
        ));
    }
    let operations = crate::get_ci(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| syntax("Operations must be an array"))?;
    if operations.is_empty() || operations.len() > MAX_OPERATIONS {
        return Err(syntax("Operations must hold 1 to 100 operations"));
    }
    operations
        .iter()
        .map(|o| {
            let o = o
                .as_object()
                .ok_or_else(|| syntax("an operation is not an object"))?;
            let op = match crate::get_ci(o, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => OpKind::Add,
                Some("replace") => OpKind::Replace,
                Some("remove") => OpKind::Remove,
                _ => return Err(syntax("op must be add, replace or remove")),
            };
            let target = match crate::get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(parse_path(p, extensions)?),
                Some(_) => return Err(syntax("path must be a string")),
            };
            let value = crate::get_ci(o, "value").cloned();
            if op != OpKind::Remove && value.is_none() {
                return Err(syntax("add and replace need a value"));
            }
            if op == OpKind::Remove && target.is_none() {
                return Err(ScimError::bad(ScimType::NoTarget, "remove needs a path"));
            }
            Ok(Operation { op, target, value })
        })
        .collect()
}

fn read_only(path: &AttrPath, core: &str) -> bool {
    path.in_core(core) && READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(&path.attr))
}

/// The object an attribute of `urn` is written in, created when missing (and the extension
/// then listed in `schemas`).
fn holder<'a>(
    doc: &'a mut Map<String, Value>,
    urn: Option<&str>,
    core: &str,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    match urn {
        Some(u) if !u.eq_ignore_ascii_case(core) => {
            let key = crate::key_ci(doc, u).unwrap_or_else(|| u.to_owned());
            list_schema(doc, &key);
            let slot = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut().ok_or_else(|| invalid_path(u))
        }
        _ => Ok(doc),
    }
}

fn list_schema(doc: &mut Map<String, Value>, urn: &str) {
    let schemas = doc.entry("schemas").or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = schemas
        && !list
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    {
        list.push(Value::String(urn.to_owned()));
    }
}

/// `add` of `name: value` into `object`: values are appended to a multi-valued attribute,
/// sub-attributes merged into a complex one, anything else set.
fn add_attribute(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = crate::key_ci(object, name).unwrap_or_else(|| name.to_owned());
    match (object.get_mut(&key), value) {
        (_, Value::Null) => {}
        (Some(Value::Array(existing)), Value::Array(new)) => {
            for v in new {
                if !existing.contains(&v) {
                    existing.push(v);
                }
            }
        }
        (Some(Value::Array(existing)), v) => {
            if !existing.contains(&v) {
                existing.push(v);
            }
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                set_attribute(existing, &k, v);
            }
        }
        (_, v) => {
            object.insert(key, v);
        }
    }
}

/// `replace` of `name` in `object`: a complex attribute keeps the sub-attributes the value
/// does not name; anything else is replaced whole; `null` removes it.
fn replace_attribute(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = crate::key_ci(object, name).unwrap_or_else(|| name.to_owned());
    match (object.get_mut(&key), value) {
        (_, Value::Null) => {
            object.remove(&key);
        }
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                set_attribute(existing, &k, v);
            }
        }
        (_, v) => {
            object.insert(key, v);
        }
    }
}

fn set_attribute(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = crate::key_ci(object, name).unwrap_or_else(|| name.to_owned());
    if value.is_null() {
        object.remove(&key);
    } else {
        object.insert(key, value);
    }
}

fn remove_attribute(object: &mut Map<String, Value>, name: &str) {
    if let Some(key) = crate::key_ci(object, name) {
        object.remove(&key);
    }
}

/// Whether `item` is one of the values a `remove` lists (equal, or the same `value`).
fn listed(item: &Value, listed: &[Value]) -> bool {
    let id = |v: &Value| v.as_object().and_then(|o| crate::get_ci(o, "value")).cloned();
    listed
        .iter()
        .any(|l| l == item || (id(l).is_some() && id(l) == id(item)))
}

fn apply_pathless(
    doc: &mut Map<String, Value>,
    op: OpKind,
    value: Value,
    core: &str,
) -> Result<(), ScimError> {
    let Value::Object(fields) = value else {
        return Err(ScimError::bad(
            ScimType::InvalidValue,
            "an operation without a path needs an object value",
        ));
    };
    for (name, v) in fields {
        // `urn:...:User` (a schema, capitalised) holding an object: the core schema's
        // attributes or a whole extension; `urn:...:User:title` is an attribute path.
        let names_schema = v.is_object()
            && split_urn(&name).0.is_some()
            && split_urn(&name).1.starts_with(|c: char| c.is_ascii_uppercase());
        if names_schema {
            let extension = (!name.eq_ignore_ascii_case(core)).then_some(name.as_str());
            let Value::Object(inner) = v else { continue };
            let object = holder(doc, extension, core)?;
            for (k, iv) in inner {
                if extension.is_none() && READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(&k)) {
                    continue;
                }
                match op {
                    OpKind::Add => add_attribute(object, &k, iv),
                    _ => replace_attribute(object, &k, iv),
                }
            }
            continue;
        }
        let path = AttrPath::parse(&name)?;
        if read_only(&path, core) || name.eq_ignore_ascii_case("schemas") {
            continue;
        }
        apply_to_attr(doc, op, &path, Some(v), core)?;
    }
    Ok(())
}

fn apply_to_attr(
    doc: &mut Map<String, Value>,
    op: OpKind,
    path: &AttrPath,
    value: Option<Value>,
    core: &str,
) -> Result<(), ScimError> {
    if read_only(path, core) {
        return Err(ScimError::bad(
            ScimType::Mutability,
            format!("{} is read-only", path.attr),
        ));
    }
    let object = holder(doc, path.urn.as_deref(), core)?;
    match (op, &path.sub, value) {
        (OpKind::Remove, None, Some(Value::Array(values))) => {
            if let Some(key) = crate::key_ci(object, &path.attr)
                && let Some(Value::Array(items)) = object.get_mut(&key)
            {
                items.retain(|i| !listed(i, &values));
                if items.is_empty() {
                    object.remove(&key);
                }
            }
        }
        (OpKind::Remove, None, _) => remove_attribute(object, &path.attr),
        (OpKind::Remove, Some(sub), _) => {
            if let Some(key) = crate::key_ci(object, &path.attr) {
                match object.get_mut(&key) {
                    Some(Value::Object(inner)) => {
                        remove_attribute(inner, sub);
                        if inner.is_empty() {
                            object.remove(&key);
                        }
                    }
                    Some(Value::Array(items)) => {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            remove_attribute(item, sub);
                        }
                    }
                    _ => {}
                }
            }
        }
        (OpKind::Add, None, Some(v)) => add_attribute(object, &path.attr, v),
        (OpKind::Replace, None, Some(v)) => replace_attribute(object, &path.attr, v),
        (_, Some(sub), Some(v)) => {
            let key = crate::key_ci(object, &path.attr).unwrap_or_else(|| path.attr.clone());
            let slot = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
            match slot {
                Value::Array(items) => {
                    if items.is_empty() {
                        items.push(Value::Object(Map::new()));
                    }
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        set_attribute(item, sub, v.clone());
                    }
                }
                Value::Object(inner) => set_attribute(inner, sub, v),
                other => {
                    let mut inner = Map::new();
                    set_attribute(&mut inner, sub, v);
                    *other = Value::Object(inner);
                }
            }
        }
        (_, _, None) => return Err(ScimError::bad(ScimType::InvalidValue, "a value is required")),
    }
    Ok(())
}

fn apply_filtered(
    doc: &mut Map<String, Value>,
    op: OpKind,
    (path, filter, sub): (&AttrPath, &Filter, Option<&str>),
    value: Option<Value>,
    core: &str,
) -> Result<(), ScimError> {
    if read_only(path, core) {
        return Err(ScimError::bad(
            ScimType::Mutability,
            format!("{} is read-only", path.attr),
        ));
    }
    let object = holder(doc, path.urn.as_deref(), core)?;
    let key = crate::key_ci(object, &path.attr).unwrap_or_else(|| path.attr.clone());
    let slot = object
        .entry(key.clone())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    let Value::Array(items) = slot else {
        return Err(invalid_path(&path.attr));
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.as_object().is_some_and(|o| filter.matches(o, core)))
        .map(|(i, _)| i)
        .collect();
    match (op, sub, value) {
        (OpKind::Remove, None, _) => {
            let mut i = 0;
            items.retain(|_| {
                i += 1;
                !hits.contains(&(i - 1))
            });
        }
        (OpKind::Remove, Some(sub), _) => {
            for i in hits {
                if let Some(item) = items[i].as_object_mut() {
                    remove_attribute(item, sub);
                }
            }
        }
        (_, Some(sub), Some(v)) => {
            if hits.is_empty() {
                // Entra adds `emails[type eq "work"].value` to a user with no work address.
                let mut item = Map::new();
                for (p, literal) in filter.equalities() {
                    if p.sub.is_none() {
                        item.insert(p.attr.clone(), literal.clone());
                    }
                }
                set_attribute(&mut item, sub, v);
                items.push(Value::Object(item));
            } else {
                for i in hits {
                    if let Some(item) = items[i].as_object_mut() {
                        set_attribute(item, sub, v.clone());
                    }
                }
            }
        }
        (op, None, Some(Value::Object(new))) => {
            if hits.is_empty() {
                if op == OpKind::Replace {
                    return Err(ScimError::bad(ScimType::NoTarget, "no value matches the filter"));
                }
                items.push(Value::Object(new));
            } else {
                for i in hits {
                    if let Some(item) = items[i].as_object_mut() {
                        for (k, v) in new.clone() {
                            set_attribute(item, &k, v);
                        }
                    }
                }
            }
        }
        _ => {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "the value does not fit the path",
            ));
        }
    }
    if items.is_empty() {
        object.remove(&key);
    }
    Ok(())
}

/// Entra sends booleans as strings (`"False"`): read them as booleans where the schema says
/// boolean.
pub fn normalize_booleans(doc: &mut Map<String, Value>, booleans: &[&str]) {
    for name in booleans {
        if let Some(key) = crate::key_ci(doc, name)
            && let Some(Value::String(s)) = doc.get(&key)
        {
            match s.to_ascii_lowercase().as_str() {
                "true" => {
                    doc.insert(key, Value::Bool(true));
                }
                "false" => {
                    doc.insert(key, Value::Bool(false));
                }
                _ => {}
            }
        }
    }
}

/// Applies `operations` to `doc` (a resource whose core schema is `core`), in order; on an
/// error `doc` may be partly changed, so callers apply to a copy.
///
/// # Errors
/// `noTarget`, `invalidValue`, `mutability` (for `id` and `meta`), `invalidPath`.
pub fn apply(
    doc: &mut Map<String, Value>,
    operations: Vec<Operation>,
    core: &str,
    booleans: &[&str],
) -> Result<(), ScimError> {
    for operation in operations {
        match (operation.target, operation.value) {
            (None, Some(value)) => apply_pathless(doc, operation.op, value, core)?,
            (None, None) => {
                return Err(ScimError::bad(
                    ScimType::NoTarget,
                    "a path or a value is required",
                ));
            }
            (Some(Target::Schema(urn)), value) => match (operation.op, value) {
                (OpKind::Remove, _) => remove_attribute(doc, &urn),
                (op, Some(value)) => apply_pathless(doc, op, serde_json::json!({ urn: value }), core)?,
                (_, None) => return Err(ScimError::bad(ScimType::InvalidValue, "a value is required")),
            },
            (Some(Target::Attr(path)), value) => apply_to_attr(doc, operation.op, &path, value, core)?,
            (Some(Target::Filtered { path, filter, sub }), value) => {
                apply_filtered(doc, operation.op, (&path, &filter, sub.as_deref()), value, core)?;
            }
        }
    }
    normalize_booleans(doc, booleans);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXT: &str = crate::ENTERPRISE_USER_SCHEMA;

    fn user() -> Map<String, Value> {
        json!({
            "schemas": [crate::USER_SCHEMA],
            "userName": "ada@example.com",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn patch(doc: &mut Map<String, Value>, ops: Value) -> Result<(), ScimError> {
        let body = json!({"schemas": [crate::PATCH_OP], "Operations": ops});
        let ops = parse(&body, &[EXT])?;
        apply(doc, ops, crate::USER_SCHEMA, &["active"])
    }

    #[test]
    fn entra_dialect_capitalised_ops_string_booleans_and_filtered_paths() {
        let mut u = user();
        patch(
            &mut u,
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "ada@home.example"},
                {"op": "Replace", "path": "name.familyName", "value": "King"},
                {"op": "Add", "path": format!("{EXT}:department"), "value": "Engines"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "countess@example.com"}
            ]),
        )
        .unwrap();
        assert_eq!(u["active"], false);
        assert_eq!(u["name"], json!({"givenName": "Ada", "familyName": "King"}));
        assert_eq!(
            u["emails"],
            json!([
                {"value": "countess@example.com", "type": "work", "primary": true},
                {"type": "home", "value": "ada@home.example"}
            ])
        );
        assert_eq!(u[EXT]["department"], "Engines");
        assert!(
            u["schemas"].as_array().unwrap().contains(&json!(EXT)),
            "the extension is listed"
        );
    }

    #[test]
    fn okta_dialect_pathless_replace_and_whole_extension_objects() {
        let mut u = user();
        patch(
            &mut u,
            json!([
                {"op": "replace", "value": {"active": false, "name": {"givenName": "Augusta"}}},
                {"op": "add", "value": {EXT: {"employeeNumber": "42"}, "title": "Countess"}}
            ]),
        )
        .unwrap();
        assert_eq!(u["active"], false);
        assert_eq!(
            u["name"],
            json!({"givenName": "Augusta", "familyName": "Lovelace"}),
            "sub-attributes merge"
        );
        assert_eq!(u["title"], "Countess");
        assert_eq!(u[EXT]["employeeNumber"], "42");
    }

    #[test]
    fn removes_attributes_sub_attributes_and_selected_values() {
        let mut u = user();
        patch(
            &mut u,
            json!([
                {"op": "add", "path": "emails", "value": [{"value": "b@example.com", "type": "home"}]},
                {"op": "remove", "path": "emails[type eq \"work\"]"},
                {"op": "remove", "path": "name.givenName"},
                {"op": "remove", "path": "title"}
            ]),
        )
        .unwrap();
        assert_eq!(u["emails"], json!([{"value": "b@example.com", "type": "home"}]));
        assert_eq!(u["name"], json!({"familyName": "Lovelace"}));
        patch(
            &mut u,
            json!([{"op": "remove", "path": "emails", "value": [{"value": "b@example.com"}]}]),
        )
        .unwrap();
        assert!(
            u.get("emails").is_none(),
            "an emptied multi-valued attribute goes"
        );
    }

    #[test]
    fn refuses_what_the_rfc_refuses() {
        let mut u = user();
        let code = |r: Result<(), ScimError>| r.unwrap_err().scim_type;
        assert_eq!(
            code(patch(&mut u, json!([{"op": "remove"}]))),
            Some(ScimType::NoTarget)
        );
        assert_eq!(
            code(patch(
                &mut u,
                json!([{"op": "replace", "path": "id", "value": "x"}])
            )),
            Some(ScimType::Mutability)
        );
        assert_eq!(
            code(patch(
                &mut u,
                json!([{"op": "move", "path": "title", "value": "x"}])
            )),
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            code(patch(&mut u, json!([{"op": "add", "path": "a b", "value": "x"}]))),
            Some(ScimType::InvalidPath)
        );
        assert_eq!(
            code(patch(
                &mut u,
                json!([{"op": "replace", "path": "emails[type eq \"fax\"]", "value": {"value": "x"}}])
            )),
            Some(ScimType::NoTarget)
        );
        let body =
            json!({"schemas": ["urn:wrong"], "Operations": [{"op": "add", "path": "title", "value": "x"}]});
        assert!(parse(&body, &[]).is_err());
        // A pathless id is ignored, not applied.
        patch(
            &mut u,
            json!([{"op": "replace", "value": {"id": "forged", "title": "T"}}]),
        )
        .unwrap();
        assert!(u.get("id").is_none());
        assert_eq!(u["title"], "T");
    }
}
