//! Persistence: one SQL pool for either SQLite (embedded default) or PostgreSQL (production).
//!
//! The database URL selects the dialect. Queries are written once in the common subset of both
//! dialects (numbered `$N` parameters, `RETURNING`, BIGINT millisecond timestamps, TEXT UUIDs) and
//! run through sqlx's `Any` driver; schema differences live only in `migrations/{sqlite,postgres}`,
//! which share their numbering. Every query that touches group data takes the group as a parameter;
//! scoping is decided by the caller's [`crate::auth::Actor`], never by the UI.

pub mod audit;
pub mod devices;
pub mod groups;
pub mod mfa;
pub mod recordings;
pub mod sessions;
pub mod snapshots;
pub mod sso;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::config::Secret;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which SQL dialect the pool speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A database failure. Constraint violations are told apart so handlers can answer 409.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint violated")]
    Conflict,
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored value is malformed: {0}")]
    Corrupt(String),
}

pub type DbResult<T> = Result<T, DbError>;

/// Maps unique-violation errors to [`DbError::Conflict`].
pub(crate) fn map_unique(error: sqlx::Error) -> DbError {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
    {
        return DbError::Conflict;
    }
    DbError::Sql(error)
}

/// Parses a stored UUID-text ID.
pub(crate) fn parse_id<T: FromStr>(text: &str) -> DbResult<T> {
    text.parse()
        .map_err(|_| DbError::Corrupt(format!("bad id {text:?}")))
}

/// The shared connection pool.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
}

impl Db {
    /// Connects (creating the SQLite file if needed). Does not migrate.
    pub async fn connect(url: &Secret) -> DbResult<Self> {
        sqlx::any::install_default_drivers();
        let url = url.expose();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        };
        let options = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(if dialect == Dialect::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers run while one writer writes; the busy timeout turns
                        // short write contention into waiting rather than errors.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, dialect })
    }

    /// Applies pending migrations of this dialect.
    pub async fn migrate(&self) -> DbResult<()> {
        match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Connects and migrates: what the server and the admin CLI do at start.
    pub async fn open(url: &Secret) -> DbResult<Self> {
        let db = Self::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. SQLite gets `BEGIN IMMEDIATE`, so the write lock
    /// is taken up front (and waited for under the busy timeout): a plain deferred transaction
    /// that reads first fails with "database is locked" (SQLITE_BUSY_SNAPSHOT) when another
    /// connection wrote in between, which no timeout can cure.
    pub async fn begin_write(&self) -> DbResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A trivial round trip, for readiness checks.
    pub async fn ping(&self) -> DbResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
