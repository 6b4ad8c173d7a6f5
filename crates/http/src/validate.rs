//! Request-body validation that reports problems the way Better Auth's zod schemas do:
//! `[body.email] Invalid input: expected string, received undefined`, several issues joined by
//! `; `, all under the `VALIDATION_ERROR` code. Unknown keys are ignored, as zod strips them.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// zod's name for a JSON value's type.
#[must_use]
pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "undefined",
        Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "boolean",
        Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Array(_)) => "array",
        Some(Value::Object(_)) => "object",
    }
}

/// Collects issues while fields are read; [`Fields::finish`] turns them into one error.
pub struct Fields<'a> {
    scope: &'static str,
    obj: &'a Map<String, Value>,
    issues: Vec<String>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Fields<'a> {
    /// The body must be a JSON object.
    ///
    /// # Errors
    /// `[body] Invalid input: expected object, received …`.
    pub fn body(body: Option<&'a Value>) -> Result<Self, ApiError> {
        match body {
            Some(Value::Object(obj)) => Ok(Self {
                scope: "body",
                obj,
                issues: Vec::new(),
            }),
            other => Err(ApiError::validation(format!(
                "[body] Invalid input: expected object, received {}",
                type_name(other)
            ))),
        }
    }

    /// A body that may be absent altogether (endpoints whose every field is optional).
    ///
    /// # Errors
    /// A body that is present but not an object.
    pub fn optional_body(body: Option<&'a Value>) -> Result<Self, ApiError> {
        match body {
            None | Some(Value::Null) => Ok(Self {
                scope: "body",
                obj: &EMPTY,
                issues: Vec::new(),
            }),
            other => Self::body(other),
        }
    }

    /// Query parameters, already gathered into an object of strings.
    #[must_use]
    pub fn query(obj: &'a Map<String, Value>) -> Self {
        Self {
            scope: "query",
            obj,
            issues: Vec::new(),
        }
    }

    fn issue(&mut self, key: &str, message: impl std::fmt::Display) {
        self.issues.push(format!("[{}.{key}] {message}", self.scope));
    }

    fn expected(&mut self, key: &str, ty: &str) {
        let got = type_name(self.obj.get(key));
        self.issue(key, format!("Invalid input: expected {ty}, received {got}"));
    }

    #[must_use]
    pub fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    #[must_use]
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key)
    }

    /// A required string.
    pub fn string(&mut self, key: &str) -> Option<String> {
        match self.obj.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                self.expected(key, "string");
                None
            }
        }
    }

    /// A required, non-empty string (zod's `.min(1)`).
    pub fn non_empty_string(&mut self, key: &str) -> Option<String> {
        let s = self.string(key)?;
        if s.is_empty() {
            self.issue(key, "Too small: expected string to have >=1 characters");
            return None;
        }
        Some(s)
    }

    /// A required string, trimmed, that is not empty after trimming (zod's `.trim().min(1)`).
    pub fn trimmed_non_empty_string(&mut self, key: &str) -> Option<String> {
        let s = self.string(key)?.trim().to_owned();
        if s.is_empty() {
            self.issue(key, "Too small: expected string to have >=1 characters");
            return None;
        }
        Some(s)
    }

    /// An optional string: absent is fine, `null` and other types are not.
    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.obj.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.expected(key, "string");
                None
            }
        }
    }

    /// An optional, nullable string: `Some(None)` means explicitly cleared.
    pub fn nullable_string(&mut self, key: &str) -> Option<Option<String>> {
        match self.obj.get(key) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => {
                self.expected(key, "string");
                None
            }
        }
    }

    pub fn optional_bool(&mut self, key: &str) -> Option<bool> {
        match self.obj.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.expected(key, "boolean");
                None
            }
        }
    }

    /// A required string or list of strings (Better Auth's role arguments).
    pub fn string_or_list(&mut self, key: &str) -> Option<Vec<String>> {
        match self.obj.get(key) {
            Some(Value::String(s)) => Some(vec![s.clone()]),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            _ => {
                self.expected(key, "string");
                None
            }
        }
    }

    /// An optional string or list of strings.
    pub fn optional_string_or_list(&mut self, key: &str) -> Option<Vec<String>> {
        if self.obj.contains_key(key) {
            self.string_or_list(key)
        } else {
            None
        }
    }

    /// A required boolean.
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.obj.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => {
                self.expected(key, "boolean");
                None
            }
        }
    }

    /// A required JSON object (zod's `z.record`).
    pub fn record(&mut self, key: &str) -> Option<Map<String, Value>> {
        match self.obj.get(key) {
            Some(Value::Object(o)) => Some(o.clone()),
            _ => {
                self.expected(key, "record");
                None
            }
        }
    }

    /// An optional JSON object.
    pub fn optional_object(&mut self, key: &str) -> Option<Map<String, Value>> {
        match self.obj.get(key) {
            None => None,
            Some(Value::Object(o)) => Some(o.clone()),
            Some(_) => {
                self.expected(key, "object");
                None
            }
        }
    }

    /// An optional record of string lists (`{resource: [actions]}`).
    pub fn optional_statements(
        &mut self,
        key: &str,
    ) -> Option<std::collections::BTreeMap<String, Vec<String>>> {
        let obj = self.optional_object(key)?;
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in obj {
            match v {
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    out.insert(
                        k,
                        items
                            .iter()
                            .filter_map(|i| i.as_str().map(str::to_owned))
                            .collect(),
                    );
                }
                other => {
                    self.issues.push(format!(
                        "[{}.{key}.{k}] Invalid input: expected array, received {}",
                        self.scope,
                        type_name(Some(&other))
                    ));
                    return None;
                }
            }
        }
        Some(out)
    }

    /// A query parameter holding a non-negative integer.
    pub fn optional_count(&mut self, key: &str) -> Option<u64> {
        match self.obj.get(key) {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => match s.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.issue(key, "Invalid input: expected number, received NaN");
                    None
                }
            },
            Some(Value::Number(n)) => n.as_u64().or_else(|| {
                self.issue(key, "Invalid input: expected a non-negative integer");
                None
            }),
            Some(_) => {
                self.expected(key, "number");
                None
            }
        }
    }

    /// A required email address, checked with zod's rule.
    pub fn email(&mut self, key: &str) -> Option<String> {
        let s = self.string(key)?;
        if is_valid_email(&s) {
            Some(s)
        } else {
            self.issue(key, "Invalid email address");
            None
        }
    }

    /// An optional array of strings (`scopes`).
    pub fn optional_string_list(&mut self, key: &str) -> Option<Vec<String>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let strings: Option<Vec<String>> =
                    items.iter().map(|i| i.as_str().map(str::to_owned)).collect();
                if strings.is_none() {
                    self.issue(key, "Invalid input: expected array of strings");
                }
                strings
            }
            Some(_) => {
                self.expected(key, "array");
                None
            }
        }
    }

    /// An optional object whose values are strings (`additionalParams`), in key order.
    pub fn optional_string_map(&mut self, key: &str) -> Option<Vec<(String, String)>> {
        let map = self.optional_object(key)?;
        let mut pairs = Vec::with_capacity(map.len());
        for (k, v) in map {
            match v {
                Value::String(s) => pairs.push((k, s)),
                _ => {
                    self.issues.push(format!(
                        "[{}.{key}.{k}] Invalid input: expected string",
                        self.scope
                    ));
                    return None;
                }
            }
        }
        Some(pairs)
    }

    /// A required string among `options` (zod's `z.enum`).
    pub fn one_of(&mut self, key: &str, options: &[&str]) -> Option<String> {
        match self.obj.get(key) {
            Some(Value::String(s)) if options.contains(&s.as_str()) => Some(s.clone()),
            _ => {
                let quoted: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
                self.issue(
                    key,
                    format!("Invalid option: expected one of {}", quoted.join("|")),
                );
                None
            }
        }
    }

    /// Zod's `.strict()`: any key not in `known` is an issue.
    pub fn only(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| format!("{k:?}"))
            .collect();
        if !unknown.is_empty() {
            let word = if unknown.len() == 1 { "key" } else { "keys" };
            self.issues.push(format!(
                "[{}] Unrecognized {word}: {}",
                self.scope,
                unknown.join(", ")
            ));
        }
    }

    /// # Errors
    /// Every issue collected so far, as one `VALIDATION_ERROR`.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.issues.join("; ")))
        }
    }
}

