//! Organization tables are queried only inside this crate (`repo` takes an `OrgScope` or a
//! `Permit`; `admission` names the ways in), plus the few public lookups listed below. A query
//! anywhere else fails this test: add it to `castellan_authz` instead.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test")]

use std::path::{Path, PathBuf};

/// The entity modules of organization-scoped tables.
const ORG_TABLES: &[&str] = &[
    "member",
    "team",
    "team_member",
    "invitation",
    "organization",
    "organization_role",
    "sso_provider",
    "sso_provisioning",
    "audit_log",
    "webhook_endpoint",
    "webhook_delivery",
    "event",
    "scim_connection",
    "scim_user",
    "scim_group",
    "scim_group_member",
];

/// Files outside this crate that may query them, and why.
const PUBLIC_LOOKUPS: &[(&str, &str)] = &[
    ("crates/data/src/entity", "the entity definitions themselves"),
    (
        "crates/data/src/repo/organizations.rs",
        "by slug: check-slug and sign-in by slug are public",
    ),
    (
        "crates/data/src/repo/invitations.rs",
        "an invitation's addressee is not a member yet; rows are matched to the signed-in address",
    ),
    (
        "crates/data/src/repo/sso_providers.rs",
        "sign-in/sso, the callback and the ACS find a connection before anyone is signed in",
    ),
    (
        "crates/data/src/repo/sealed.rs",
        "castellan secrets rotate re-encrypts every connection's client secret; no tenant data is read or returned",
    ),
    (
        "crates/audit",
        "the hash-chained log, written in the caller's transaction",
    ),
    (
        "crates/data/src/repo/webhooks.rs",
        "endpoints are read and changed through the Owner a casbin permit gave the domain; the delivery worker reads what it claims on no one's behalf",
    ),
    (
        "crates/data/src/repo/events.rs",
        "the outbox writes an event for the subscribed endpoints in the audited change's transaction",
    ),
    (
        "crates/webhooks/tests",
        "the outbox's own tests read its rows to assert on them",
    ),
    (
        "crates/data/src/repo/scim.rs",
        "a SCIM connection is opened by its bearer token, and its users and groups are read only through it",
    ),
    ("migrations", "schema changes"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") && !path.ends_with("node_modules") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `line` queries an organization table: `member::Entity`, `team::Column`, or an
/// `Entity as X` import of one.
fn queries_org_table(line: &str) -> Option<&'static str> {
    ORG_TABLES.iter().copied().find(|table| {
        let at_word = |needle: &str| {
            line.match_indices(needle).any(|(i, _)| {
                !line[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        };
        at_word(&format!("{table}::Entity"))
            || at_word(&format!("{table}::Column"))
            || (line.contains("Entity as") && at_word(&format!("{table}::{{")))
    })
}

#[test]
fn organization_tables_are_queried_only_behind_the_guard() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap();
    let mut files = Vec::new();
    for top in ["crates", "services", "server", "migrations", "bench"] {
        rust_files(&root.join(top), &mut files);
    }
    assert!(files.len() > 50, "the scan found only {} files", files.len());
    let mut offences = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("crates/authz/") || PUBLIC_LOOKUPS.iter().any(|(p, _)| rel.starts_with(p)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            if let Some(table) = queries_org_table(line) {
                offences.push(format!("{rel}:{}: {table}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "organization tables queried outside castellan_authz:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_detector_sees_queries_and_ignores_models() {
    assert_eq!(queries_org_table("member::Entity::find()"), Some("member"));
    assert_eq!(queries_org_table(".filter(team::Column::Id.eq(x))"), Some("team"));
    assert_eq!(
        queries_org_table("use crate::entity::invitation::{self, Entity as Invitation};"),
        Some("invitation")
    );
    assert_eq!(queries_org_table("let m: member::Model = row;"), None);
    assert_eq!(queries_org_table("team_member::Model { .. }"), None);
    assert_eq!(queries_org_table("audit_team::Entity"), None);
}
