//! The organization audit log: append-only and hash-chained per organization. Each entry's hash
//! covers its own fields and the previous entry's hash, so editing, deleting or reordering past
//! entries breaks the chain and [`verify`] reports where. Shared by every service that changes
//! organization data (identity and admin will write here too).

use castellan_data::clock::iso;
use castellan_data::entity::audit_log::{self, ActiveModel, Entity as AuditLog, Model};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The log of platform administration (admin actions on users), beside the organizations' logs.
pub const PLATFORM_LOG: &str = "platform";

/// The `prevHash` of an organization's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

impl From<castellan_data::DataError> for AuditError {
    fn from(e: castellan_data::DataError) -> Self {
        use castellan_data::DataError as D;
        match e {
            D::Db(e) | D::Unavailable(e) => Self::Db(e),
            D::Conflict => Self::Db(DbErr::Custom(
                "the event conflicts with an existing one".to_owned(),
            )),
            D::TooLarge => Self::Db(DbErr::Custom("the event is too large to store".to_owned())),
        }
    }
}

/// Who did what to what, from where.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub organization_id: String,
    pub action: &'static str,
    pub actor_id: Option<String>,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub details: Value,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// SHA-256 over the previous hash and the entry's fields, as a JSON array (an unambiguous encoding).
fn entry_hash(e: &Model) -> String {
    let fields = serde_json::json!([
        e.prev_hash,
        e.organization_id,
        e.seq,
        e.action,
        e.actor_id,
        e.target_type,
        e.target_id,
        e.details,
        e.ip_address,
        e.user_agent,
        iso(&e.created_at),
    ]);
    hex::encode(Sha256::digest(fields.to_string().as_bytes()))
}

/// The event webhook subscribers get for an entry: its type is the entry's action.
fn event_of<'a>(entry: &'a Model, details: &Value) -> castellan_data::repo::events::Event<'a> {
    let organization_id = (entry.organization_id != PLATFORM_LOG).then_some(entry.organization_id.as_str());
    castellan_data::repo::events::Event {
        organization_id,
        kind: &entry.action,
        data: serde_json::json!({
            "organizationId": organization_id,
            "actorId": entry.actor_id,
            "targetType": entry.target_type,
            "targetId": entry.target_id,
            "details": details,
            "auditSeq": entry.seq,
        }),
    }
}

/// Appends an entry and its event (the webhook outbox). Run it in the transaction of the
/// change it records, so all land or none.
/// On Postgres, appends to one organization's chain are serialised by a transaction-scoped
/// advisory lock (held until the caller commits), so under sustained concurrency no writer keeps
/// losing the race for the next `seq`. The unique index stays the guarantee: a loser (SQLite,
/// or a database without the lock) retries on top of the winner.
///
/// # Errors
/// Database failures.
pub async fn record<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    event: AuditEvent,
    now: DateTime<Utc>,
) -> Result<Model, AuditError> {
    let mut attempts = 0;
    loop {
        // A savepoint when `db` is already a transaction: a lost race rolls back only this
        // attempt (Postgres would otherwise abort the caller's whole transaction).
        let attempt = castellan_data::begin_write(db).await?;
        if attempt.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            attempt
                .execute_raw(sea_orm::Statement::from_sql_and_values(
                    sea_orm::DatabaseBackend::Postgres,
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                    [event.organization_id.clone().into()],
                ))
                .await?;
        }
        let last = AuditLog::find()
            .filter(audit_log::Column::OrganizationId.eq(&event.organization_id))
            .order_by_desc(audit_log::Column::Seq)
            .one(&attempt)
            .await?;
        let (seq, prev_hash) = last.map_or((1, GENESIS.to_owned()), |l| (l.seq + 1, l.hash));
        let mut entry = Model {
            id: castellan_crypto::random::generate_id(),
            organization_id: event.organization_id.clone(),
            seq,
            action: event.action.to_owned(),
            actor_id: event.actor_id.clone(),
            target_type: event.target_type.map(str::to_owned),
            target_id: event.target_id.clone(),
            details: (!event.details.is_null()).then(|| event.details.to_string()),
            ip_address: event.ip_address.clone(),
            user_agent: event.user_agent.clone(),
            created_at: now,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        let row: ActiveModel = entry.clone().into();
        let row = ActiveModel {
            id: Set(entry.id.clone()),
            ..row
        };
        match AuditLog::insert(row).exec_without_returning(&attempt).await {
            Ok(_) => {
                castellan_data::repo::events::emit(&attempt, event_of(&entry, &event.details), now)
                    .await
                    .map_err(AuditError::from)?;
                attempt.commit().await?;
                return Ok(entry);
            }
            Err(e)
                if attempts < 5
                    && matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) =>
            {
                attempt.rollback().await?;
                attempts += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// One page of an organization's log, newest first, and the total.
///
/// # Errors
/// Database failures.
pub async fn page(
    db: &impl ConnectionTrait,
    organization_id: &str,
    limit: u64,
    offset: u64,
) -> Result<(Vec<Model>, u64), AuditError> {
    let query = AuditLog::find().filter(audit_log::Column::OrganizationId.eq(organization_id));
    let total = query.clone().count(db).await?;
    // Bounded so user-supplied numbers stay inside SQL's signed integers.
    let rows = query
        .order_by_desc(audit_log::Column::Seq)
        .limit(limit.min(10_000))
        .offset(offset.min(i64::MAX as u64))
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The result of checking an organization's chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub valid: bool,
    pub entries: u64,
    /// The first entry whose hash or link does not match, if any.
    pub broken_at_seq: Option<i64>,
}

/// Recomputes every hash and link, oldest first.
///
/// # Errors
/// Database failures.
pub async fn verify(db: &impl ConnectionTrait, organization_id: &str) -> Result<Verification, AuditError> {
    let rows = AuditLog::find()
        .filter(audit_log::Column::OrganizationId.eq(organization_id))
        .order_by_asc(audit_log::Column::Seq)
        .all(db)
        .await?;
    let mut prev = GENESIS.to_owned();
    for (expected_seq, row) in (1..).zip(rows.iter()) {
        if row.seq != expected_seq || row.prev_hash != prev || entry_hash(row) != row.hash {
            return Ok(Verification {
                valid: false,
                entries: rows.len() as u64,
                broken_at_seq: Some(row.seq),
            });
        }
        prev.clone_from(&row.hash);
    }
    Ok(Verification {
        valid: true,
        entries: rows.len() as u64,
        broken_at_seq: None,
    })
}