pub use castellan_domain::{MAX_EMAIL_LEN, is_valid_email};

/// A field [`Fields::finish`] already vouched for. `None` here means the validator and the
/// handler disagree, which is a bug, reported as a 500 rather than a panic.
///
/// # Errors
/// 500 when the field is missing after all.
pub fn validated<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal(&"a validated field was missing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issues_read_like_zod_and_are_joined() {
        let body = json!({"email": 5, "rememberMe": "yes"});
        let mut f = Fields::body(Some(&body)).unwrap();
        f.email("email");
        f.string("password");
        f.optional_bool("rememberMe");
        let err = f.finish().unwrap_err();
        assert_eq!(err.code(), Some("VALIDATION_ERROR"));
        assert_eq!(
            err.to_string(),
            "400 VALIDATION_ERROR: [body.email] Invalid input: expected string, received number; \
             [body.password] Invalid input: expected string, received undefined; \
             [body.rememberMe] Invalid input: expected boolean, received string"
        );
    }

    #[test]
    fn a_missing_body_is_reported_as_undefined() {
        let err = Fields::body(None).err().unwrap();
        assert!(
            err.to_string()
                .ends_with("[body] Invalid input: expected object, received undefined")
        );
        assert!(Fields::body(Some(&json!([1]))).is_err());
    }
}
