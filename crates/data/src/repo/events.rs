//! The event outbox. [`emit`] runs in the transaction of the change it describes and writes the
//! event with one delivery per enabled webhook endpoint subscribed to it: both commit with the
//! change or not at all. An event no endpoint subscribes to is not stored.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde_json::Value;

use crate::DataResult;
use crate::entity::{event, webhook_delivery, webhook_endpoint};

/// A change, as its subscribers see it.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// `None` for platform events (users, sessions, platform administration).
    pub organization_id: Option<&'a str>,
    /// `member.add`, `user.created`, ...
    pub kind: &'a str,
    pub data: Value,
}

/// Whether an endpoint's filter (a JSON array of types, `family.*` wildcards; empty: all)
/// takes events of `kind`. A filter that cannot be read takes nothing.
#[must_use]
pub fn subscribes(filter: &str, kind: &str) -> bool {
    let Ok(types) = serde_json::from_str::<Vec<String>>(filter) else {
        return false;
    };
    types.is_empty()
        || types.iter().any(|t| {
            t == kind
                || t == "*"
                || t.strip_suffix(".*").is_some_and(|family| {
                    kind.strip_prefix(family)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
        })
}

/// Stores `event` for its subscribers. Organization events go to that organization's
/// endpoints and to platform endpoints; platform events to platform endpoints only.
///
/// # Errors
/// Database failures (which must fail the change: the caller's transaction rolls back).
pub async fn emit(db: &impl ConnectionTrait, event: Event<'_>, now: DateTime<Utc>) -> DataResult<()> {
    let owners = match event.organization_id {
        Some(org) => Condition::any()
            .add(webhook_endpoint::Column::OrganizationId.is_null())
            .add(webhook_endpoint::Column::OrganizationId.eq(org)),
        None => Condition::all().add(webhook_endpoint::Column::OrganizationId.is_null()),
    };
    let endpoints: Vec<(String, String)> = webhook_endpoint::Entity::find()
        .select_only()
        .columns([webhook_endpoint::Column::Id, webhook_endpoint::Column::EventTypes])
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .filter(owners)
        .into_tuple()
        .all(db)
        .await?;
    let subscribers: Vec<String> = endpoints
        .into_iter()
        .filter(|(_, filter)| subscribes(filter, event.kind))
        .map(|(id, _)| id)
        .collect();
    if subscribers.is_empty() {
        return Ok(());
    }
    let event_id = format!("evt_{}", castellan_crypto::random::generate_id());
    event::Entity::insert(event::ActiveModel {
        id: Set(event_id.clone()),
        organization_id: Set(event.organization_id.map(str::to_owned)),
        kind: Set(event.kind.to_owned()),
        data: Set(event.data.to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    let deliveries = subscribers
        .into_iter()
        .map(|endpoint_id| webhook_delivery::ActiveModel {
            seq: NotSet,
            id: Set(format!("msg_{}", castellan_crypto::random::generate_id())),
            endpoint_id: Set(endpoint_id),
            event_id: Set(event_id.clone()),
            status: Set(webhook_delivery::PENDING.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            last_attempt_at: Set(None),
            last_status: Set(None),
            last_error: Set(None),
            delivered_at: Set(None),
            created_at: Set(now),
        });
    webhook_delivery::Entity::insert_many(deliveries)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::subscribes;

    #[test]
    fn filters_take_exact_types_families_and_everything_when_empty() {
        assert!(subscribes("[]", "member.add"));
        assert!(subscribes(r#"["member.add"]"#, "member.add"));
        assert!(subscribes(r#"["member.*"]"#, "member.add"));
        assert!(subscribes(r#"["*"]"#, "user.created"));
        assert!(!subscribes(r#"["member.*"]"#, "members.add"));
        assert!(!subscribes(r#"["member.*"]"#, "member"));
        assert!(!subscribes(r#"["user.created"]"#, "user.deleted"));
        assert!(!subscribes("not json", "user.created"));
    }
}
