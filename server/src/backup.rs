//! Backups of the database (R15, B14): a consistent dump of every table, encrypted like the
//! recordings (its own data key, wrapped by the master key) and written to the object store,
//! seven generations kept. `restore` puts one back, replacing every table in one transaction.
//!
//! The dump is portable JSON taken in one read transaction (a snapshot: SQLite's WAL reader, or
//! PostgreSQL's repeatable read), so it is consistent without stopping the server, and needs no
//! external tool (`pg_dump`) for either dialect. Login sessions are left out: a restore logs
//! everyone out rather than bring back sessions. A backup is two objects:
//! `backups/<id>.enc` (the encrypted dump) and `backups/<id>.json` (its wrapped key, the SHA-256
//! of the dump, the dialect and schema version) — the master key must be kept safe separately.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Column, Row};

use crate::db::{Db, Dialect};
use crate::storage::crypto::Keyring;
use crate::storage::objects::ObjectStore;

/// Generations kept unless configured otherwise (R15).
pub const DEFAULT_GENERATIONS: usize = 7;

/// Every table, parents before children (so a restore can insert in this order). Login sessions
/// are not backed up.
pub const TABLES: &[&str] = &[
    "groups",
    "group_sso",
    "users",
    "mfa_recovery_codes",
    "devices",
    "audit_events",
    "recordings",
    "recording_participants",
    "deletion_records",
    "snapshots",
    "snapshot_participants",
    "pending_object_deletions",
];

/// Tables whose `id` PostgreSQL generates (an identity column).
const IDENTITY_TABLES: &[&str] = &["audit_events", "deletion_records"];

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("object store: {0}")]
    Store(#[from] crate::storage::objects::StoreError),
    #[error("the backup cannot be read: {0}")]
    Damaged(String),
    #[error("no backup {0}")]
    NotFound(String),
    #[error("{0}")]
    Incompatible(String),
}

/// One table's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDump {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// The content of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    pub format: String,
    pub dialect: String,
    /// Highest applied migration.
    pub schema: i64,
    pub tables: std::collections::BTreeMap<String, TableDump>,
}

/// What is written next to a backup, and listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupInfo {
    pub id: String,
    pub created_at: i64,
    pub dialect: String,
    pub schema: i64,
    pub key_id: String,
    pub wrapped_key: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows: std::collections::BTreeMap<String, usize>,
}

fn dialect_name(db: &Db) -> &'static str {
    match db.dialect() {
        Dialect::Sqlite => "sqlite",
        Dialect::Postgres => "postgres",
    }
}

/// A column value as JSON: integers, reals, text, booleans (PostgreSQL flags), or null.
fn value_of(row: &sqlx::any::AnyRow, index: usize) -> Value {
    if let Ok(v) = row.try_get::<Option<i64>, _>(index) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(index) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(index) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(index) {
        return v.map_or(Value::Null, Value::from);
    }
    Value::Null
}

