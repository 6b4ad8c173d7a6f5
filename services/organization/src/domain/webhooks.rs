//! Webhook endpoints: an organization's (managed by whoever its policy grants `webhook:*`,
//! owners and admins by default) or the platform's (platform admins). The organization is the
//! caller's validated one, never an id taken on trust; every change is audited and its secret
//! is shown once, when made.

use castellan_authz::grant::{self, Grant};
use castellan_authz::permissions::{PLATFORM, Statements, split_roles};
use castellan_data::entity::webhook_endpoint;
use castellan_data::repo::webhooks::{self, DeliveryRecord, Owner};
use castellan_webhooks::signature::generate_secret;
use castellan_webhooks::target::{self, TargetError};
use chrono::TimeDelta;
use sea_orm::ActiveValue::Set;
use serde_json::json;

use super::{Actor, OrganizationService};
use crate::error::{OrgError, OrgResult};

/// Endpoints one owner may have.
pub const MAX_ENDPOINTS: u64 = 20;
/// Event types one endpoint may filter on.
pub const MAX_EVENT_TYPES: usize = 64;
/// How long the secret before a rotation still signs deliveries.
pub const ROTATION_GRACE: TimeDelta = TimeDelta::hours(24);

/// Whose endpoints a request is about.
#[derive(Debug, Clone, Copy)]
pub enum WebhookTarget<'a> {
    /// The named organization, else the session's active one.
    Organization(Option<&'a str>),
    Platform,
}

/// The owner a request was admitted for.
#[derive(Debug, Clone)]
pub enum Admitted {
    Organization(String),
    Platform,
}

impl Admitted {
    fn owner(&self) -> Owner<'_> {
        match self {
            Self::Organization(id) => Owner::Organization(id),
            Self::Platform => Owner::Platform,
        }
    }

    fn audit_log(&self) -> &str {
        match self {
            Self::Organization(id) => id,
            Self::Platform => castellan_audit::PLATFORM_LOG,
        }
    }
}

/// A new endpoint, as asked for.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
}

/// Fields to change; `None` leaves one alone.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// `member.add`, `member.*`, `*`: lower-case words joined by dots, a family wildcard last.
fn check_event_types(types: &[String]) -> OrgResult<String> {
    let valid = |t: &str| {
        let body = t.strip_suffix(".*").unwrap_or(t);
        t == "*"
            || (!body.is_empty()
                && t.len() <= 100
                && body.split('.').all(|w| {
                    !w.is_empty()
                        && w.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
                }))
    };
    if types.len() > MAX_EVENT_TYPES || !types.iter().all(|t| valid(t)) {
        return Err(OrgError::invalid("INVALID_EVENT_TYPE"));
    }
    let mut types = types.to_vec();
    types.sort();
    types.dedup();
    Ok(serde_json::Value::from(types).to_string())
}

