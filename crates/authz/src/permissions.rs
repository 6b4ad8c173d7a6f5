//! Better Auth's access-control vocabulary: the statements (resource → actions) and the parsing
//! of role strings and permission requests.

use std::collections::BTreeMap;

/// The role given to an organization's creator; it is also the "owner" of every owner rule.
pub const CREATOR_ROLE: &str = "owner";
/// Roles every organization has.
pub const BUILTIN_ROLES: [&str; 3] = ["owner", "admin", "member"];

/// Better Auth's default statements: every resource and the actions it knows.
///
/// `audit: [read]` (the organization audit log), `sso` (the organization's SSO connections) and
/// `webhook` (its webhook endpoints) are Castellan's own; Better Auth has no such resources.
pub const STATEMENTS: [(&str, &[&str]); 8] = [
    ("organization", &["update", "delete"]),
    ("member", &["create", "update", "delete"]),
    ("invitation", &["create", "cancel"]),
    ("team", &["create", "update", "delete"]),
    ("ac", &["create", "read", "update", "delete"]),
    ("audit", &["read"]),
    ("sso", &["create", "read", "update", "delete"]),
    ("webhook", WEBHOOK_ACTIONS),
];

/// What can be done to webhook endpoints, in organizations and (by admins) on the platform.
const WEBHOOK_ACTIONS: &[&str] = &["create", "read", "update", "delete"];

/// The platform domain: where Better Auth's admin roles (`admin`, `user`) are decided.
pub const PLATFORM: &str = "platform";

/// Better Auth's admin-plugin statements, decided in the [`PLATFORM`] domain. Not grantable by
/// organization custom roles.
pub const ADMIN_STATEMENTS: [(&str, &[&str]); 4] = [
    (
        "user",
        &[
            "create",
            "list",
            "set-role",
            "ban",
            "impersonate",
            "impersonate-admins",
            "delete",
            "set-password",
            "set-email",
            "get",
            "update",
        ],
    ),
    ("session", &["list", "revoke", "delete"]),
    ("webhook", WEBHOOK_ACTIONS),
    // Castellan's own: the platform audit log (bans, role changes, impersonation).
    ("audit", &["read"]),
];

/// A permission request or grant: resource → actions.
pub type Statements = BTreeMap<String, Vec<String>>;

/// Whether every resource and action in `grant` exists in the statements.
#[must_use]
pub fn is_known(grant: &Statements) -> bool {
    grant.iter().all(|(res, acts)| {
        STATEMENTS
            .iter()
            .any(|(r, known)| r == res && acts.iter().all(|a| known.contains(&a.as_str())))
    })
}

/// A stored role string split into role names (comma-joined, trimmed, empties dropped).
#[must_use]
pub fn split_roles(roles: &str) -> Vec<String> {
    roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_strings_are_normalised() {
        assert_eq!(split_roles("admin, owner,,"), vec!["admin", "owner"]);
        assert!(split_roles(" , ").is_empty());
    }

    #[test]
    fn unknown_resources_and_actions_are_detected() {
        let ok: Statements = [("member".to_owned(), vec!["delete".to_owned()])].into();
        let bad_res: Statements = [("payroll".to_owned(), vec!["read".to_owned()])].into();
        let bad_act: Statements = [("member".to_owned(), vec!["fly".to_owned()])].into();
        assert!(is_known(&ok));
        assert!(!is_known(&bad_res));
        assert!(!is_known(&bad_act));
    }
}
