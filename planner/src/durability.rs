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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sluice_runtime::connectors::BadRowPolicy;
use sluice_storage::durable::CheckpointWriter;
use sluice_storage::{
    Durable, DurableOptions, StateReader, StateSource, StateWriter, StorageError,
};

use crate::database::{Catalog, Database, Entry, EntryKind};
use crate::error::{PlanError, Result};
use crate::session::Session;
use crate::streaming::statements::dead_letter_name;

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
        {
            let mut catalog = database.catalog.write().await;
            catalog.restored = Some(RestoredCheckpoint::read(&durable)?);
            catalog.subscriptions.use_durable_clock(durable.clone())?;
        }
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
        {
            let mut catalog = database.catalog.write().await;
            catalog.replaying = false;
            catalog.restored = None;
        }
        if options.checkpoint_interval_ms > 0 {
            database.spawn_checkpoints(std::time::Duration::from_millis(
                options.checkpoint_interval_ms,
            ));
        }
        tracing::info!(
            path = %dir.display(),
            statements = count,
            relations = database.catalog.read().await.entries.len(),
            "catalog restored"
        );
        Ok(database)
    }

    /// Stop every source and background task, take a last checkpoint (so a restart resumes
    /// where this run stopped), and wait until nothing else holds the database, so its data
    /// directory is released when the caller drops it.
    pub async fn close(self: Arc<Self>) -> Result<()> {
        {
            let mut catalog = self.catalog.write().await;
            for entry in catalog.entries.values_mut() {
                for task in entry.tasks.drain(..) {
                    task.abort();
                }
            }
        }
        let result = self.checkpoint().await.map(|_| ());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&self) > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        result
    }

    /// Every continuous query's status (what `sluice_queries` shows).
    pub async fn query_statuses(&self) -> Vec<crate::streaming::status::QueryStatus> {
        crate::streaming::status::query_statuses(&*self.catalog.read().await)
    }

    /// Bytes of the data directory's SST files (0 in memory).
    pub fn disk_bytes(&self) -> u64 {
        self.durable.as_ref().map_or(0, |d| d.disk_bytes())
    }

    /// Checkpoints committed since the data directory was opened, the bytes the last one
    /// wrote and the bytes all of them wrote (zeros in memory).
    pub fn checkpoint_stats(&self) -> (u64, u64, u64) {
        self.durable
            .as_ref()
            .map_or((0, 0, 0), |d| d.checkpoint_stats())
    }

    /// True when this database keeps its catalog and tables in a data directory.
    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    /// Checkpoint the state of every continuous query that can resume from one (see
    /// [`Catalog::write_checkpoint`]), then flush the data directory to disk (`CHECKPOINT`).
    /// Returns the number of queries and tables checkpointed.
    pub async fn checkpoint(&self) -> Result<usize> {
        let Some(durable) = &self.durable else {
            return Ok(0);
        };
        let count = {
            let mut catalog = self.catalog.write().await;
            // Written under the lock: no batch is ingested between the cut and the write.
            let mut writer = durable.begin_checkpoint()?;
            let count = catalog.write_checkpoint(&mut writer)?;
            writer.commit()?;
            catalog.ingested_at_checkpoint = catalog.ingested;
            count
        };
        durable.flush()?;
        Ok(count)
    }

    /// Checkpoint every `interval` while the database lives, when something was ingested.
    fn spawn_checkpoints(self: &Arc<Self>, interval: std::time::Duration) {
        let database = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(database) = database.upgrade() else {
                    return;
                };
                {
                    let catalog = database.catalog.read().await;
                    if catalog.ingested == catalog.ingested_at_checkpoint {
                        continue;
                    }
                }
                match database.checkpoint().await {
                    Ok(entries) => tracing::debug!(entries, "checkpoint written"),
                    Err(error) => tracing::error!(%error, "checkpoint failed"),
                }
            }
        });
    }
}

const QUERY_KEY: &str = "q/";
const TABLE_KEY: &str = "t/";

/// The last checkpoint while the catalog is restored: each query's and table's entry is
/// read from the data directory when it is restored, once (not every entry at open: one
/// query's state in memory at a time).
pub(crate) struct RestoredCheckpoint {
    durable: Arc<Durable>,
    /// The streams of large state the entries refer to.
    streams: Arc<dyn StateSource>,
    taken: HashSet<String>,
}

impl RestoredCheckpoint {
    fn read(durable: &Arc<Durable>) -> Result<Self> {
        Ok(Self {
            durable: Arc::clone(durable),
            streams: durable.checkpoint_streams()?,
            taken: HashSet::new(),
        })
    }

