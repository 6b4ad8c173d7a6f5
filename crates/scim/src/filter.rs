//! The filter language of RFC 7644 §3.4.2.2: comparisons (`eq ne co sw ew gt ge lt le`),
//! presence (`pr`), `and`, `or`, `not (...)`, grouping and value paths (`emails[type eq
//! "work"]`), evaluated on a resource's JSON. Attribute names and (except `id` and
//! `externalId`) string values compare case-insensitively, as the published schema says.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimType};
use crate::path::{AttrPath, container};

/// Longest filter accepted.
pub const MAX_LEN: usize = 2_000;
/// Deepest nesting of groups, `not` and value paths.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare(AttrPath, Op, Value),
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: some value of a multi-valued attribute matches `filter`.
    Where(AttrPath, Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Text(String),
    Word(String),
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidFilter, detail)
}

fn tokens(input: &str) -> Result<Vec<Token>, ScimError> {
    let mut out = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | '[' | ']' => {
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
                i += 1;
            }
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return Err(invalid("a string is not closed"));
                }
                i += 1;
                let literal: String = chars[start..i].iter().collect();
                let text: String =
                    serde_json::from_str(&literal).map_err(|_| invalid("a string is not valid JSON"))?;
                out.push(Token::Text(text));
            }
            c if c.is_control() => return Err(invalid("control characters are not allowed")),
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"()[]\"".contains(chars[i]) {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn deeper(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid("the filter is nested too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.at += 1;
            self.deeper()?;
            if self.next() != Some(Token::Open) {
                return Err(invalid("`not` must be followed by a parenthesis"));
            }
            let inner = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err(invalid("a parenthesis is not closed"));
            }
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                self.deeper()?;
                let inner = self.or()?;
                if self.next() != Some(Token::Close) {
                    return Err(invalid("a parenthesis is not closed"));
                }
                self.depth -= 1;
                Ok(inner)
            }
            Some(Token::Word(word)) => self.attribute_expression(&word),
            _ => Err(invalid("an attribute was expected")),
        }
    }

    fn attribute_expression(&mut self, word: &str) -> Result<Filter, ScimError> {
        let path = AttrPath::parse(word).map_err(|_| invalid(format!("{word:?} is not an attribute")))?;
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            self.deeper()?;
            let inner = self.or()?;
            if self.next() != Some(Token::CloseBracket) {
                return Err(invalid("a bracket is not closed"));
            }
            self.depth -= 1;
            return Ok(Filter::Where(path, Box::new(inner)));
        }
        let Some(Token::Word(op)) = self.next() else {
            return Err(invalid("an operator was expected"));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = Op::parse(&op).ok_or_else(|| invalid(format!("{op:?} is not an operator")))?;
        let value = match self.next() {
            Some(Token::Text(t)) => Value::String(t),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| invalid(format!("{w:?} is not a value")))?,
            },
            _ => return Err(invalid("a value was expected")),
        };
        Ok(Filter::Compare(path, op, value))
    }
}

/// # Errors
/// `invalidFilter` for anything outside the grammar, or longer than [`MAX_LEN`].
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_LEN {
        return Err(invalid("the filter is too long"));
    }
    let mut parser = Parser {
        tokens: tokens(input)?,
        at: 0,
        depth: 0,
    };
    let filter = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(invalid("unexpected input after the filter"));
    }
    Ok(filter)
}

fn case_exact(path: &AttrPath) -> bool {
    path.sub.is_none() && (path.attr == "id" || path.attr.eq_ignore_ascii_case("externalId"))
}

/// The values `path` reaches in `doc`: each element of a multi-valued attribute (its `value`
/// sub-attribute when elements are complex and the path names no sub-attribute).
fn values<'a>(doc: &'a Map<String, Value>, path: &AttrPath, core: &str) -> Vec<&'a Value> {
    let Some(holder) = container(doc, path.urn.as_deref(), core) else {
        return Vec::new();
    };
    let Some(value) = crate::get_ci(holder, &path.attr) else {
        return Vec::new();
    };
    let pick = |v: &'a Value| -> Option<&'a Value> {
        match (&path.sub, v) {
            (Some(sub), Value::Object(o)) => crate::get_ci(o, sub),
            (Some(_), _) => None,
            (None, Value::Object(o)) => crate::get_ci(o, "value"),
            (None, v) => Some(v),
        }
    };
    let found: Vec<&Value> = match value {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        Value::Object(_) if path.sub.is_none() => vec![value],
        v => pick(v).into_iter().collect(),
    };
    found.into_iter().filter(|v| !v.is_null()).collect()
}

fn compare(value: &Value, op: Op, literal: &Value, exact: bool) -> bool {
    let fold = |s: &str| if exact { s.to_owned() } else { s.to_lowercase() };
    match (value, literal) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (fold(a), fold(b));
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Co | Op::Sw | Op::Ew => false,
            }
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        _ => op == Op::Ne,
    }
}

