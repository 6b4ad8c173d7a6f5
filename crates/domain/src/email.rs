/// The longest address accepted (RFC 5321: 256 octets of path, less the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// zod 4's email pattern, within [`MAX_EMAIL_LEN`]:
/// `^(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$`.
#[must_use]
pub fn is_valid_email(s: &str) -> bool {
    // RFC 5321's limit on a forward path; longer addresses cannot be delivered anyway.
    if s.len() > MAX_EMAIL_LEN {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || s.starts_with('.') || s.contains("..") {
        return false;
    }
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_'+-.".contains(&b))
        && local
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b));
    if !local_ok {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, hosts)) = labels.split_last() else {
        return false;
    };
    !hosts.is_empty()
        && hosts.iter().all(|l| {
            l.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_follow_zods_rule() {
        for good in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "o'neil@x.io",
            "a-b@x-y.org",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            ".a@b.co",
            "a..b@c.co",
            "a.@b.co",
            "a@-b.co",
            "a@b.c",
            "a@b.c0",
            "a b@c.co",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
