//! Schema migrations: the embedded `migrations/*.sql` scripts and the code that applies them.
//!
//! Owns: the ordered list of scripts (compiled into the binary with `include_str!`), applying the
//! missing ones each in its own transaction, and recording progress in `PRAGMA user_version`
//! (version N means scripts 1..=N have been applied).
//!
//! Must never: edit or reorder a script that has landed (append a new file instead), apply a script
//! partially, or touch a database whose version is newer than this binary knows.
//!
//! Adding a migration: put `0002_name.sql` in /migrations and add one `migration!("0002_name.sql"),` line
//! to [`MIGRATIONS`].

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Result, SqlContext, StoreError};

/// One embedded migration script.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// File name under /migrations, for error messages.
    pub(crate) file: &'static str,
    /// The script.
    pub(crate) sql: &'static str,
    /// Rust run after the script, in its transaction (e.g. re-indexing stored messages).
    pub(crate) then: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

macro_rules! migration {
    ($file:literal) => {
        Migration { file: $file, sql: include_str!(concat!("../../../migrations/", $file)), then: None }
    };
    ($file:literal, then = $then:path) => {
        Migration {
            file: $file,
            sql: include_str!(concat!("../../../migrations/", $file)),
            then: Some($then),
        }
    };
}

/// Every migration, in order. Index i holds the script that takes the schema from version i to i + 1.
pub(crate) const MIGRATIONS: &[Migration] = &[
    migration!("0001_init.sql"),
    migration!("0002_search_index.sql", then = crate::index::reindex_all),
    migration!("0003_message_bodies.sql"),
    migration!("0004_gaps.sql"),
];

/// The schema version this binary writes.
pub fn schema_version() -> i64 {
    // The list is a short compile-time constant: its length always fits.
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Reads `PRAGMA user_version`.
pub(crate) fn current_version(conn: &Connection) -> Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0)).ctx(|| "reading the schema version")
}

/// Brings the schema of `conn` up to [`schema_version`], one transaction per script.
/// `path` is only used in error messages. Returns how many scripts were applied.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<usize> {
    let found = current_version(conn)?;
    let supported = schema_version();
    if found > supported {
        return Err(StoreError::NewerSchema { path: path.to_path_buf(), found, supported });
    }
    let mut applied = 0;
    for (index, migration) in MIGRATIONS.iter().enumerate() {
        let target = i64::try_from(index + 1).unwrap_or(i64::MAX);
        if target <= found {
            continue;
        }
        let fail = |source| StoreError::Migration { file: migration.file, source };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(fail)?;
        // Another process may have migrated between the check above and this lock.
        let now_version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(fail)?;
        if now_version >= target {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(fail)?;
        if let Some(then) = migration.then {
            then(&tx).map_err(fail)?;
        }
        tx.pragma_update(None, "user_version", target).map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(file = migration.file, version = target, "applied migration");
        applied += 1;
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_named_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            let prefix = format!("{:04}_", i + 1);
            assert!(m.file.starts_with(&prefix), "{} should start with {prefix}", m.file);
            assert!(m.file.ends_with(".sql"));
        }
    }

    #[test]
    fn migrate_twice_applies_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, Path::new(":memory:")).unwrap(), MIGRATIONS.len());
        assert_eq!(current_version(&conn).unwrap(), schema_version());
        assert_eq!(migrate(&mut conn, Path::new(":memory:")).unwrap(), 0);
        assert_eq!(current_version(&conn).unwrap(), schema_version());
    }

    #[test]
    fn newer_schema_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", schema_version() + 1).unwrap();
        let err = migrate(&mut conn, Path::new("/x/mail.db")).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == schema_version() + 1));
        assert_eq!(
            err.to_string(),
            format!(
                "database /x/mail.db has schema version {}, newer than this mailsync supports ({}); \
                 upgrade mailsync",
                schema_version() + 1,
                schema_version()
            )
        );
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn failed_migration_names_its_file_and_leaves_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        // A table the script is about to create makes it fail half-way through.
        conn.execute_batch("CREATE TABLE sync_runs (x INTEGER)").unwrap();
        let err = migrate(&mut conn, Path::new(":memory:")).unwrap_err();
        assert!(matches!(err, StoreError::Migration { file: "0001_init.sql", .. }), "{err}");
        assert!(err.to_string().starts_with("migration 0001_init.sql failed: "), "{err}");
        assert_eq!(current_version(&conn).unwrap(), 0);
        let accounts: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'accounts'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(accounts, 0, "the tables created before the failure are rolled back");
    }
}