impl Filter {
    /// Whether the resource `doc` (whose core schema is `core`) matches.
    #[must_use]
    pub fn matches(&self, doc: &Map<String, Value>, core: &str) -> bool {
        match self {
            Self::And(a, b) => a.matches(doc, core) && b.matches(doc, core),
            Self::Or(a, b) => a.matches(doc, core) || b.matches(doc, core),
            Self::Not(a) => !a.matches(doc, core),
            Self::Present(path) => values(doc, path, core).iter().any(|v| match v {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Self::Compare(path, op, literal) => {
                let found = values(doc, path, core);
                match (op, literal) {
                    (Op::Eq, Value::Null) => found.is_empty(),
                    (Op::Ne, Value::Null) => !found.is_empty(),
                    (Op::Ne, _) => !found
                        .iter()
                        .any(|v| compare(v, Op::Eq, literal, case_exact(path))),
                    _ => found.iter().any(|v| compare(v, *op, literal, case_exact(path))),
                }
            }
            Self::Where(path, inner) => {
                let Some(holder) = container(doc, path.urn.as_deref(), core) else {
                    return false;
                };
                match crate::get_ci(holder, &path.attr) {
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(Value::as_object)
                        .any(|item| inner.matches(item, core)),
                    Some(Value::Object(item)) => inner.matches(item, core),
                    _ => false,
                }
            }
        }
    }

    /// The text a filter that is exactly `attr eq "text"` (an attribute of the core schema, no
    /// sub-attribute) compares with: a lookup an index can answer.
    #[must_use]
    pub fn equality_on(&self, attr: &str, core: &str) -> Option<&str> {
        match self {
            Self::Compare(path, Op::Eq, Value::String(text))
                if path.sub.is_none() && path.in_core(core) && path.attr.eq_ignore_ascii_case(attr) =>
            {
                Some(text)
            }
            _ => None,
        }
    }

    /// The `attr eq value` conditions joined by `and` at the top of the filter: what a value
    /// that the filter selects must hold (to create one when none exists).
    #[must_use]
    pub fn equalities(&self) -> Vec<(&AttrPath, &Value)> {
        match self {
            Self::Compare(path, Op::Eq, v) => vec![(path, v)],
            Self::And(a, b) => {
                let mut out = a.equalities();
                out.extend(b.equalities());
                out
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Map<String, Value> {
        json!({
            "userName": "Ada.Lovelace@Example.com",
            "externalId": "AbC",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"value": "ada@example.com", "type": "work", "primary": true},
                {"value": "ada@home.example", "type": "home"}
            ],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engines"}
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn check(filter: &str) -> bool {
        parse(filter).unwrap().matches(&user(), crate::USER_SCHEMA)
    }

    #[test]
    fn comparisons_follow_rfc_7644() {
        assert!(
            check(r#"userName eq "ada.lovelace@example.com""#),
            "case-insensitive"
        );
        assert!(
            check(r#"USERNAME Eq "ADA.LOVELACE@EXAMPLE.COM""#),
            "names and operators too"
        );
        assert!(!check(r#"externalId eq "abc""#), "externalId is case-exact");
        assert!(check(r#"userName sw "ada" and userName ew ".com""#));
        assert!(check(r#"name.familyName co "love""#));
        assert!(
            check(r#"emails co "home.example""#),
            "a multi-valued attribute's values"
        );
        assert!(check(r#"emails[type eq "work" and primary eq true]"#));
        assert!(!check(r#"emails[type eq "work" and value co "home"]"#));
        assert!(check(r#"active eq true and not (userName eq "x")"#));
        assert!(check(r#"title pr or name.givenName pr"#));
        assert!(!check("title pr"));
        assert!(check("title eq null"));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "engines""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ADA""#
        ));
        assert!(
            check(r#"(userName eq "x" or userName sw "a") and active eq true"#),
            "grouping"
        );
        assert!(
            !check(r#"userName eq "x" or userName sw "a" and active eq false"#),
            "and binds tighter"
        );
    }

    #[test]
    fn a_single_equality_is_recognised_as_a_lookup() {
        let on = |f: &str| {
            parse(f)
                .unwrap()
                .equality_on("userName", crate::USER_SCHEMA)
                .map(str::to_owned)
        };
        assert_eq!(on(r#"userName eq "Ada""#).as_deref(), Some("Ada"));
        assert_eq!(
            on(r#"urn:ietf:params:scim:schemas:core:2.0:User:USERNAME eq "a""#).as_deref(),
            Some("a")
        );
        for other in [
            r#"userName co "a""#,
            r#"userName eq "a" or title pr"#,
            r#"name.userName eq "a""#,
            "userName eq true",
        ] {
            assert_eq!(on(other), None, "{other}");
        }
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for bad in [
            "",
            "userName",
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            r#"userName eq "a" and"#,
            r#"(userName eq "a""#,
            r#"emails[type eq "work""#,
            "userName eq bare",
            r#"not userName eq "a""#,
            r#"userName eq "a" extra"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad:?}");
        }
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).is_err(), "nesting is bounded");
        assert!(parse(&"a".repeat(MAX_LEN + 1)).is_err());
    }
}
