//! Social sign-in and generic OAuth providers (`<PROVIDER>_CLIENT_ID`, `GENERIC_OAUTH_PROVIDERS`)
//! and the account-linking rules (`ACCOUNT_LINKING_*`).
//!
//! The built-in catalogue knows each provider's endpoints and default scopes; an operator only
//! brings the client id and secret. Endpoint overrides exist where real deployments differ (a
//! self-managed GitLab, GitHub Enterprise Server, an Entra tenant) and for test providers.

use std::collections::HashMap;

use serde::Deserialize;

use crate::ConfigError;

/// How Castellan talks to a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// OpenID Connect: endpoints from discovery, identity from a verified ID token.
    Oidc {
        issuer: String,
        discovery_url: Option<String>,
    },
    /// Plain OAuth 2.0: configured endpoints, identity from the provider's user API.
    OAuth2 {
        authorization_url: String,
        token_url: String,
        user_info_url: String,
    },
}

/// How a provider's user API describes the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileShape {
    /// OIDC claims (`sub`, `email`, `email_verified`, `name`, `picture`), renamed by a mapping.
    Claims(ClaimMapping),
    /// GitHub's `/user`, plus `/user/emails` for the primary address and whether it is verified.
    GitHub { emails_url: String },
    /// Discord's `/users/@me` (`id`, `email`, `verified`, `global_name`, `avatar`).
    Discord,
}

/// Which claim holds each profile field (Better Auth's `mapProfileToUser` for generic providers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimMapping {
    pub id: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<String>,
    pub name: Option<String>,
    pub image: Option<String>,
}

/// Where a provider comes from, and which endpoints serve it. Better Auth 1.7 serves every
/// provider, generic ones included, at `/sign-in/social` + `/callback/:id` (`Social`); the
/// earlier generic-OAuth endpoints, `/sign-in/oauth2` + `/oauth2/callback/:id` (`Generic`),
/// serve only the generic providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Social,
    Generic,
}

/// One configured provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Provider {
    pub id: String,
    pub family: Family,
    pub protocol: Protocol,
    pub profile: ProfileShape,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    /// The callback URL registered at the provider, when it is not Castellan's default.
    pub redirect_uri: Option<String>,
    /// Further authorization parameters (Apple's `response_mode=form_post`, ...).
    pub authorization_params: Vec<(String, String)>,
    /// Sign-in through this provider never creates a user.
    pub disable_sign_up: bool,
    /// It creates one only when the client asks (`requestSignUp`).
    pub disable_implicit_sign_up: bool,
    /// `idToken` sign-in (one-tap) is offered: OIDC providers whose ID tokens a browser can get.
    pub id_token_sign_in: bool,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("family", &self.family)
            .field("protocol", &self.protocol)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Better Auth's `account.accountLinking`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linking {
    /// `ACCOUNT_LINKING` (on by default): a provider identity may join an existing user.
    pub enabled: bool,
    /// `ACCOUNT_LINKING_TRUSTED_PROVIDERS`: providers whose addresses count as verified when the
    /// provider says nothing either way. A provider that calls an address unverified is never
    /// trusted with it.
    pub trusted_providers: Vec<String>,
    /// `ACCOUNT_LINKING_ALLOW_DIFFERENT_EMAILS`: `link-social` may attach an identity whose
    /// address differs from the user's.
    pub allow_different_emails: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialSettings {
    pub providers: Vec<Provider>,
    pub linking: Linking,
}

impl SocialSettings {
    #[must_use]
    /// The provider `id` as the endpoints of `family` see it: the social endpoints serve every
    /// provider, the generic-OAuth ones only the generic providers.
    pub fn provider(&self, id: &str, family: Family) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| p.id == id && (family == Family::Social || p.family == Family::Generic))
    }
}

/// A generic provider as `GENERIC_OAUTH_PROVIDERS` lists it: Better Auth's `genericOAuth`
/// config keys.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GenericEntry {
    provider_id: String,
    client_id: String,
    client_secret: String,
    discovery_url: Option<String>,
    issuer: Option<String>,
    authorization_url: Option<String>,
    token_url: Option<String>,
    user_info_url: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(rename = "redirectURI")]
    redirect_uri: Option<String>,
    /// PKCE is always used; the key is accepted so Better Auth configurations load unchanged.
    #[serde(default)]
    #[allow(dead_code)]
    pkce: Option<bool>,
    #[serde(default)]
    disable_sign_up: bool,
    #[serde(default)]
    disable_implicit_sign_up: bool,
    #[serde(default)]
    authorization_url_params: HashMap<String, String>,
    #[serde(default)]
    mapping: ClaimMapping,
}

