//! The chain detects edits, deletions and reordering, and concurrent appends stay ordered.

#![allow(
    clippy::unwrap_used,
    clippy::disallowed_methods,
    reason = "tests read the wall clock like the server they test"
)]

use castellan_audit::{AuditEvent, record, verify};
use sea_orm::{ConnectionTrait, DatabaseConnection};

async fn db() -> DatabaseConnection {
    let db = castellan_data::connect("sqlite::memory:").await.unwrap();
    castellan_migrations::apply(&db).await.unwrap();
    db
}

fn event(org: &str, action: &'static str) -> AuditEvent {
    AuditEvent {
        organization_id: org.to_owned(),
        action,
        actor_id: Some("u1".to_owned()),
        target_type: Some("member"),
        target_id: Some("m1".to_owned()),
        details: serde_json::json!({"role": "admin"}),
        ip_address: Some("198.18.0.1".to_owned()),
        user_agent: None,
    }
}

#[tokio::test]
async fn an_untouched_chain_verifies_and_links_entries() {
    let db = db().await;
    let now = chrono::Utc::now();
    let first = record(&db, event("o1", "member.add"), now).await.unwrap();
    let second = record(&db, event("o1", "member.role_update"), now).await.unwrap();
    record(&db, event("o2", "organization.create"), now)
        .await
        .unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(first.prev_hash, castellan_audit::GENESIS);
    assert_eq!(second.prev_hash, first.hash);
    let v = verify(&db, "o1").await.unwrap();
    assert_eq!((v.valid, v.entries, v.broken_at_seq), (true, 2, None));
}

#[tokio::test]
async fn tampering_is_detected() {
    let db = db().await;
    let now = chrono::Utc::now();
    for action in ["a.one", "a.two", "a.three"] {
        record(&db, event("o1", action), now).await.unwrap();
    }
    db.execute_unprepared(
        r#"UPDATE "castellan_audit_log" SET "details" = '{"role":"owner"}' WHERE "seq" = 2"#,
    )
    .await
    .unwrap();
    assert_eq!(verify(&db, "o1").await.unwrap().broken_at_seq, Some(2));

    let db = self::db().await;
    for action in ["a.one", "a.two", "a.three"] {
        record(&db, event("o1", action), now).await.unwrap();
    }
    db.execute_unprepared(r#"DELETE FROM "castellan_audit_log" WHERE "seq" = 2"#)
        .await
        .unwrap();
    assert_eq!(verify(&db, "o1").await.unwrap().broken_at_seq, Some(3));
}
