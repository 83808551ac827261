//! A durable database: the catalog log and restore.
//!
//! What is durable (see docs/durability.md):
//! - The catalog: every statement that changed it (CREATE/DROP of tables, views, materialized
//!   views, connector tables, continuous INSERT jobs) is appended to the data directory's
//!   catalog log, with the session settings in effect, in the order the statements took
//!   effect (a database-wide DDL lock orders them).
//! - The rows of tables without a connector (the ones DML writes): each statement's changes
//!   are one atomic RocksDB write, on disk before the statement is acknowledged.
//!
//! Restore replays the catalog log in order. A table is recreated under its original id and
//! takes its rows from the data directory; a view or materialized view is recomputed from the
//! tables it reads (so it equals its batch meaning over the durable rows); continuous queries
//! over connector sources start again from the beginning of their sources, which for
//! replayable sources (files, Kafka from the earliest offset, the seeded generators) rebuilds
//! exactly the same state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_storage::{Durable, DurableOptions, StorageError};

use crate::database::Database;
use crate::error::{PlanError, Result};
use crate::session::Session;

/// One catalog log record: a statement that changed the catalog.
#[derive(Debug, Serialize, Deserialize)]
struct CatalogRecord {
    /// The statement text as the client sent it.
    sql: String,
    /// The session settings in effect (connector defaults, idle timeouts, ...).
    settings: BTreeMap<String, String>,
    /// The id the first durable table created by the statement got.
    first_table_id: u64,
}

impl Database {
    /// Open the durable database in `dir` (created if missing): every table, view and
    /// continuous query recorded there is restored and running when this returns.
    pub async fn open(dir: &Path, options: &DurableOptions) -> Result<Arc<Self>> {
        let durable = Durable::open(dir, options)?;
        let database = Self::with_durable(Some(durable.clone()));
        let records = durable.catalog()?;
        let count = records.len();
        for (seq, bytes) in records {
            let record: CatalogRecord = serde_json::from_slice(&bytes).map_err(|e| {
                PlanError::Storage(StorageError::Corrupt(format!(
                    "catalog record {seq} is unreadable: {e}"
                )))
            })?;
            {
                let mut catalog = database.catalog.write().await;
                catalog.replaying = true;
                catalog.next_seq = seq;
                catalog.next_table_id = record.first_table_id;
            }
            let mut session = Session::new(database.clone());
            for (name, value) in &record.settings {
                session.set(name, value);
            }
            let (_, error) = session.execute(&record.sql).await;
            if let Some(error) = error {
                return Err(PlanError::Restore {
                    seq,
                    statement: abbreviate(&record.sql),
                    message: format!("{error} (SQLSTATE {})", error.sqlstate()),
                });
            }
            let mut catalog = database.catalog.write().await;
            catalog.next_seq = seq + 1;
            catalog.dropped_tables.clear();
        }
        database.catalog.write().await.replaying = false;
        tracing::info!(
            path = %dir.display(),
            statements = count,
            relations = database.catalog.read().await.entries.len(),
            "catalog restored"
        );
        Ok(database)
    }

    /// True when this database keeps its catalog and tables in a data directory.
    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    /// Force the data directory's memtables and WAL to disk (`CHECKPOINT`).
    pub fn checkpoint(&self) -> Result<()> {
        if let Some(durable) = &self.durable {
            durable.flush()?;
        }
        Ok(())
    }
}

/// Held while a statement that may change the catalog runs in a durable database.
pub(crate) struct CatalogLogGuard {
    _ddl: tokio::sync::OwnedMutexGuard<()>,
    generation: u64,
    first_table_id: u64,
}

impl Session {
    /// Before running `text`: in a durable database, if it may change the catalog, take the
    /// DDL lock and note the catalog's generation.
    pub(crate) async fn catalog_log_begin(&self, text: &str) -> Option<CatalogLogGuard> {
        if self.database.durable.is_none() || !may_change_catalog(text) {
            return None;
        }
        let ddl = self.database.ddl.clone().lock_owned().await;
        let catalog = self.database.catalog.read().await;
        if catalog.replaying {
            return None;
        }
        Some(CatalogLogGuard {
            _ddl: ddl,
            generation: catalog.generation,
            first_table_id: catalog.next_table_id,
        })
    }

    /// After running `text`: if it succeeded and changed the catalog, append it to the
    /// catalog log (with the deletion of the rows of the tables it dropped).
    pub(crate) async fn catalog_log_finish(
        &self,
        guard: Option<CatalogLogGuard>,
        text: &str,
        succeeded: bool,
    ) -> Result<()> {
        let Some(guard) = guard else {
            return Ok(());
        };
        let mut catalog = self.database.catalog.write().await;
        let dropped = std::mem::take(&mut catalog.dropped_tables);
        if !succeeded || catalog.generation == guard.generation {
            return Ok(());
        }
        let record = CatalogRecord {
            sql: text.to_string(),
            settings: self.settings().clone(),
            first_table_id: guard.first_table_id,
        };
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| PlanError::Internal(format!("catalog record: {e}")))?;
        let seq = catalog.next_seq;
        if let Some(durable) = &catalog.durable {
            durable.append_catalog(seq, &bytes, &dropped)?;
        }
        catalog.next_seq = seq + 1;
        Ok(())
    }
}

/// Whether a statement may change the catalog (reads and settings never do).
fn may_change_catalog(text: &str) -> bool {
    let word = leading_keyword(text).to_ascii_uppercase();
    !matches!(
        word.as_str(),
        "SELECT"
            | "WITH"
            | "VALUES"
            | "TABLE"
            | "SHOW"
            | "EXPLAIN"
            | "SET"
            | "RESET"
            | "BEGIN"
            | "START"
            | "COMMIT"
            | "ROLLBACK"
            | "END"
            | "DISCARD"
            | "DEALLOCATE"
            | "UPDATE"
            | "DELETE"
            | "CHECKPOINT"
            | ""
    )
}

/// The first word of a statement, after whitespace and comments.
fn leading_keyword(text: &str) -> &str {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else if let Some(inner) = rest.strip_prefix('(') {
            rest = inner;
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    &rest[..end]
}

/// A statement shortened for an error message.
fn abbreviate(sql: &str) -> String {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 {
        format!("{}...", flat.chars().take(117).collect::<String>())
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_keywords() {
        assert_eq!(leading_keyword("  -- c\n /* x */ create table t"), "create");
        assert_eq!(leading_keyword("(SELECT 1)"), "SELECT");
        assert!(may_change_catalog("INSERT INTO t VALUES (1)"));
        assert!(may_change_catalog("DROP TABLE t"));
        assert!(!may_change_catalog("select * from t"));
        assert!(!may_change_catalog("SET 'a' = 'b'"));
    }
}
