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
                "castellan-identity" | "castellan-organization" | "castellan-sso" | "castellan-console"
            );
            // No service depends on another service: they share crates, or talk over HTTP.
            if member.starts_with("services/") && service {
                broken.push(format!("{member} -> {dep}: services do not depend on each other"));
            }
            // Shared crates never depend on a service or on the server.
            if member.starts_with("crates/") && (service || dep == "castellan") {
                broken.push(format!("{member} -> {dep}: crates/ sit below the services"));
            }
            // The verifier is published for downstream services: it stands alone.
            if member == "crates/verify" {
                broken.push(format!(
                    "{member} -> {dep}: castellan-verify depends on no Castellan crate"
                ));
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
                "crates/authz" | "crates/audit" | "crates/session" | "crates/oauth"
            ) && dep == "castellan-http"
            {
                broken.push(format!("{member} -> {dep}: {member} must not know HTTP"));
            }
        }
    }
    // HTTP plumbing knows requests, not what the domains use or how the server starts.
    for dep in &deps["crates/http"] {
        if matches!(
            dep.as_str(),
            "castellan-migrations" | "castellan-mail" | "castellan-authz" | "castellan-platform"
        ) {
            broken.push(format!(
                "crates/http -> {dep}: the bootstrap lives in castellan-platform"
            ));
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
    assert!(
        deps["server"].iter().any(|d| d == "castellan-sso"),
        "the manifest reader found no dependencies: {deps:?}"
    );
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// Which of `files` name one of `forbidden` (in code, not only in comments).
fn naming(files: &[std::path::PathBuf], forbidden: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if let Some(name) = forbidden.iter().find(|f| code.contains(**f)) {
                hits.push(format!("{}:{}: {name}", file.display(), n + 1));
            }
        }
    }
    hits
}

#[test]
fn domains_know_nothing_of_http_and_libraries_do_not_start_servers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut broken = Vec::new();
    let mut domain_files = 0;
    for service in ["identity", "organization", "sso"] {
        let src = root.join("services").join(service).join("src");
        let domain = sources(&src.join("domain"));
        domain_files += domain.len();
        broken.extend(naming(
            &domain,
            &["castellan_http", "actix_web", "HttpRequest", "StatusCode"],
        ));
        // Only the service's own binary starts a server; its library is mounted by others.
        let library: Vec<_> = sources(&src)
            .into_iter()
            .filter(|f| !f.ends_with("main.rs"))
            .collect();
        broken.extend(naming(&library, &["castellan_platform"]));
    }
    assert!(domain_files > 15, "found only {domain_files} domain files");
    assert!(
        broken.is_empty(),
        "HTTP in a domain, or a server started from a library:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_source_check_sees_what_it_forbids() {
    let dir = std::env::temp_dir().join(format!("castellan-layering-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.rs");
    std::fs::write(
        &file,
        "// castellan_http in a comment is fine\nuse castellan_http::AuthState;\n",
    )
    .unwrap();
    let hits = naming(&[file], &["castellan_http"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].ends_with(":2: castellan_http"), "{hits:?}");
}
