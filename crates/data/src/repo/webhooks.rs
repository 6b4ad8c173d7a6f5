//! Webhook endpoints and their deliveries. Endpoints are read and changed only through their
//! [`Owner`]: an organization's endpoint is invisible to every other owner. The delivery worker
//! claims due deliveries with `FOR UPDATE SKIP LOCKED` (Postgres; SQLite serialises writers),
//! one head per endpoint, so an endpoint gets its events in order and no two workers hold one
//! delivery at once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionSession,
};

use crate::DataResult;
use crate::entity::webhook_delivery::{self, DELIVERED, FAILED, PENDING};
use crate::entity::{event, webhook_endpoint};

/// Whose endpoints: one organization's, or the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    Organization(&'a str),
    Platform,
}

impl Owner<'_> {
    fn condition(self) -> sea_orm::Condition {
        let column = webhook_endpoint::Column::OrganizationId;
        match self {
            Owner::Organization(org) => sea_orm::Condition::all().add(column.eq(org)),
            Owner::Platform => sea_orm::Condition::all().add(column.is_null()),
        }
    }

    #[must_use]
    pub fn organization_id(self) -> Option<String> {
        match self {
            Owner::Organization(org) => Some(org.to_owned()),
            Owner::Platform => None,
        }
    }
}

/// # Errors
/// Database failures.
pub async fn insert(
    db: &impl ConnectionTrait,
    row: webhook_endpoint::Model,
) -> DataResult<webhook_endpoint::Model> {
    let active: webhook_endpoint::ActiveModel = row.into();
    Ok(active.reset_all().insert(db).await?)
}

/// The owner's endpoints, oldest first.
///
/// # Errors
/// Database failures.
pub async fn list(db: &impl ConnectionTrait, owner: Owner<'_>) -> DataResult<Vec<webhook_endpoint::Model>> {
    Ok(webhook_endpoint::Entity::find()
        .filter(owner.condition())
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .order_by_asc(webhook_endpoint::Column::Id)
        .limit(1_000)
        .all(db)
        .await?)
}

/// How many endpoints the owner has.
///
/// # Errors
/// Database failures.
pub async fn count(db: &impl ConnectionTrait, owner: Owner<'_>) -> DataResult<u64> {
    Ok(webhook_endpoint::Entity::find()
        .filter(owner.condition())
        .count(db)
        .await?)
}

/// The owner's endpoint `id` (`None` for anyone else's).
///
/// # Errors
/// Database failures.
pub async fn find(
    db: &impl ConnectionTrait,
    owner: Owner<'_>,
    id: &str,
) -> DataResult<Option<webhook_endpoint::Model>> {
    Ok(webhook_endpoint::Entity::find_by_id(id.to_owned())
        .filter(owner.condition())
        .one(db)
        .await?)
}

/// Saves changed fields of one of the owner's endpoints; `None` when it is not theirs.
///
/// # Errors
/// Database failures.
pub async fn update(
    db: &impl ConnectionTrait,
    owner: Owner<'_>,
    mut change: webhook_endpoint::ActiveModel,
    id: &str,
) -> DataResult<Option<webhook_endpoint::Model>> {
    if find(db, owner, id).await?.is_none() {
        return Ok(None);
    }
    change.id = Set(id.to_owned());
    Ok(Some(change.update(db).await?))
}

/// Deletes one of the owner's endpoints with its deliveries; `false` when it is not theirs.
///
/// # Errors
/// Database failures.
pub async fn delete(db: &impl ConnectionTrait, owner: Owner<'_>, id: &str) -> DataResult<bool> {
    if find(db, owner, id).await?.is_none() {
        return Ok(false);
    }
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(id))
        .exec(db)
        .await?;
    let gone = webhook_endpoint::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?;
    Ok(gone.rows_affected == 1)
}

/// A delivery with the event it carries.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub delivery: webhook_delivery::Model,
    pub event: event::Model,
}

async fn with_events(
    db: &impl ConnectionTrait,
    deliveries: Vec<webhook_delivery::Model>,
) -> DataResult<Vec<DeliveryRecord>> {
    let ids: Vec<String> = deliveries.iter().map(|d| d.event_id.clone()).collect();
    let events = event::Entity::find()
        .filter(event::Column::Id.is_in(ids))
        .all(db)
        .await?;
    Ok(deliveries
        .into_iter()
        .filter_map(|delivery| {
            let event = events.iter().find(|e| e.id == delivery.event_id)?.clone();
            Some(DeliveryRecord { delivery, event })
        })
        .collect())
}

