//! The outbox at the data layer: an event exists exactly when its change committed, goes only
//! to the endpoints that may see it, leaves in order one endpoint head at a time, and settled
//! deliveries are forgotten after the retention period.

#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    reason = "tests read the wall clock like the server they test"
)]

use castellan_data::entity::{event, organization, webhook_delivery, webhook_endpoint};
use castellan_data::repo::events::{Event, emit};
use castellan_data::repo::webhooks::{self, Settlement};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, TransactionTrait,
};

async fn db() -> DatabaseConnection {
    let db = castellan_data::connect("sqlite::memory:").await.unwrap();
    castellan_migrations::apply(&db).await.unwrap();
    db
}

async fn organization(db: &DatabaseConnection, id: &str) {
    organization::Model {
        id: id.to_owned(),
        name: id.to_owned(),
        slug: id.to_owned(),
        logo: None,
        created_at: Utc::now(),
        metadata: None,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
}

async fn endpoint(db: &DatabaseConnection, id: &str, org: Option<&str>, types: &str) {
    let now = Utc::now();
    webhooks::insert(
        db,
        webhook_endpoint::Model {
            id: id.to_owned(),
            organization_id: org.map(str::to_owned),
            url: format!("https://hooks.example.com/{id}"),
            description: None,
            event_types: types.to_owned(),
            secret: "sealed".to_owned(),
            previous_secret: None,
            previous_secret_expires_at: None,
            enabled: true,
            disabled_reason: None,
            created_by: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await
    .unwrap();
}

fn org_event<'a>(org: &'a str, kind: &'a str, n: i64) -> Event<'a> {
    Event {
        organization_id: Some(org),
        kind,
        data: serde_json::json!({ "n": n }),
    }
}

/// `(endpoint, event type, n)` of every delivery, in sequence order.
async fn deliveries(db: &DatabaseConnection) -> Vec<(String, String, i64)> {
    let rows = webhook_delivery::Entity::find().all(db).await.unwrap();
    let events = event::Entity::find().all(db).await.unwrap();
    let mut out: Vec<(i64, String, String, i64)> = rows
        .into_iter()
        .map(|d| {
            let e = events.iter().find(|e| e.id == d.event_id).unwrap();
            let n = serde_json::from_str::<serde_json::Value>(&e.data).unwrap()["n"]
                .as_i64()
                .unwrap();
            (d.seq, d.endpoint_id, e.kind.clone(), n)
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, e, k, n)| (e, k, n)).collect()
}

#[tokio::test]
async fn an_event_exists_only_when_its_change_commits_and_only_for_those_who_may_see_it() {
    let db = db().await;
    let now = Utc::now();
    organization(&db, "o1").await;
    organization(&db, "o2").await;
    endpoint(&db, "mine", Some("o1"), r#"["member.*"]"#).await;
    endpoint(&db, "theirs", Some("o2"), "[]").await;
    endpoint(&db, "platform", None, r#"["member.add","user.created"]"#).await;

    // Nobody subscribes to it: nothing is stored.
    emit(&db, org_event("o1", "team.create", 0), now).await.unwrap();
    assert_eq!(event::Entity::find().count(&db).await.unwrap(), 0);

    // A change that rolls back takes its event with it.
    let txn = db.begin().await.unwrap();
    emit(&txn, org_event("o1", "member.add", 1), now).await.unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(event::Entity::find().count(&db).await.unwrap(), 0);

    let txn = db.begin().await.unwrap();
    emit(&txn, org_event("o1", "member.add", 2), now).await.unwrap();
    txn.commit().await.unwrap();
    emit(&db, org_event("o1", "member.remove", 3), now).await.unwrap();
    let platform_event = Event {
        organization_id: None,
        kind: "user.created",
        data: serde_json::json!({ "n": 4 }),
    };
    emit(&db, platform_event, now).await.unwrap();

    let mut got = deliveries(&db).await;
    got.sort_by_key(|(endpoint, _, n)| (*n, endpoint.clone()));
    assert_eq!(
        got,
        [
            ("mine".to_owned(), "member.add".to_owned(), 2),
            ("platform".to_owned(), "member.add".to_owned(), 2),
            ("mine".to_owned(), "member.remove".to_owned(), 3),
            ("platform".to_owned(), "user.created".to_owned(), 4),
        ],
        "o2's endpoint sees nothing of o1, and organization endpoints see no platform event"
    );
}

async fn settle(
    db: &DatabaseConnection,
    held: &webhook_delivery::Model,
    outcome: Settlement,
    now: DateTime<Utc>,
) {
    assert!(webhooks::settle(db, held, outcome, now).await.unwrap());
}

#[tokio::test]
async fn an_endpoint_gets_its_oldest_pending_delivery_first_and_one_at_a_time() {
    let db = db().await;
    let now = Utc::now();
    endpoint(&db, "a", None, "[]").await;
    for n in 1..=3 {
        emit(&db, org_event("o1", "member.add", n), now).await.unwrap();
    }
    let lease = now + TimeDelta::seconds(30);
    let first = webhooks::claim(&db, now, lease, 10).await.unwrap();
    assert_eq!(first.len(), 1, "only the head of the endpoint's queue");
    assert_eq!(first[0].event.data, r#"{"n":1}"#);
    assert!(
        webhooks::claim(&db, now, lease, 10).await.unwrap().is_empty(),
        "a held delivery is not claimed twice, and blocks the ones behind it"
    );

    // A retry keeps its place: the next claim, once due, is the same event again.
    let retry_at = now + TimeDelta::seconds(5);
    let outcome = Settlement::Retry {
        at: retry_at,
        status: Some(503),
        error: "the endpoint answered 503".to_owned(),
    };
    settle(&db, &first[0].delivery, outcome, now).await;
    assert!(
        webhooks::claim(&db, now, lease, 10).await.unwrap().is_empty(),
        "not due yet"
    );
    let again = webhooks::claim(&db, retry_at, lease, 10).await.unwrap();
    assert_eq!(again[0].delivery.id, first[0].delivery.id, "the same webhook-id");
    assert_eq!(again[0].delivery.attempts, 2);
    settle(
        &db,
        &again[0].delivery,
        Settlement::Delivered { status: 204 },
        retry_at,
    )
    .await;

    let next = webhooks::claim(&db, retry_at, lease, 10).await.unwrap();
    assert_eq!(next[0].event.data, r#"{"n":2}"#);
    // A worker whose lease ran out cannot settle what another worker has claimed since.
    let later = retry_at + TimeDelta::seconds(60);
    let stolen = webhooks::claim(&db, later, later + TimeDelta::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(stolen[0].delivery.id, next[0].delivery.id);
    let late = Settlement::Delivered { status: 200 };
    assert!(
        !webhooks::settle(&db, &next[0].delivery, late, later)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn settled_deliveries_and_their_events_are_forgotten_after_the_retention_period() {
    let db = db().await;
    let long_ago = Utc::now() - TimeDelta::days(40);
    let now = Utc::now();
    endpoint(&db, "a", None, "[]").await;
    endpoint(&db, "b", None, "[]").await;
    emit(&db, org_event("o1", "member.add", 1), long_ago)
        .await
        .unwrap();
    emit(&db, org_event("o1", "member.add", 2), now).await.unwrap();
    // Endpoint a took the old event; b still has it pending.
    let claimed = webhooks::claim(&db, now, now + TimeDelta::seconds(30), 10)
        .await
        .unwrap();
    let on_a = claimed.iter().find(|c| c.endpoint.id == "a").unwrap();
    settle(&db, &on_a.delivery, Settlement::Delivered { status: 204 }, now).await;

    let cutoff = now - castellan_webhooks::dispatcher::RETENTION;
    assert_eq!(webhooks::prune(&db, cutoff).await.unwrap(), 1);
    let mut left = deliveries(&db).await;
    left.sort_by_key(|(endpoint, _, n)| (*n, endpoint.clone()));
    assert_eq!(
        left,
        [
            ("b".to_owned(), "member.add".to_owned(), 1),
            ("a".to_owned(), "member.add".to_owned(), 2),
            ("b".to_owned(), "member.add".to_owned(), 2),
        ],
        "the pending delivery of the old event stays, with its event"
    );
    let b_old = webhook_delivery::Entity::find().all(&db).await.unwrap();
    let b_old = b_old
        .iter()
        .find(|d| d.endpoint_id == "b" && d.attempts == 1)
        .unwrap();
    settle(&db, b_old, Settlement::Delivered { status: 204 }, now).await;
    webhooks::prune(&db, cutoff).await.unwrap();
    assert_eq!(
        event::Entity::find().count(&db).await.unwrap(),
        1,
        "only the recent event is left"
    );
}
