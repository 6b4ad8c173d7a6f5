//! Who a provider says signed in, read from its ID-token claims or its user API.

use castellan_config::social::{ClaimMapping, ProfileShape};
use castellan_oauth::{LoginFailure, RelyingParty, claim_bool};
use serde_json::{Map, Value};

/// The provider's view of the user.
#[derive(Debug, Clone)]
pub struct ProviderProfile {
    /// The provider's stable id for the user (`sub`, GitHub's numeric id, ...).
    pub account_id: String,
    pub email: Option<String>,
    /// What the provider asserts about the address, when it says anything.
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    pub image: Option<String>,
    /// Everything the provider sent, for `/account-info`.
    pub raw: Value,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn unreadable(what: &str) -> LoginFailure {
    LoginFailure::new(
        "unable_to_get_user_info",
        format!("the provider's {what} is not usable"),
    )
}

/// The claim renames of a provider whose identity comes as claims (none for the API-shaped
/// providers, whose ID tokens, when they have any, use the standard names).
#[must_use]
pub fn claim_mapping(provider: &castellan_config::social::Provider) -> ClaimMapping {
    match &provider.profile {
        ProfileShape::Claims(m) => m.clone(),
        _ => ClaimMapping::default(),
    }
}

/// A profile from OIDC claims (ID token overlaid with userinfo) or a generic user API, with the
/// operator's renames.
///
/// # Errors
/// No subject.
pub fn from_claims(
    claims: &Map<String, Value>,
    mapping: &ClaimMapping,
) -> Result<ProviderProfile, LoginFailure> {
    let key =
        |custom: &Option<String>, default: &'static str| claims.get(custom.as_deref().unwrap_or(default));
    let account_id = text(key(&mapping.id, "sub")).ok_or_else(|| unreadable("subject"))?;
    Ok(ProviderProfile {
        account_id,
        email: text(key(&mapping.email, "email")),
        email_verified: key(&mapping.email_verified, "email_verified").and_then(claim_bool),
        name: text(key(&mapping.name, "name")).or_else(|| {
            let given = text(claims.get("given_name"))?;
            Some(match text(claims.get("family_name")) {
                Some(family) => format!("{given} {family}"),
                None => given,
            })
        }),
        image: text(key(&mapping.image, "picture")),
        raw: Value::Object(claims.clone()),
    })
}

/// GitHub's `/user`: the address is the primary one of `/user/emails` when `/user` shows none,
/// and it counts as verified only when that list says so.
async fn github(
    rp: &RelyingParty,
    user: Value,
    emails_url: &str,
    access_token: &str,
) -> Result<ProviderProfile, LoginFailure> {
    let account_id = text(user.get("id")).ok_or_else(|| unreadable("user id"))?;
    let emails = rp.fetch_json(emails_url, access_token).await?;
    let emails = emails.as_array().cloned().unwrap_or_default();
    let listed = |pick: &dyn Fn(&Value) -> bool| emails.iter().find(|e| pick(e)).cloned();
    let shown = text(user.get("email"));
    let entry = match &shown {
        Some(address) => listed(&|e| text(e.get("email")).as_deref() == Some(address.as_str())),
        None => listed(&|e| e.get("primary") == Some(&Value::Bool(true))),
    };
    let email = shown.or_else(|| entry.as_ref().and_then(|e| text(e.get("email"))));
    let email_verified = Some(
        entry
            .and_then(|e| e.get("verified").and_then(claim_bool))
            .unwrap_or(false),
    );
    Ok(ProviderProfile {
        account_id,
        email,
        email_verified,
        name: text(user.get("name")).or_else(|| text(user.get("login"))),
        image: text(user.get("avatar_url")),
        raw: user,
    })
}

fn discord(user: Value) -> Result<ProviderProfile, LoginFailure> {
    let account_id = text(user.get("id")).ok_or_else(|| unreadable("user id"))?;
    let image = text(user.get("avatar")).map(|hash| {
        let ext = if hash.starts_with("a_") { "gif" } else { "png" };
        format!("https://cdn.discordapp.com/avatars/{account_id}/{hash}.{ext}")
    });
    Ok(ProviderProfile {
        email: text(user.get("email")),
        email_verified: Some(user.get("verified").and_then(claim_bool).unwrap_or(false)),
        name: text(user.get("global_name")).or_else(|| text(user.get("username"))),
        image,
        account_id,
        raw: user,
    })
}

/// The profile a plain OAuth 2.0 provider's user API gives for `access_token`.
///
/// # Errors
/// The API refused or answered something unusable.
pub async fn from_user_api(
    rp: &RelyingParty,
    shape: &ProfileShape,
    user_info_url: &str,
    access_token: &str,
) -> Result<ProviderProfile, LoginFailure> {
    let user = rp.fetch_json(user_info_url, access_token).await?;
    match shape {
        ProfileShape::GitHub { emails_url } => github(rp, user, emails_url, access_token).await,
        ProfileShape::Discord => discord(user),
        ProfileShape::Claims(mapping) => match &user {
            Value::Object(claims) => from_claims(claims, mapping),
            _ => Err(unreadable("user info")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_honour_the_mapping_and_every_spelling_of_verified() {
        let claims = json!({"sub": "s1", "mail": "A@x.test", "verified": "true", "given_name": "Ann", "family_name": "Lee"});
        let mapping = ClaimMapping {
            email: Some("mail".into()),
            email_verified: Some("verified".into()),
            ..ClaimMapping::default()
        };
        let p = from_claims(claims.as_object().unwrap(), &mapping).unwrap();
        assert_eq!(p.account_id, "s1");
        assert_eq!(p.email.as_deref(), Some("A@x.test"));
        assert_eq!(p.email_verified, Some(true));
        assert_eq!(p.name.as_deref(), Some("Ann Lee"));
        let silent = from_claims(json!({"sub": 7}).as_object().unwrap(), &ClaimMapping::default()).unwrap();
        assert_eq!((silent.account_id.as_str(), silent.email_verified), ("7", None));
        assert!(
            from_claims(
                json!({"email": "a@x.test"}).as_object().unwrap(),
                &ClaimMapping::default()
            )
            .is_err()
        );
    }

    #[test]
    fn discord_builds_the_avatar_url_and_reads_verified() {
        let p = discord(
            json!({"id": "80", "email": "d@x.test", "verified": false, "username": "dee", "avatar": "a_1"}),
        )
        .unwrap();
        assert_eq!(p.email_verified, Some(false));
        assert_eq!(p.name.as_deref(), Some("dee"));
        assert_eq!(
            p.image.as_deref(),
            Some("https://cdn.discordapp.com/avatars/80/a_1.gif")
        );
    }
}