/// One page of an endpoint's deliveries, newest first, and their total. The caller has found
/// the endpoint through its owner.
///
/// # Errors
/// Database failures.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    endpoint: &webhook_endpoint::Model,
    status: Option<&str>,
    limit: u64,
    offset: u64,
) -> DataResult<(Vec<DeliveryRecord>, u64)> {
    let mut query =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::EndpointId.eq(&endpoint.id));
    if let Some(status) = status {
        query = query.filter(webhook_delivery::Column::Status.eq(status));
    }
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(webhook_delivery::Column::Seq)
        .limit(limit.min(1_000))
        .offset(offset.min(i64::MAX as u64))
        .all(db)
        .await?;
    Ok((with_events(db, rows).await?, total))
}

/// Queues one of the owner's deliveries again, now, with a fresh retry schedule (the same
/// `webhook-id`). `None` when the delivery is not the owner's.
///
/// # Errors
/// Database failures.
pub async fn redeliver(
    db: &impl ConnectionTrait,
    owner: Owner<'_>,
    delivery_id: &str,
    now: DateTime<Utc>,
) -> DataResult<Option<webhook_delivery::Model>> {
    let Some(row) = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Id.eq(delivery_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if find(db, owner, &row.endpoint_id).await?.is_none() {
        return Ok(None);
    }
    let row = webhook_delivery::ActiveModel {
        seq: Set(row.seq),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(Some(row))
}

/// A delivery a worker holds until `locked_until`, with its event and endpoint.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: webhook_delivery::Model,
    pub event: event::Model,
    pub endpoint: webhook_endpoint::Model,
}

/// Takes up to `limit` due deliveries, each the oldest still pending of its (enabled) endpoint,
/// until `lease_until`, counting the attempt. Rows another worker is claiming are skipped, not
/// waited for.
///
/// # Errors
/// Database failures.
pub async fn claim<C>(
    db: &C,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u64,
) -> DataResult<Vec<Claimed>>
where
    C: ConnectionTrait + sea_orm::TransactionTrait,
{
    let backend = db.get_database_backend();
    let lock = if backend == DatabaseBackend::Postgres {
        "FOR UPDATE OF d SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        r#"UPDATE "castellan_webhook_delivery" SET "lockedUntil" = $1, "attempts" = "attempts" + 1, "lastAttemptAt" = $2
        WHERE "seq" IN (
          SELECT d."seq" FROM "castellan_webhook_delivery" d
          JOIN "castellan_webhook_endpoint" e ON e."id" = d."endpointId"
          WHERE d."status" = '{PENDING}' AND d."nextAttemptAt" <= $2
            AND (d."lockedUntil" IS NULL OR d."lockedUntil" < $2)
            AND e."enabled" = $3
            AND NOT EXISTS (SELECT 1 FROM "castellan_webhook_delivery" p
              WHERE p."endpointId" = d."endpointId" AND p."status" = '{PENDING}' AND p."seq" < d."seq")
          ORDER BY d."seq" LIMIT $4 {lock})
        RETURNING *"#
    );
    let sql = if backend == DatabaseBackend::Postgres {
        sql
    } else {
        sql.replace('$', "?")
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let txn = crate::begin_write(db).await?;
    let claimed = webhook_delivery::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            backend,
            sql,
            [lease_until.into(), now.into(), true.into(), limit.into()],
        ))
        .all(&txn)
        .await?;
    txn.commit().await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let endpoint_ids: Vec<String> = claimed.iter().map(|d| d.endpoint_id.clone()).collect();
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(endpoint_ids))
        .all(db)
        .await?;
    let mut out: Vec<Claimed> = with_events(db, claimed)
        .await?
        .into_iter()
        .filter_map(|r| {
            let endpoint = endpoints.iter().find(|e| e.id == r.delivery.endpoint_id)?.clone();
            Some(Claimed {
                delivery: r.delivery,
                event: r.event,
                endpoint,
            })
        })
        .collect();
    out.sort_by_key(|c| c.delivery.seq);
    Ok(out)
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub enum Settlement {
    Delivered {
        status: i32,
    },
    /// Try again at `at`.
    Retry {
        at: DateTime<Utc>,
        status: Option<i32>,
        error: String,
    },
    /// The retry schedule is spent: the delivery fails and its endpoint is disabled.
    GiveUp {
        status: Option<i32>,
        error: String,
    },
}