/// A built-in provider: what the catalogue knows about it.
struct BuiltIn {
    id: &'static str,
    /// The upper-case prefix of its variables.
    prefix: &'static str,
    default_scopes: &'static [&'static str],
}

const BUILT_INS: [BuiltIn; 6] = [
    BuiltIn {
        id: "google",
        prefix: "GOOGLE",
        default_scopes: &["openid", "email", "profile"],
    },
    BuiltIn {
        id: "github",
        prefix: "GITHUB",
        default_scopes: &["read:user", "user:email"],
    },
    BuiltIn {
        id: "microsoft",
        prefix: "MICROSOFT",
        default_scopes: &["openid", "profile", "email", "User.Read", "offline_access"],
    },
    BuiltIn {
        id: "apple",
        prefix: "APPLE",
        default_scopes: &["openid", "name", "email"],
    },
    BuiltIn {
        id: "discord",
        prefix: "DISCORD",
        default_scopes: &["identify", "email"],
    },
    BuiltIn {
        id: "gitlab",
        prefix: "GITLAB",
        default_scopes: &["openid", "read_user", "email", "profile"],
    },
];

fn invalid(name: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidNamed {
        name: name.into(),
        reason: reason.into(),
    }
}

fn words(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn absolute_url(name: &str, value: &str) -> Result<String, ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(value.to_owned()),
        _ => Err(invalid(name, format!("{value:?} is not an http(s) URL"))),
    }
}

/// A provider's protocol, profile shape and fixed authorization parameters.
type Endpoints = (Protocol, ProfileShape, Vec<(String, String)>);

/// The built-in provider's protocol and profile shape, with its overrides applied.
fn built_in_endpoints(b: &BuiltIn, get: &dyn Fn(&str) -> Option<String>) -> Result<Endpoints, ConfigError> {
    let var = |suffix: &str| get(&format!("{}_{suffix}", b.prefix));
    let oidc = |default_issuer: String| -> Result<Protocol, ConfigError> {
        let issuer = match var("ISSUER") {
            Some(i) => absolute_url(&format!("{}_ISSUER", b.prefix), &i)?,
            None => default_issuer,
        };
        Ok(Protocol::Oidc {
            issuer,
            discovery_url: None,
        })
    };
    let claims = ProfileShape::Claims(ClaimMapping::default());
    Ok(match b.id {
        "google" => (oidc("https://accounts.google.com".into())?, claims, Vec::new()),
        "microsoft" => {
            let tenant = var("TENANT_ID").unwrap_or_else(|| "common".to_owned());
            if !tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(invalid(
                    "MICROSOFT_TENANT_ID",
                    format!("{tenant:?} is not a tenant id"),
                ));
            }
            let issuer = format!("https://login.microsoftonline.com/{tenant}/v2.0");
            (oidc(issuer)?, claims, Vec::new())
        }
        // Apple posts its answer (and, on the first sign-in, the user's name) as a form.
        "apple" => (
            oidc("https://appleid.apple.com".into())?,
            claims,
            vec![("response_mode".to_owned(), "form_post".to_owned())],
        ),
        "gitlab" => (oidc("https://gitlab.com".into())?, claims, Vec::new()),
        "github" => {
            let web = var("URL").unwrap_or_else(|| "https://github.com".to_owned());
            let api = var("API_URL").unwrap_or_else(|| "https://api.github.com".to_owned());
            let web = absolute_url("GITHUB_URL", web.trim_end_matches('/'))?;
            let api = absolute_url("GITHUB_API_URL", api.trim_end_matches('/'))?;
            (
                Protocol::OAuth2 {
                    authorization_url: format!("{web}/login/oauth/authorize"),
                    token_url: format!("{web}/login/oauth/access_token"),
                    user_info_url: format!("{api}/user"),
                },
                ProfileShape::GitHub {
                    emails_url: format!("{api}/user/emails"),
                },
                Vec::new(),
            )
        }
        _ => (
            Protocol::OAuth2 {
                authorization_url: "https://discord.com/oauth2/authorize".into(),
                token_url: "https://discord.com/api/oauth2/token".into(),
                user_info_url: "https://discord.com/api/users/@me".into(),
            },
            ProfileShape::Discord,
            Vec::new(),
        ),
    })
}