    /// The checkpointed entry `key` (`QUERY_KEY` or `TABLE_KEY` and a name), the first time
    /// it is asked for.
    fn take(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        let entry = match self.taken.contains(&key) {
            true => None,
            false => self.durable.checkpoint_entry(key.as_bytes())?,
        };
        self.taken.insert(key);
        Ok(entry)
    }

    /// The streams of large state the entries refer to.
    fn streams(&self) -> Arc<dyn StateSource> {
        Arc::clone(&self.streams)
    }
}

/// A continuous query's dataflow, its store, and whether it is a job (writes a target).
fn query_parts(
    kind: &mut EntryKind,
) -> Option<(
    &mut sluice_runtime::Dataflow,
    &Arc<crate::relation::RelationStore>,
    bool,
)> {
    match kind {
        EntryKind::MaterializedView {
            dataflow,
            store,
            target,
            ..
        } => Some((dataflow.as_mut(), store, target.is_some())),
        _ => None,
    }
}

impl Catalog {
    /// A source of `relation` feeding query `reader` has delivered everything up to `offset`.
    pub fn record_source_offset(&mut self, reader: &str, relation: &str, offset: Option<Vec<u8>>) {
        self.ingested += 1;
        if let (Some(offset), Some(entry)) = (offset, self.entries.get_mut(reader)) {
            entry.source_offsets.insert(relation.to_string(), offset);
        }
    }

    /// Which continuous queries resume from a checkpoint, and which tables' rows go into it.
    ///
    /// A query can resume if everything it reads resumes with it: connector sources (from
    /// their offsets), materialized views that resume, and stored tables whose rows are
    /// checkpointed. A non-durable stored table (a stored sink, a dead-letter table) is
    /// checkpointed if every query writing it resumes. Durable tables never are: their rows
    /// are already on disk, and a query reading them is recomputed from them at restore,
    /// together with everything downstream. Computed as a fixpoint from "everything resumes".
    fn resumable(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut queries: BTreeSet<String> = BTreeSet::new();
        let mut tables: BTreeSet<String> = BTreeSet::new();
        // Writers of each table: job targets and the readers of a dead-letter table's source.
        let mut writers: HashMap<String, Vec<String>> = HashMap::new();
        for (name, entry) in &self.entries {
            match &entry.kind {
                EntryKind::MaterializedView {
                    failure: None,
                    target,
                    dataflow,
                    ..
                } => {
                    queries.insert(name.clone());
                    if let Some(target) = target {
                        writers
                            .entry(target.clone())
                            .or_default()
                            .push(name.clone());
                    }
                    for relation in dataflow.relations() {
                        let dead_letter = self
                            .entries
                            .get(relation)
                            .and_then(|e| e.connector.as_ref())
                            .filter(|c| c.bad_rows == BadRowPolicy::DeadLetter)
                            .map(|c| dead_letter_name(c));
                        if let Some(dead_letter) = dead_letter {
                            writers.entry(dead_letter).or_default().push(name.clone());
                        }
                    }
                }
                EntryKind::Table { store } => {
                    let source_only = entry.connector.as_ref().is_some_and(|c| !c.is_stored());
                    if store.durable_id().is_none() && !source_only {
                        tables.insert(name.clone());
                    }
                }
                _ => {}
            }
        }
        loop {
            let mut changed = false;
            let current_queries = queries.clone();
            for name in current_queries {
                let Some(EntryKind::MaterializedView { dataflow, .. }) =
                    self.entries.get(&name).map(|e| &e.kind)
                else {
                    continue;
                };
                let resumes =
                    dataflow
                        .relations()
                        .all(|relation| match self.entries.get(relation) {
                            Some(Entry {
                                kind: EntryKind::Table { store },
                                connector,
                                ..
                            }) => {
                                store.durable_id().is_none()
                                    && (connector.as_ref().is_some_and(|c| !c.is_stored())
                                        || tables.contains(relation))
                            }
                            Some(Entry {
                                kind: EntryKind::MaterializedView { .. },
                                ..
                            }) => queries.contains(relation),
                            _ => false,
                        });
                if !resumes {
                    queries.remove(&name);
                    changed = true;
                }
            }
            let current_tables = tables.clone();
            for table in current_tables {
                let all_resume = writers
                    .get(&table)
                    .is_none_or(|w| w.iter().all(|q| queries.contains(q)));
                if !all_resume {
                    tables.remove(&table);
                    changed = true;
                }
            }
            if !changed {
                return (queries, tables);
            }
        }
    }