/// Records an attempt's outcome, if the worker still holds the delivery (its lease is the one
/// it claimed). Returns whether it did.
///
/// # Errors
/// Database failures.
pub async fn settle<C>(
    db: &C,
    held: &webhook_delivery::Model,
    outcome: Settlement,
    now: DateTime<Utc>,
) -> DataResult<bool>
where
    C: ConnectionTrait + sea_orm::TransactionTrait,
{
    use webhook_delivery::Column as D;
    let mut update = webhook_delivery::Entity::update_many()
        .col_expr(D::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(D::Seq.eq(held.seq))
        .filter(D::Attempts.eq(held.attempts))
        .filter(D::Status.eq(PENDING));
    update = match held.locked_until {
        Some(lease) => update.filter(D::LockedUntil.eq(lease)),
        None => update.filter(D::LockedUntil.is_null()),
    };
    let give_up = match &outcome {
        Settlement::Delivered { status } => update
            .col_expr(D::Status, Expr::value(DELIVERED))
            .col_expr(D::LastStatus, Expr::value(*status))
            .col_expr(D::LastError, Expr::value(Option::<String>::None))
            .col_expr(D::DeliveredAt, Expr::value(now)),
        Settlement::Retry { at, status, error } => update
            .col_expr(D::NextAttemptAt, Expr::value(*at))
            .col_expr(D::LastStatus, Expr::value(*status))
            .col_expr(D::LastError, Expr::value(error.clone())),
        Settlement::GiveUp { status, error } => update
            .col_expr(D::Status, Expr::value(FAILED))
            .col_expr(D::LastStatus, Expr::value(*status))
            .col_expr(D::LastError, Expr::value(error.clone())),
    };
    let txn = crate::begin_write(db).await?;
    let held_still = give_up.exec(&txn).await?.rows_affected == 1;
    if held_still && let Settlement::GiveUp { error, .. } = &outcome {
        webhook_endpoint::ActiveModel {
            id: Set(held.endpoint_id.clone()),
            enabled: Set(false),
            disabled_reason: Set(Some(format!("delivery {} failed: {error}", held.id))),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(held_still)
}

/// Forgets settled deliveries (delivered or failed) made before `before`, and the events no
/// delivery refers to any more. Returns how many deliveries went.
///
/// # Errors
/// Database failures.
pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>) -> DataResult<u64> {
    let gone = webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::Status.is_in([DELIVERED, FAILED]))
        .filter(webhook_delivery::Column::CreatedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected;
    let backend = db.get_database_backend();
    let sql = r#"DELETE FROM "castellan_event" WHERE "createdAt" < $1 AND NOT EXISTS
        (SELECT 1 FROM "castellan_webhook_delivery" d WHERE d."eventId" = "castellan_event"."id")"#;
    let sql = if backend == DatabaseBackend::Postgres {
        sql.to_owned()
    } else {
        sql.replace('$', "?")
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [before.into()]))
        .await?;
    Ok(gone)
}

/// Deliveries still to be made to enabled endpoints (the backlog).
///
/// # Errors
/// Database failures.
pub async fn backlog(db: &impl ConnectionTrait) -> DataResult<u64> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .count(db)
        .await?)
}

/// The platform admins' addresses: whom to tell that a platform endpoint was disabled.
///
/// # Errors
/// Database failures.
pub async fn platform_admin_addresses(db: &impl ConnectionTrait) -> DataResult<Vec<String>> {
    use crate::entity::user;
    Ok(user::Entity::find()
        .filter(user::Column::Role.contains("admin"))
        .limit(100)
        .all(db)
        .await?
        .into_iter()
        .filter(|u| {
            u.role
                .as_deref()
                .is_some_and(|r| r.split(',').any(|r| r.trim() == "admin"))
        })
        .map(|u| u.email)
        .collect())
}
