//! The data layer: sea-orm entities for Better Auth's schema and the repositories every service
//! uses. Repositories are plain async functions over `&impl ConnectionTrait`, so callers compose
//! them inside a transaction. Nothing here knows about HTTP.

pub mod clock;
pub mod entity;
pub mod repo;

use std::time::Duration;

pub use clock::{Clock, SystemClock};
pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A unique constraint refused the write (a duplicate email, token or identifier).
    #[error("the row conflicts with an existing one")]
    Conflict,
    /// A value is larger than the database can store or index (Postgres' `program_limit_exceeded`,
    /// e.g. an index row over 2.7 kB): the client sent it, so it is the client's error.
    #[error("a value is too large to store")]
    TooLarge,
    /// The database cannot be reached (down, restarting, unreachable, pool exhausted): the
    /// request may succeed when retried.
    #[error("the database is unavailable: {0}")]
    Unavailable(DbErr),
    #[error("database error: {0}")]
    Db(DbErr),
}

impl From<DbErr> for DataError {
    fn from(e: DbErr) -> Self {
        if is_too_large(&e) {
            return Self::TooLarge;
        }
        if is_unavailable(&e) {
            return Self::Unavailable(e);
        }
        match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Self::Conflict,
            _ => Self::Db(e),
        }
    }
}

/// Whether the database refused a value for its size (SQLSTATE class 54, "program limit
/// exceeded": index row size, too many columns, a string too long for its column).
#[must_use]
pub fn is_too_large(e: &DbErr) -> bool {
    let (DbErr::Exec(runtime) | DbErr::Query(runtime)) = e else {
        return false;
    };
    matches!(
        runtime,
        sea_orm::RuntimeErr::SqlxError(err)
            if matches!(&**err, sea_orm::sqlx::Error::Database(db)
                if db.code().is_some_and(|c| c.starts_with("54")))
    )
}

/// Whether the database failed to be reached rather than refused the statement: no connection
/// could be had, the connection broke, or the server is shutting down or starting up
/// (SQLSTATE classes 08 and 57P).
#[must_use]
pub fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => matches!(
            runtime,
            sea_orm::RuntimeErr::SqlxError(err) if match &**err {
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
                Sqlx::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
                _ => false,
            }
        ),
        _ => false,
    }
}

pub type DataResult<T> = Result<T, DataError>;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    #[must_use]
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails at once with
/// `SQLITE_BUSY` when another writer got there first, whatever the busy timeout, while an
/// immediate one waits its turn. Postgres needs nothing special.
///
/// # Errors
/// Database failures.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    // The mode applies to SQLite's top-level BEGIN only: Postgres and savepoints ignore it.
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Opens a pool. SQLite files get their parent directory created, WAL journaling, a busy timeout
/// and enforced foreign keys (Better Auth's schema relies on `ON DELETE CASCADE`).
///
/// # Errors
/// An unsupported URL or a database that cannot be reached.
pub async fn connect(url: &str) -> DataResult<DatabaseConnection> {
    let backend = Backend::of(url).ok_or_else(|| {
        DataError::Db(DbErr::Custom(format!(
            "unsupported DATABASE_URL scheme in {url:?}"
        )))
    })?;
    let mut opts = sea_orm::ConnectOptions::new(url.to_owned());
    // While the database is unreachable a request waits this long for a connection, then is
    // answered 503 with Retry-After.
    opts.sqlx_logging(false).acquire_timeout(Duration::from_secs(5));
    match backend {
        Backend::Sqlite => {
            if let Some(dir) = sqlite_parent_dir(url) {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| DataError::Db(DbErr::Custom(format!("cannot create {dir}: {e}"))))?;
            }
            // One writer at a time is SQLite's model; a small pool keeps readers concurrent.
            opts.max_connections(8).min_connections(1);
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
        }
        Backend::Postgres => {
            opts.max_connections(32).min_connections(1);
        }
    }
    Ok(sea_orm::Database::connect(opts).await?)
}

fn sqlite_parent_dir(url: &str) -> Option<String> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let parent = std::path::Path::new(path).parent()?;
    let s = parent.to_string_lossy().into_owned();
    (!s.is_empty()).then_some(s)
}

/// The connection pool's `(open, idle, max)` connections, for the metrics endpoint.
#[must_use]
pub fn pool_stats(db: &DatabaseConnection) -> Option<(u32, u32, u32)> {
    // The pool getters panic on the other backend's connection: ask for the backend first.
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            Some((pool.size(), idle, pool.options().get_max_connections()))
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            Some((pool.size(), idle, pool.options().get_max_connections()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_parent_directories() {
        assert_eq!(
            sqlite_parent_dir("sqlite://./data/castellan.db?mode=rwc").as_deref(),
            Some("./data")
        );
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_parent_dir("sqlite://x.db"), None);
    }
}