    /// Write a checkpoint of the current state to `writer`, an entry at a time (one query's
    /// state in memory at once): per resumable query, its definition, dataflow state, source
    /// offsets and (for a materialized view) rows; per checkpointed table, its rows. Taken
    /// under the catalog lock, between batches, so the cut is consistent across all queries.
    /// Returns the number of entries.
    pub fn write_checkpoint(&mut self, writer: &mut CheckpointWriter) -> Result<usize> {
        let (queries, tables) = self.resumable();
        let mut entries = 0;
        for name in queries {
            let Some(entry) = self.entries.get_mut(&name) else {
                continue;
            };
            let offsets = entry.source_offsets.clone();
            let definition = entry.definition.clone().unwrap_or_default();
            let Some((dataflow, store, has_target)) = query_parts(&mut entry.kind) else {
                continue;
            };
            let mut out = StateWriter::with_sink(writer.streams());
            out.put_bytes(definition.as_bytes());
            out.put_section(|inner| dataflow.snapshot(inner))?;
            out.put_u64(offsets.len() as u64);
            for (relation, offset) in &offsets {
                out.put_bytes(relation.as_bytes());
                out.put_bytes(offset);
            }
            match has_target {
                // A job's rows are its target's.
                true => out.put_u64(0),
                false => store.snapshot_rows(&mut out)?,
            }
            writer.put(format!("{QUERY_KEY}{name}").as_bytes(), out.as_bytes())?;
            entries += 1;
        }
        for name in tables {
            let Some(store) = self.store(&name) else {
                continue;
            };
            let mut out = StateWriter::with_sink(writer.streams());
            store.snapshot_rows(&mut out)?;
            writer.put(format!("{TABLE_KEY}{name}").as_bytes(), out.as_bytes())?;
            entries += 1;
        }
        Ok(entries)
    }

    /// While restoring: give table `name` its checkpointed rows, if the checkpoint has them.
    pub fn restore_table_rows(&mut self, name: &str) -> Result<()> {
        let taken = match self.restored.as_mut() {
            Some(restored) => restored
                .take(format!("{TABLE_KEY}{name}"))?
                .map(|bytes| (bytes, restored.streams())),
            None => None,
        };
        let Some((bytes, streams)) = taken else {
            return Ok(());
        };
        let Some(store) = self.store(name) else {
            return Ok(());
        };
        let mut input = StateReader::with_source(&bytes, streams.as_ref());
        store.restore_rows(&mut input)?;
        input.finish()?;
        Ok(())
    }

    /// While restoring: bring continuous query `name` (just created, sources not started) to
    /// its checkpointed state: operator state, rows, and the offsets its sources resume
    /// from. A checkpoint of a query with another definition is ignored. Returns whether the
    /// state was restored.
    pub fn restore_query(&mut self, name: &str) -> Result<bool> {
        let taken = match self.restored.as_mut() {
            Some(restored) => restored
                .take(format!("{QUERY_KEY}{name}"))?
                .map(|bytes| (bytes, restored.streams())),
            None => None,
        };
        let Some((bytes, streams)) = taken else {
            return Ok(false);
        };
        let Some(entry) = self.entries.get_mut(name) else {
            return Ok(false);
        };
        let mut input = StateReader::with_source(&bytes, streams.as_ref());
        let definition = input.bytes()?;
        if Some(definition) != entry.definition.as_deref().map(str::as_bytes) {
            tracing::warn!(query = %name, "checkpoint is of another definition; recomputing");
            return Ok(false);
        }
        let mut state = input.section()?;
        let mut offsets = BTreeMap::new();
        for _ in 0..input.len_prefix()? {
            let relation = String::from_utf8_lossy(input.bytes()?).into_owned();
            offsets.insert(relation, input.bytes()?.to_vec());
        }
        let Some((dataflow, store, has_target)) = query_parts(&mut entry.kind) else {
            return Ok(false);
        };
        dataflow.restore(&mut state)?;
        match has_target {
            // A job's rows are its target's: the checkpoint has none for it.
            true => {
                if input.u64()? != 0 {
                    return Err(PlanError::Storage(StorageError::Corrupt(format!(
                        "the checkpoint of job {name} has rows of its own"
                    ))));
                }
            }
            false => store.restore_rows(&mut input)?,
        }
        input.finish()?;
        entry.source_offsets = offsets;
        tracing::info!(query = %name, "continuous query resumes from its checkpoint");
        Ok(true)
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
