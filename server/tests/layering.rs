//! The layering of docs/adr/0004: which workspace crate may depend on which. Read from the
//! members' manifests, so a new dependency that breaks a rule fails here (and in CI).

#![allow(clippy::unwrap_used, clippy::panic, reason = "test")]

use std::collections::BTreeMap;
use std::path::Path;

/// Each member's folder and the `castellan-*` crates its `[dependencies]` name.
fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members: Vec<String> = workspace
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap()
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    assert!(members.len() > 10, "{members:?}");
    members
        .into_iter()
        .map(|member| {
            let manifest = std::fs::read_to_string(root.join(&member).join("Cargo.toml")).unwrap();
            // Only normal dependencies: tests may reach further.
            let deps = manifest
                .split("\n[dependencies]")
                .nth(1)
                .map(|rest| rest.split("\n[").next().unwrap_or(""))
                .unwrap_or("");
            let names = deps
                .lines()
                .filter_map(|l| l.split(['.', '=', ' ']).next())
                .filter(|name| name.starts_with("castellan"))
                .map(str::to_owned)
                .collect();
            (member, names)
        })
        .collect()
}

#[test]
fn dependencies_point_inward_only() {
    let deps = workspace_dependencies();
    let mut broken = Vec::new();
    for (member, names) in &deps {
        for dep in names {
            let service = matches!(
                dep.as_str(),
                "castellan-identity" | "castellan-organization" | "castellan-sso"
            );
            // No service depends on another service: they share crates, or talk over HTTP.
            if member.starts_with("services/") && service {
                broken.push(format!("{member} -> {dep}: services do not depend on each other"));
            }
            // Shared crates never depend on a service or on the server.
            if member.starts_with("crates/") && (service || dep == "castellan") {
                broken.push(format!("{member} -> {dep}: crates/ sit below the services"));
            }
            // The domain value rules depend on no other crate of ours.
            if member == "crates/domain" {
                broken.push(format!("{member} -> {dep}: castellan-domain sits at the bottom"));
            }
            // The data layer, crypto and config know nothing of HTTP, casbin or the services.
            if matches!(member.as_str(), "crates/config" | "crates/crypto" | "crates/data")
                && matches!(
                    dep.as_str(),
                    "castellan-http" | "castellan-authz" | "castellan-session" | "castellan-audit"
                )
            {
                broken.push(format!(
                    "{member} -> {dep}: the lowest layer depends on nothing above it"
                ));
            }
            // Authorization and audit sit below HTTP.
            if matches!(
                member.as_str(),
                "crates/authz" | "crates/audit" | "crates/session"
            ) && dep == "castellan-http"
            {
                broken.push(format!("{member} -> {dep}: {member} must not know HTTP"));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
    assert!(
        deps["server"].iter().any(|d| d == "castellan-sso"),
        "the manifest reader found no dependencies: {deps:?}"
    );
}