fn built_in(b: &BuiltIn, get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Provider>, ConfigError> {
    let var = |suffix: &str| get(&format!("{}_{suffix}", b.prefix));
    let (client_id, client_secret) = match (var("CLIENT_ID"), var("CLIENT_SECRET")) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id, secret),
        (Some(_), None) => {
            return Err(invalid(
                format!("{}_CLIENT_SECRET", b.prefix),
                "must be set with its client id",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                format!("{}_CLIENT_ID", b.prefix),
                "must be set with its client secret",
            ));
        }
    };
    let (protocol, profile, authorization_params) = built_in_endpoints(b, get)?;
    let switch = |suffix: &str| var(suffix).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let mut scopes: Vec<String> = b.default_scopes.iter().map(|s| (*s).to_owned()).collect();
    for extra in words(var("SCOPES")) {
        if !scopes.contains(&extra) {
            scopes.push(extra);
        }
    }
    let redirect_uri = match var("REDIRECT_URI") {
        Some(uri) => Some(absolute_url(&format!("{}_REDIRECT_URI", b.prefix), &uri)?),
        None => None,
    };
    Ok(Some(Provider {
        id: b.id.to_owned(),
        family: Family::Social,
        id_token_sign_in: matches!(protocol, Protocol::Oidc { .. }),
        protocol,
        profile,
        client_id,
        client_secret,
        scopes,
        redirect_uri,
        authorization_params,
        disable_sign_up: switch("DISABLE_SIGN_UP"),
        disable_implicit_sign_up: switch("DISABLE_IMPLICIT_SIGN_UP"),
    }))
}

fn generic(entry: GenericEntry) -> Result<Provider, ConfigError> {
    const NAME: &str = "GENERIC_OAUTH_PROVIDERS";
    let id = entry.provider_id;
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            NAME,
            format!("providerId {id:?} must be letters, digits, - or _"),
        ));
    }
    let protocol = if let Some(discovery) = entry.discovery_url {
        let discovery = absolute_url(NAME, &discovery)?;
        let issuer = match entry.issuer {
            Some(i) => i,
            None => discovery
                .strip_suffix("/.well-known/openid-configuration")
                .ok_or_else(|| {
                    invalid(
                        NAME,
                        format!("{id}: give `issuer` with a non-standard discoveryUrl"),
                    )
                })?
                .to_owned(),
        };
        Protocol::Oidc {
            issuer,
            discovery_url: Some(discovery),
        }
    } else {
        let need = |v: Option<String>, key: &str| -> Result<String, ConfigError> {
            let v =
                v.ok_or_else(|| invalid(NAME, format!("{id}: `{key}` is required without `discoveryUrl`")))?;
            absolute_url(NAME, &v)
        };
        Protocol::OAuth2 {
            authorization_url: need(entry.authorization_url, "authorizationUrl")?,
            token_url: need(entry.token_url, "tokenUrl")?,
            user_info_url: need(entry.user_info_url, "userInfoUrl")?,
        }
    };
    let scopes = if entry.scopes.is_empty() && matches!(protocol, Protocol::Oidc { .. }) {
        vec!["openid".into(), "email".into(), "profile".into()]
    } else {
        entry.scopes
    };
    let mut authorization_params: Vec<(String, String)> =
        entry.authorization_url_params.into_iter().collect();
    authorization_params.sort();
    Ok(Provider {
        id,
        family: Family::Generic,
        id_token_sign_in: false,
        protocol,
        profile: ProfileShape::Claims(entry.mapping),
        client_id: entry.client_id,
        client_secret: entry.client_secret,
        scopes,
        redirect_uri: entry.redirect_uri.map(|u| absolute_url(NAME, &u)).transpose()?,
        authorization_params,
        disable_sign_up: entry.disable_sign_up,
        disable_implicit_sign_up: entry.disable_implicit_sign_up,
    })
}

