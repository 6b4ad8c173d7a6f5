//! The README documents every environment variable the code reads: the settings crate's
//! variables, the per-provider ones, and those the bootstrap reads itself. A variable added to
//! the code without its line in the README fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap()
}

/// The upper-case names in `call("NAME"` across `text`.
fn names_in(text: &str, calls: &[&str]) -> Vec<String> {
    let mut names = Vec::new();
    for call in calls {
        let needle = format!("{call}(\"");
        for (i, _) in text.match_indices(&needle) {
            let rest = &text[i + needle.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with('"') {
                names.push(name);
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_environment_variable_is_in_the_readme() {
    let readme = read("README.md");
    let settings = read("crates/config/src/lib.rs") + &read("crates/config/src/social.rs");
    let mut plain = names_in(&settings, &["get", "flag"]);
    plain.extend(names_in(&read("crates/platform/src/lib.rs"), &["std::env::var"]));
    assert!(plain.len() > 35, "the scan found too few variables: {plain:?}");
    let missing: Vec<&String> = plain
        .iter()
        .filter(|v| !readme.contains(&format!("`{v}`")))
        .collect();
    assert!(missing.is_empty(), "not in the README: {missing:?}");

    // Per-provider variables (`var("SCOPES")` is `<PROVIDER>_SCOPES`): documented generically or
    // for the provider that has it.
    let suffixes = names_in(&read("crates/config/src/social.rs"), &["var", "switch"]);
    assert!(suffixes.contains(&"CLIENT_SECRET".to_owned()), "{suffixes:?}");
    let missing: Vec<&String> = suffixes
        .iter()
        .filter(|s| {
            let generic = readme.contains(&format!("<PROVIDER>_{s}"));
            let specific = readme.match_indices(&format!("_{s}`")).any(|(i, _)| {
                readme[..i]
                    .rsplit('`')
                    .next()
                    .is_some_and(|p| p.chars().all(|c| c.is_ascii_uppercase()))
            });
            !(generic || specific)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "provider variables not in the README: {missing:?}"
    );
}
