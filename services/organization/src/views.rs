//! Better Auth's JSON shapes for organization data. Dates are ISO-8601 with milliseconds.

use castellan_data::entity::{invitation, member, organization, team, team_member, user};
use castellan_http::respond::iso;
use serde_json::{Value, json};

/// `metadata` is stored as JSON text; create and update return it parsed, reads return the text.
#[must_use]
pub fn organization(o: &organization::Model, parse_metadata: bool) -> Value {
    let metadata = match (&o.metadata, parse_metadata) {
        (Some(m), true) => serde_json::from_str(m).unwrap_or_else(|_| Value::String(m.clone())),
        (Some(m), false) => Value::String(m.clone()),
        (None, _) => Value::Null,
    };
    json!({
        "name": o.name,
        "slug": o.slug,
        "logo": o.logo,
        "createdAt": iso(&o.created_at),
        "metadata": metadata,
        "id": o.id,
    })
}

#[must_use]
pub fn member(m: &member::Model) -> Value {
    json!({
        "organizationId": m.organization_id,
        "userId": m.user_id,
        "role": m.role,
        "createdAt": iso(&m.created_at),
        "id": m.id,
    })
}

#[must_use]
pub fn member_with_user(m: &member::Model, u: Option<&user::Model>) -> Value {
    let mut v = member(m);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "user".to_owned(),
            match u {
                Some(u) => json!({ "id": u.id, "name": u.name, "email": u.email, "image": u.image }),
                None => Value::Null,
            },
        );
    }
    v
}

#[must_use]
pub fn invitation(i: &invitation::Model) -> Value {
    json!({
        "organizationId": i.organization_id,
        "email": i.email,
        "role": i.role,
        "teamId": i.team_id,
        "status": i.status,
        "expiresAt": iso(&i.expires_at),
        "createdAt": iso(&i.created_at),
        "inviterId": i.inviter_id,
        "id": i.id,
    })
}

/// `memberCount` is Better Auth's internal seat counter; create-team hides it.
#[must_use]
pub fn team(t: &team::Model, with_count: bool) -> Value {
    let mut v = json!({
        "name": t.name,
        "organizationId": t.organization_id,
        "createdAt": iso(&t.created_at),
        "updatedAt": t.updated_at.as_ref().map(iso),
        "id": t.id,
    });
    if let (true, Some(obj)) = (with_count, v.as_object_mut()) {
        obj.insert("memberCount".to_owned(), t.member_count.into());
    }
    v
}

#[must_use]
pub fn team_member(t: &team_member::Model) -> Value {
    json!({ "id": t.id, "teamId": t.team_id, "userId": t.user_id, "createdAt": t.created_at.as_ref().map(iso) })
}

#[must_use]
pub fn custom_role(r: &crate::domain::access_control::CustomRole) -> Value {
    json!({
        "id": r.row.id,
        "organizationId": r.row.organization_id,
        "role": r.row.role,
        "permission": r.permission,
        "createdAt": iso(&r.row.created_at),
        "updatedAt": r.row.updated_at.as_ref().map(iso),
    })
}

/// A webhook endpoint, never its secret (shown once, by create and rotate-secret).
#[must_use]
pub fn webhook(w: &castellan_data::entity::webhook_endpoint::Model) -> Value {
    json!({
        "id": w.id,
        "organizationId": w.organization_id,
        "url": w.url,
        "description": w.description,
        "eventTypes": serde_json::from_str::<Value>(&w.event_types).unwrap_or_else(|_| json!([])),
        "enabled": w.enabled,
        "disabledReason": w.disabled_reason,
        "previousSecretExpiresAt": w.previous_secret_expires_at.as_ref().map(iso),
        "createdBy": w.created_by,
        "createdAt": iso(&w.created_at),
        "updatedAt": iso(&w.updated_at),
    })
}

/// A webhook endpoint with its new secret: the one time it is shown.
#[must_use]
pub fn webhook_with_secret(w: &castellan_data::entity::webhook_endpoint::Model, secret: String) -> Value {
    let mut view = webhook(w);
    view["secret"] = Value::String(secret);
    view
}

/// One delivery, with the body it sends.
#[must_use]
pub fn webhook_delivery(
    d: &castellan_data::entity::webhook_delivery::Model,
    event: &castellan_data::entity::event::Model,
) -> Value {
    let payload = castellan_webhooks::dispatcher::payload(&event.kind, &event.created_at, &event.data);
    json!({
        "id": d.id,
        "webhookId": d.endpoint_id,
        "eventId": d.event_id,
        "eventType": event.kind,
        "status": d.status,
        "attempts": d.attempts,
        "nextAttemptAt": iso(&d.next_attempt_at),
        "lastAttemptAt": d.last_attempt_at.as_ref().map(iso),
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "deliveredAt": d.delivered_at.as_ref().map(iso),
        "createdAt": iso(&d.created_at),
        "payload": serde_json::from_str::<Value>(&payload).unwrap_or(Value::Null),
    })
}