/// A consistent dump of every table.
pub async fn dump(db: &Db) -> Result<Dump, BackupError> {
    let mut tx = match db.dialect() {
        Dialect::Postgres => {
            db.pool()
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?
        }
        Dialect::Sqlite => db.pool().begin().await?,
    };
    let (schema,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
            .fetch_one(&mut *tx)
            .await?;
    let mut tables = std::collections::BTreeMap::new();
    for table in TABLES {
        // A stable order, so that two dumps of the same data are equal.
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY 1"))
            .fetch_all(&mut *tx)
            .await?;
        let columns: Vec<String> = match rows.first() {
            Some(row) => row.columns().iter().map(|c| c.name().to_owned()).collect(),
            None => Vec::new(),
        };
        let rows = rows
            .iter()
            .map(|row| (0..row.columns().len()).map(|i| value_of(row, i)).collect())
            .collect();
        tables.insert((*table).to_owned(), TableDump { columns, rows });
    }
    tx.commit().await?;
    Ok(Dump {
        format: "remote-assist-backup/1".into(),
        dialect: dialect_name(db).into(),
        schema,
        tables,
    })
}

fn object_keys(id: &str) -> (String, String) {
    (format!("backups/{id}.enc"), format!("backups/{id}.json"))
}

/// Takes a backup now and keeps the newest `generations`; returns its description.
pub async fn create(
    db: &Db,
    keyring: &Keyring,
    store: &ObjectStore,
    now: i64,
    generations: usize,
) -> Result<BackupInfo, BackupError> {
    let dump = dump(db).await?;
    store_dump(keyring, store, &dump, now, generations).await
}

/// Encrypts a dump into the store as a backup taken at `now`, then keeps the newest
/// `generations`.
pub async fn store_dump(
    keyring: &Keyring,
    store: &ObjectStore,
    dump: &Dump,
    now: i64,
    generations: usize,
) -> Result<BackupInfo, BackupError> {
    let plaintext = serde_json::to_vec(dump).map_err(|e| BackupError::Damaged(e.to_string()))?;
    let id = format!(
        "{}-{}",
        chrono::DateTime::from_timestamp_millis(now)
            .unwrap_or_default()
            .format("%Y%m%dT%H%M%S%3fZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (data_key, info_key) = object_keys(&id);
    let sealed = crate::storage::seal_and_store(keyring, store, &data_key, &id, &plaintext).await?;
    let info = BackupInfo {
        id: id.clone(),
        created_at: now,
        dialect: dump.dialect.clone(),
        schema: dump.schema,
        key_id: sealed.wrapped.key_id.clone(),
        wrapped_key: base64::engine::general_purpose::STANDARD.encode(&sealed.wrapped.blob),
        sha256: hex::encode(Sha256::digest(&plaintext)),
        bytes: plaintext.len() as u64,
        rows: dump
            .tables
            .iter()
            .map(|(name, t)| (name.clone(), t.rows.len()))
            .collect(),
    };
    let info_bytes =
        serde_json::to_vec_pretty(&info).map_err(|e| BackupError::Damaged(e.to_string()))?;
    store.append(&info_key, &info_bytes).await?;
    store.finish(&info_key).await?;
    prune(store, generations).await?;
    Ok(info)
}

/// The backups in the store, newest first.
pub async fn list(store: &ObjectStore) -> Result<Vec<BackupInfo>, BackupError> {
    let mut out = Vec::new();
    for key in store.list("backups/").await? {
        let Some(id) = key
            .strip_prefix("backups/")
            .and_then(|k| k.strip_suffix(".json"))
        else {
            continue;
        };
        let size = store.size(&key).await?;
        let bytes = store.read_range(&key, 0..size).await?;
        match serde_json::from_slice::<BackupInfo>(&bytes) {
            Ok(info) if info.id == id => out.push(info),
            _ => tracing::warn!(key, "not a backup description; ignored"),
        }
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// Deletes all but the newest `generations` backups.
pub async fn prune(store: &ObjectStore, generations: usize) -> Result<usize, BackupError> {
    let all = list(store).await?;
    let mut removed = 0;
    for old in all.iter().skip(generations.max(1)) {
        let (data, info) = object_keys(&old.id);
        store.delete(&data).await?;
        store.delete(&info).await?;
        removed += 1;
    }
    Ok(removed)
}

/// Reads and checks a backup (authenticated decryption and SHA-256).
pub async fn read(
    keyring: &Keyring,
    store: &ObjectStore,
    id: &str,
) -> Result<(BackupInfo, Dump), BackupError> {
    let info = list(store)
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| BackupError::NotFound(id.to_owned()))?;
    let (data_key, _) = object_keys(id);
    let plaintext = crate::storage::read_sealed(
        keyring,
        store,
        &data_key,
        &info.key_id,
        &info.wrapped_key,
        id,
    )
    .await
    .map_err(|e| BackupError::Damaged(e.to_string()))?;
    if hex::encode(Sha256::digest(&plaintext)) != info.sha256 {
        return Err(BackupError::Damaged(
            "SHA-256 differs from the one recorded".into(),
        ));
    }
    let dump: Dump =
        serde_json::from_slice(&plaintext).map_err(|e| BackupError::Damaged(e.to_string()))?;
    Ok((info, dump))
}

/// Replaces every backed-up table with the backup's rows, in one transaction; login sessions
/// are cleared (everyone logs in again). The database must be of the same dialect and schema.
pub async fn restore(
    db: &Db,
    keyring: &Keyring,
    store: &ObjectStore,
    id: &str,
) -> Result<BackupInfo, BackupError> {
    let (info, dump) = read(keyring, store, id).await?;
    if dump.dialect != dialect_name(db) {
        return Err(BackupError::Incompatible(format!(
            "the backup is of a {} database, this one is {}",
            dump.dialect,
            dialect_name(db)
        )));
    }
    let (schema,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
            .fetch_one(db.pool())
            .await?;
    if schema != dump.schema {
        return Err(BackupError::Incompatible(format!(
            "the backup has schema version {}, this database {schema}: restore it with the release that made it",
            dump.schema
        )));
    }
    let mut tx = db.begin_write().await?;
    if db.dialect() == Dialect::Sqlite {
        // Rows go in parent-first order; the checks hold again once the transaction commits.
        sqlx::query("PRAGMA defer_foreign_keys = ON")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM login_sessions")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM mfa_challenges")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sso_logins")
        .execute(&mut *tx)
        .await?;
    for table in TABLES.iter().rev() {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    for table in TABLES {
        let Some(data) = dump.tables.get(*table) else {
            continue;
        };
        if data.rows.is_empty() {
            continue;
        }
        let overriding = if db.dialect() == Dialect::Postgres && IDENTITY_TABLES.contains(table) {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        for row in &data.rows {
            // A NULL is written as the literal: a bound NULL carries a parameter type, and
            // PostgreSQL refuses a text-typed NULL for a bigint column.
            let mut next_parameter = 0;
            let values: Vec<String> = row
                .iter()
                .map(|value| {
                    if value.is_null() {
                        "NULL".to_owned()
                    } else {
                        next_parameter += 1;
                        format!("${next_parameter}")
                    }
                })
                .collect();
            let sql = format!(
                "INSERT INTO {table} ({}){overriding} VALUES ({})",
                data.columns.join(", "),
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for value in row {
                query = match value {
                    Value::Null => continue,
                    Value::Bool(b) => query.bind(*b),
                    Value::Number(n) if n.is_i64() => query.bind(n.as_i64()),
                    Value::Number(n) => query.bind(n.as_f64()),
                    Value::String(s) => query.bind(s.clone()),
                    other => query.bind(other.to_string()),
                };
            }
            query.execute(&mut *tx).await?;
        }
        if db.dialect() == Dialect::Postgres && IDENTITY_TABLES.contains(table) {
            // The next generated ID continues after the restored ones.
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(info)
}
