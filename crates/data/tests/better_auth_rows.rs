//! Rows written the way Better Auth writes them are read back correctly, and rows Castellan
//! writes use Better Auth's column layout.

use castellan_data::repo::{sessions, users};
use castellan_migrations::Migrator;
use chrono::{TimeZone, Utc};
use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;

#[tokio::test]
async fn sqlite_reads_better_auth_iso_dates() {
    let db = castellan_data::connect("sqlite::memory:").await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    db.execute_unprepared(
        r#"INSERT INTO "user" VALUES ('u1','Ann','ann@x.test',0,NULL,'2026-11-30T09:46:22.548Z','2026-11-30T09:46:22.548Z','user',0,NULL,NULL,0)"#,
    )
    .await
    .unwrap();
    db.execute_unprepared(
        r#"INSERT INTO "session" ("id","expiresAt","token","createdAt","updatedAt","ipAddress","userAgent","userId") VALUES ('s1','2026-12-07T09:46:22.563Z','tok','2026-11-30T09:46:22.563Z','2026-11-30T09:46:22.563Z','10.0.0.1','curl','u1')"#,
    )
    .await
    .unwrap();
    let u = users::find_by_email(&db, "ANN@x.test").await.unwrap().unwrap();
    assert_eq!(
        u.created_at,
        Utc.with_ymd_and_hms(2026, 11, 30, 9, 46, 22).unwrap() + chrono::TimeDelta::milliseconds(548)
    );
    assert_eq!(u.role.as_deref(), Some("user"));
    assert!(!u.email_verified);
    let s = sessions::find_by_token(&db, "tok").await.unwrap().unwrap();
    assert_eq!(s.user_id, "u1");
    assert_eq!(s.expires_at.to_rfc3339(), "2026-12-07T09:46:22.563+00:00");
}