/// Reads the providers and linking rules.
///
/// # Errors
/// A half-configured provider, an unusable URL, or `GENERIC_OAUTH_PROVIDERS` that is not a JSON
/// array of provider objects (unknown keys are refused, so a typo does not pass silently).
pub fn from_vars(
    get: &dyn Fn(&str) -> Option<String>,
    flag: &dyn Fn(&str, bool) -> bool,
) -> Result<SocialSettings, ConfigError> {
    let mut providers = Vec::new();
    for b in &BUILT_INS {
        providers.extend(built_in(b, get)?);
    }
    if let Some(raw) = get("GENERIC_OAUTH_PROVIDERS") {
        let entries: Vec<GenericEntry> = serde_json::from_str(&raw).map_err(|e| {
            invalid(
                "GENERIC_OAUTH_PROVIDERS",
                format!("not a JSON array of providers: {e}"),
            )
        })?;
        for entry in entries {
            let provider = generic(entry)?;
            if providers.iter().any(|p: &Provider| p.id == provider.id) {
                return Err(invalid(
                    "GENERIC_OAUTH_PROVIDERS",
                    format!("providerId {} is used twice", provider.id),
                ));
            }
            providers.push(provider);
        }
    }
    Ok(SocialSettings {
        providers,
        linking: Linking {
            enabled: flag("ACCOUNT_LINKING", true),
            trusted_providers: words(get("ACCOUNT_LINKING_TRUSTED_PROVIDERS")),
            allow_different_emails: flag("ACCOUNT_LINKING_ALLOW_DIFFERENT_EMAILS", false),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<SocialSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let get = |k: &str| map.get(k).cloned();
        let flag = |k: &str, d: bool| map.get(k).map_or(d, |v| v == "1" || v == "true");
        from_vars(&get, &flag)
    }

    #[test]
    fn a_built_in_provider_needs_both_halves_of_its_credentials() {
        assert!(read(&[]).unwrap().providers.is_empty());
        let err = read(&[("GITHUB_CLIENT_ID", "id")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GITHUB_CLIENT_SECRET is not valid: must be set with its client id"
        );
        let s = read(&[
            ("GITHUB_CLIENT_ID", "id"),
            ("GITHUB_CLIENT_SECRET", "s"),
            ("GITHUB_SCOPES", "repo, user:email"),
        ])
        .unwrap();
        let gh = s.provider("github", Family::Social).unwrap();
        assert_eq!(gh.scopes, ["read:user", "user:email", "repo"]);
        assert_eq!(
            gh.protocol,
            Protocol::OAuth2 {
                authorization_url: "https://github.com/login/oauth/authorize".into(),
                token_url: "https://github.com/login/oauth/access_token".into(),
                user_info_url: "https://api.github.com/user".into(),
            }
        );
        assert!(!format!("{gh:?}").contains("\"s\""), "the secret is redacted");
    }

    #[test]
    fn microsoft_names_its_tenant_in_the_issuer() {
        let s = read(&[
            ("MICROSOFT_CLIENT_ID", "id"),
            ("MICROSOFT_CLIENT_SECRET", "s"),
            ("MICROSOFT_TENANT_ID", "contoso.onmicrosoft.com"),
        ])
        .unwrap();
        let Protocol::Oidc { issuer, .. } = &s.providers[0].protocol else {
            panic!("microsoft is OIDC")
        };
        assert_eq!(
            issuer,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
        );
        assert!(
            read(&[
                ("MICROSOFT_CLIENT_ID", "id"),
                ("MICROSOFT_CLIENT_SECRET", "s"),
                ("MICROSOFT_TENANT_ID", "../x")
            ])
            .is_err()
        );
    }

    #[test]
    fn generic_providers_are_better_auth_config_objects() {
        let json = r#"[{"providerId":"corp","clientId":"c","clientSecret":"s","discoveryUrl":"https://id.corp.test/.well-known/openid-configuration","mapping":{"emailVerified":"verified"}},
                      {"providerId":"plain","clientId":"c","clientSecret":"s","authorizationUrl":"https://p.test/a","tokenUrl":"https://p.test/t","userInfoUrl":"https://p.test/u","scopes":["user"]}]"#;
        let s = read(&[("GENERIC_OAUTH_PROVIDERS", json)]).unwrap();
        let corp = s.provider("corp", Family::Generic).unwrap();
        assert_eq!(
            corp.protocol,
            Protocol::Oidc {
                issuer: "https://id.corp.test".into(),
                discovery_url: Some("https://id.corp.test/.well-known/openid-configuration".into())
            }
        );
        assert_eq!(corp.scopes, ["openid", "email", "profile"]);
        assert!(
            s.provider("corp", Family::Social).is_some(),
            "Better Auth 1.7 serves generic providers as social ones"
        );
        let gh = read(&[("GITHUB_CLIENT_ID", "id"), ("GITHUB_CLIENT_SECRET", "s")]).unwrap();
        assert!(
            gh.provider("github", Family::Generic).is_none(),
            "the generic endpoints serve generic providers only"
        );
        assert!(
            read(&[(
                "GENERIC_OAUTH_PROVIDERS",
                r#"[{"providerId":"x","clientId":"c","clientSecret":"s"}]"#
            )])
            .is_err()
        );
        assert!(read(&[("GENERIC_OAUTH_PROVIDERS", r#"[{"providerId":"x","clientId":"c","clientSecret":"s","discoveryUrl":"https://a.test/.well-known/openid-configuration","typo":1}]"#)]).is_err());
    }
}
