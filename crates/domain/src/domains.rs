//! An SSO connection's email domains: the comma-separated `domain` column Better Auth keeps
//! (bare domains, or URLs whose host is the domain), and which addresses they cover.

/// The connection's domains, normalised to lowercase hosts.
#[must_use]
pub fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let host = url::Url::parse(d)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| d.split([':', '/']).next().unwrap_or(d).to_owned());
            host.to_ascii_lowercase()
        })
        .collect()
}

/// Whether `domain` is one of `list`'s domains or a subdomain of one.
#[must_use]
pub fn covers(list: &str, domain: &str) -> bool {
    let domain = domain.trim().to_ascii_lowercase();
    split(list)
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
}

/// The domain of an email address, lowercased.
#[must_use]
pub fn of_email(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_covers_its_domains_and_their_subdomains_only() {
        let list = "acme.test, https://Corp.Example/login";
        assert_eq!(split(list), ["acme.test", "corp.example"]);
        assert!(covers(list, "acme.test") && covers(list, "eu.ACME.test") && covers(list, "corp.example"));
        assert!(!covers(list, "notacme.test") && !covers(list, "acme.test.evil"));
    }
}