impl OrganizationService {
    /// Admits the caller for `G` on `target`'s endpoints.
    async fn webhook_owner<G: Grant>(&self, actor: &Actor, target: WebhookTarget<'_>) -> OrgResult<Admitted> {
        match target {
            WebhookTarget::Organization(explicit) => {
                let id = Self::target(actor, explicit)
                    .ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?
                    .to_owned();
                let scope = self
                    .require_scope(
                        actor,
                        &id,
                        OrgError::denied("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION"),
                    )
                    .await?;
                let permit = self
                    .require_permit::<G>(&scope, OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_MANAGE_WEBHOOKS"))
                    .await?;
                Ok(Admitted::Organization(permit.org_id().to_owned()))
            }
            WebhookTarget::Platform => {
                let roles = split_roles(actor.auth.user.role.as_deref().unwrap_or("user"));
                let wanted: Statements = [(G::RESOURCE.to_owned(), vec![G::ACTION.to_owned()])].into();
                if self.authz.allows(PLATFORM, &roles, &wanted).await? {
                    Ok(Admitted::Platform)
                } else {
                    Err(OrgError::denied(
                        "YOU_ARE_NOT_ALLOWED_TO_MANAGE_PLATFORM_WEBHOOKS",
                    ))
                }
            }
        }
    }

    /// A new `whsec_` secret, and the same sealed under the deployment's keys for storage.
    fn new_webhook_secret(&self) -> OrgResult<(String, String)> {
        let secret = generate_secret();
        let sealed =
            self.settings.secrets.encrypt(&secret).map_err(|e| {
                OrgError::Db(sea_orm::DbErr::Custom(format!("sealing the webhook secret: {e}")))
            })?;
        Ok((secret, sealed))
    }

    async fn checked_url(&self, raw: &str) -> OrgResult<String> {
        let allow_private = self.settings.webhooks.allow_private_targets;
        let refuse = |e: TargetError| match e {
            TargetError::Invalid(why) => OrgError::with_message(
                castellan_domain::Kind::Invalid,
                "INVALID_WEBHOOK_URL",
                format!("The webhook URL is not valid: {why}"),
            ),
            TargetError::NotPublic => OrgError::invalid("WEBHOOK_URL_NOT_ALLOWED"),
        };
        let url = target::check_url(raw, allow_private).map_err(refuse)?;
        target::check_resolved(&url, allow_private)
            .await
            .map_err(refuse)?;
        Ok(url.to_string())
    }

    async fn audit_webhook(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        actor: &Actor,
        owner: &Admitted,
        action: &'static str,
        endpoint_id: &str,
        details: serde_json::Value,
    ) -> OrgResult<()> {
        self.audit(
            txn,
            actor,
            owner.audit_log(),
            action,
            ("webhook", endpoint_id),
            details,
        )
        .await
    }

    /// Registers an endpoint; returns it with its secret, which is never shown again.
    ///
    /// # Errors
    /// Not allowed; a URL that is malformed or not public; bad event types; too many endpoints.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        target: WebhookTarget<'_>,
        new: NewWebhook,
    ) -> OrgResult<(webhook_endpoint::Model, String)> {
        let owner = self.webhook_owner::<grant::WebhookCreate>(actor, target).await?;
        let url = self.checked_url(&new.url).await?;
        let event_types = check_event_types(&new.event_types)?;
        let (secret, sealed) = self.new_webhook_secret()?;
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        if webhooks::count(&txn, owner.owner()).await? >= MAX_ENDPOINTS {
            return Err(OrgError::invalid("TOO_MANY_WEBHOOKS"));
        }
        let row = webhooks::insert(
            &txn,
            webhook_endpoint::Model {
                id: castellan_crypto::random::generate_id(),
                organization_id: owner.owner().organization_id(),
                url,
                description: new.description,
                event_types,
                secret: sealed,
                previous_secret: None,
                previous_secret_expires_at: None,
                enabled: true,
                disabled_reason: None,
                created_by: Some(actor.user_id().to_owned()),
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        self.audit_webhook(
            &txn,
            actor,
            &owner,
            "webhook.create",
            &row.id,
            json!({ "url": row.url, "eventTypes": serde_json::from_str::<serde_json::Value>(&row.event_types).unwrap_or_default() }),
        )
        .await?;
        txn.commit().await?;
        Ok((row, secret))
    }

    /// # Errors
    /// Not allowed.
    pub async fn list_webhooks(
        &self,
        actor: &Actor,
        target: WebhookTarget<'_>,
    ) -> OrgResult<Vec<webhook_endpoint::Model>> {
        let owner = self.webhook_owner::<grant::WebhookRead>(actor, target).await?;
        Ok(webhooks::list(&self.db, owner.owner()).await?)
    }

    /// # Errors
    /// Not allowed; not the owner's endpoint; invalid changes.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        target: WebhookTarget<'_>,
        id: &str,
        change: WebhookChange,
    ) -> OrgResult<webhook_endpoint::Model> {
        let owner = self.webhook_owner::<grant::WebhookUpdate>(actor, target).await?;
        let mut row = webhook_endpoint::ActiveModel {
            updated_at: Set(self.now()),
            ..Default::default()
        };
        let mut details = serde_json::Map::new();
        if let Some(url) = &change.url {
            let url = self.checked_url(url).await?;
            details.insert("url".into(), url.clone().into());
            row.url = Set(url);
        }
        if let Some(types) = &change.event_types {
            row.event_types = Set(check_event_types(types)?);
            details.insert("eventTypes".into(), types.clone().into());
        }
        if let Some(description) = change.description {
            row.description = Set(description);
        }
        if let Some(enabled) = change.enabled {
            row.enabled = Set(enabled);
            if enabled {
                row.disabled_reason = Set(None);
            }
            details.insert("enabled".into(), enabled.into());
        }
        let txn = castellan_data::begin_write(&self.db).await?;
        let updated = webhooks::update(&txn, owner.owner(), row, id)
            .await?
            .ok_or_else(|| OrgError::missing("WEBHOOK_NOT_FOUND"))?;
        self.audit_webhook(&txn, actor, &owner, "webhook.update", id, details.into())
            .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// # Errors
    /// Not allowed; not the owner's endpoint.
    pub async fn delete_webhook(&self, actor: &Actor, target: WebhookTarget<'_>, id: &str) -> OrgResult<()> {
        let owner = self.webhook_owner::<grant::WebhookDelete>(actor, target).await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        if !webhooks::delete(&txn, owner.owner(), id).await? {
            return Err(OrgError::missing("WEBHOOK_NOT_FOUND"));
        }
        self.audit_webhook(&txn, actor, &owner, "webhook.delete", id, serde_json::Value::Null)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A new secret; the previous one keeps signing (beside it) for [`ROTATION_GRACE`].
    ///
    /// # Errors
    /// Not allowed; not the owner's endpoint.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        target: WebhookTarget<'_>,
        id: &str,
    ) -> OrgResult<(webhook_endpoint::Model, String)> {
        let owner = self.webhook_owner::<grant::WebhookUpdate>(actor, target).await?;
        let (secret, sealed) = self.new_webhook_secret()?;
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        let current = webhooks::find(&txn, owner.owner(), id)
            .await?
            .ok_or_else(|| OrgError::missing("WEBHOOK_NOT_FOUND"))?;
        let change = webhook_endpoint::ActiveModel {
            secret: Set(sealed),
            previous_secret: Set(Some(current.secret)),
            previous_secret_expires_at: Set(Some(now + ROTATION_GRACE)),
            updated_at: Set(now),
            ..Default::default()
        };
        let updated = webhooks::update(&txn, owner.owner(), change, id)
            .await?
            .ok_or_else(|| OrgError::missing("WEBHOOK_NOT_FOUND"))?;
        self.audit_webhook(
            &txn,
            actor,
            &owner,
            "webhook.rotate_secret",
            id,
            serde_json::Value::Null,
        )
        .await?;
        txn.commit().await?;
        Ok((updated, secret))
    }

    /// # Errors
    /// Not allowed; not the owner's endpoint.
    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        target: WebhookTarget<'_>,
        id: &str,
        status: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> OrgResult<(Vec<DeliveryRecord>, u64)> {
        let owner = self.webhook_owner::<grant::WebhookRead>(actor, target).await?;
        let endpoint = webhooks::find(&self.db, owner.owner(), id)
            .await?
            .ok_or_else(|| OrgError::missing("WEBHOOK_NOT_FOUND"))?;
        Ok(webhooks::deliveries(&self.db, &endpoint, status, limit, offset).await?)
    }

    /// Sends a delivery again, now, keeping its `webhook-id`.
    ///
    /// # Errors
    /// Not allowed; not a delivery of the owner's endpoints.
    pub async fn redeliver_webhook(
        &self,
        actor: &Actor,
        target: WebhookTarget<'_>,
        delivery_id: &str,
    ) -> OrgResult<castellan_data::entity::webhook_delivery::Model> {
        let owner = self.webhook_owner::<grant::WebhookUpdate>(actor, target).await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        let row = webhooks::redeliver(&txn, owner.owner(), delivery_id, self.now())
            .await?
            .ok_or_else(|| OrgError::missing("WEBHOOK_DELIVERY_NOT_FOUND"))?;
        self.audit_webhook(
            &txn,
            actor,
            &owner,
            "webhook.redeliver",
            &row.endpoint_id,
            json!({ "deliveryId": row.id }),
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::check_event_types;

    #[test]
    fn event_types_are_dotted_words_or_family_wildcards() {
        let ok = |t: &[&str]| check_event_types(&t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            ok(&["member.add", "member.add", "user.*"]).unwrap(),
            r#"["member.add","user.*"]"#
        );
        assert_eq!(ok(&[]).unwrap(), "[]");
        assert!(ok(&["*"]).is_ok());
        for bad in [
            "",
            ".",
            "Member.add",
            "member..add",
            "member.*.x",
            "a b",
            "member.add\u{0}",
        ] {
            assert!(ok(&[bad]).is_err(), "{bad:?} accepted");
        }
    }
}
