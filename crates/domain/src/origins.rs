//! Which origins a deployment trusts: the base URL's origin plus `TRUSTED_ORIGINS`, exact or
//! with `*`/`?` wildcards, and Better Auth's rule for relative callback paths. The HTTP layer
//! uses it for the `Origin` check and CORS; domains use it for the URLs they redirect to.

use url::Url;

/// The trusted origins of one deployment: the base URL's origin plus `TRUSTED_ORIGINS`.
#[derive(Debug, Clone)]
pub struct TrustedOrigins {
    patterns: Vec<String>,
}

impl TrustedOrigins {
    #[must_use]
    pub fn new(base_origin: String, extra: &[String]) -> Self {
        let mut patterns = vec![base_origin];
        patterns.extend(extra.iter().map(|s| s.trim_end_matches('/').to_owned()));
        Self { patterns }
    }

    /// Whether an absolute URL (or bare origin) is trusted.
    #[must_use]
    pub fn trusts_url(&self, candidate: &str) -> bool {
        let Ok(url) = Url::parse(candidate) else {
            return false;
        };
        self.patterns.iter().any(|p| matches_pattern(p, &url))
    }

    /// Whether a callback-type value is acceptable: a safe relative path, or a trusted URL.
    #[must_use]
    pub fn trusts_callback(&self, value: &str) -> bool {
        if crate::has_control(value) {
            return false;
        }
        if value.starts_with('/') {
            return is_safe_relative(value);
        }
        self.trusts_url(value)
    }
}

fn matches_pattern(pattern: &str, url: &Url) -> bool {
    let origin = url.origin().ascii_serialization();
    if pattern.contains('*') || pattern.contains('?') {
        if pattern.contains("://") {
            return wildcard(pattern, &origin);
        }
        return url.host_str().is_some_and(|h| wildcard(pattern, h));
    }
    match url.scheme() {
        "http" | "https" => Url::parse(pattern).is_ok_and(|p| p.origin().ascii_serialization() == origin),
        // Custom schemes (mobile apps): scheme and prefix.
        _ => url.as_str().starts_with(pattern),
    }
}

/// `*` matches any run of characters, `?` exactly one.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// Better Auth's relative-URL rule:
/// `^/(?!/|\\|%2f|%5c)[\w\-.+/@]*(\?[\w\-.+/=&%@]*)?$`.
fn is_safe_relative(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('/') else {
        return false;
    };
    let lower = rest.to_ascii_lowercase();
    if rest.starts_with('/') || rest.starts_with('\\') || lower.starts_with("%2f") || lower.starts_with("%5c")
    {
        return false;
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    path.chars().all(|c| word(c) || "-.+/@".contains(c))
        && query.is_none_or(|q| q.chars().all(|c| word(c) || "-.+/=&%@".contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> TrustedOrigins {
        TrustedOrigins::new(
            "http://localhost:3000".into(),
            &[
                "https://app.example.com".into(),
                "*.preview.example.com".into(),
                "myapp://".into(),
            ],
        )
    }

    #[test]
    fn exact_origins_and_wildcards() {
        let o = origins();
        assert!(o.trusts_url("http://localhost:3000"));
        assert!(o.trusts_url("http://localhost:3000/dashboard?x=1"));
        assert!(!o.trusts_url("http://localhost:3001"));
        assert!(o.trusts_url("https://app.example.com/cb"));
        assert!(!o.trusts_url("https://app.example.com.evil.io"));
        assert!(o.trusts_url("https://pr-1.preview.example.com"));
        assert!(!o.trusts_url("https://preview.example.com.evil.io"));
        assert!(o.trusts_url("myapp://callback"));
        assert!(!o.trusts_url("null"));
    }

    #[test]
    fn relative_callbacks() {
        let o = origins();
        for ok in ["/", "/dashboard", "/reset?x=1&y=%20", "/a/b-c.d"] {
            assert!(o.trusts_callback(ok), "{ok}");
        }
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "/%2fevil.com",
            "/a#frag",
            "/a:b",
            "https://evil.com/x",
        ] {
            assert!(!o.trusts_callback(bad), "{bad}");
        }
    }
}
