//! The database: catalog of relations, their stores and the dataflows that maintain
//! materialized views.
//!
//! Concurrency and consistency: all state sits behind one async read-write lock. A statement
//! that changes anything (DDL, DML) holds the write lock from planning until every dependent
//! materialized view has absorbed the change; a query holds the read lock while it plans and
//! executes. So a reader never sees a view half-updated, and a client that receives a DML's
//! completion sees its effect in every dependent view on its next statement.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use arrow::array::Int64Array;
use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::ViewTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::logical_expr::{DmlStatement, LogicalPlan, LogicalPlanBuilder, WriteOp};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::Expr;
use sluice_runtime::connectors::SourceCounters;
use sluice_runtime::operators::window_aggregate::nanos_per_unit;
use sluice_runtime::{ChangeBatch, Dataflow};
use sluice_storage::Durable;

use crate::catalog_lock::CatalogLock;
use crate::error::{PlanError, Result};
use crate::incremental::{self, TimeAttrs};
use crate::relation::{RelationStore, StoredKind, StoredTableProvider};
use crate::streaming::connector_table::ConnectorTable;
use crate::streaming::TimeAttr;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// A catalog object.
pub(crate) enum EntryKind {
    Table {
        store: Arc<RelationStore>,
    },
    MaterializedView {
        store: Arc<RelationStore>,
        dataflow: Box<Dataflow>,
        /// Set when maintaining the view failed; the view then refuses reads.
        failure: Option<String>,
        /// For a continuous `INSERT INTO target SELECT ..` (a job): the table that receives
        /// the changes; the job's own store stays empty.
        target: Option<String>,
    },
    View,
}

pub(crate) struct Entry {
    pub id: u64,
    pub kind: EntryKind,
    /// Relations named in the defining query (views and materialized views).
    pub depends_on: BTreeSet<String>,
    pub definition: Option<String>,
    /// The table's event-time column and watermark (`WATERMARK FOR ..`).
    pub event_time: Option<Arc<EventTime>>,
    /// A stored table's current watermark in nanoseconds: the largest value of its
    /// watermark expression over the rows inserted so far.
    pub watermark: Option<i64>,
    /// Time attributes of a materialized view's columns.
    pub time_attrs: TimeAttrs,
    /// The connector of a table declared `WITH ('connector' = ..)`.
    pub connector: Option<Arc<ConnectorTable>>,
    /// A table's definition as parsed from its `CREATE TABLE` text with a column list: what
    /// `CREATE TABLE .. LIKE` copies (computed columns, watermark, key, options).
    pub table_definition: Option<crate::flink::FlinkCreateTable>,
    /// Changes for the table's sink connector, consumed by its sink task.
    pub sink: Option<mpsc::UnboundedSender<ChangeBatch>>,
    /// Tasks that feed this entry (sources of a job or view) or drain it (a sink); aborted
    /// when the entry is dropped.
    pub tasks: Vec<AbortHandle>,
    /// Counters of the sources feeding this continuous query, by table.
    pub source_counters: Vec<(String, Arc<SourceCounters>)>,
    /// Position of each source feeding this continuous query after the last batch it
    /// ingested (what a checkpoint records), by table; on restore, where the sources resume.
    pub source_offsets: BTreeMap<String, Vec<u8>>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A relation's event time: `WATERMARK FOR column AS expression`.
pub(crate) struct EventTime {
    /// Index of the event-time column.
    pub column: usize,
    /// The watermark expression over a row of the relation, e.g. `ts - INTERVAL '5' SECOND`.
    pub expression: Arc<dyn PhysicalExpr>,
}

impl EventTime {
    /// The largest watermark expression value over the inserted rows of `changes`.
    pub(crate) fn candidate(&self, changes: &ChangeBatch) -> Result<Option<i64>> {
        // `ts` or `ts ± constant` is non-decreasing in `ts`: its largest value is its value on
        // the row with the largest `ts`, so evaluate it on that row alone.
        let rows = match self.monotonic_column() {
            Some(column) => match latest_row(changes, column)? {
                Some(row) => changes.slice(row, 1),
                None => return Ok(None),
            },
            None => changes.clone(),
        };
        let changes = &rows;
        let value = self
            .expression
            .evaluate(&changes.data)
            .and_then(|v| v.into_array(changes.num_rows()))
            .map_err(|e| PlanError::from_datafusion(e, ""))?;
        let unit = nanos_per_unit(value.data_type())?;
        let raw = arrow::compute::cast(&value, &arrow::datatypes::DataType::Int64)?;
        let raw = raw
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| PlanError::Internal("watermark did not cast to Int64".into()))?;
        Ok(raw
            .iter()
            .zip(changes.weights.values())
            .filter(|(_, weight)| **weight > 0)
            .filter_map(|(value, _)| value)
            .max()
            .map(|v| v.saturating_mul(unit)))
    }
}

impl EventTime {
    /// The column the watermark expression is non-decreasing in, if it is `column` or
    /// `column ± literal`.
    fn monotonic_column(&self) -> Option<usize> {
        use datafusion::logical_expr::Operator;
        use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
        let any: &dyn std::any::Any = self.expression.as_ref();
        if let Some(column) = any.downcast_ref::<Column>() {
            return Some(column.index());
        }
        let binary = any.downcast_ref::<BinaryExpr>()?;
        let left: &dyn std::any::Any = binary.left().as_ref();
        let right: &dyn std::any::Any = binary.right().as_ref();
        let column = left.downcast_ref::<Column>()?;
        let constant = right.is::<Literal>();
        (constant && matches!(binary.op(), Operator::Minus | Operator::Plus))
            .then_some(column.index())
    }
}

/// The inserted row of `changes` with the largest non-null value in `column`.
fn latest_row(changes: &ChangeBatch, column: usize) -> Result<Option<usize>> {
    let values = arrow::compute::cast(
        changes.data.column(column),
        &arrow::datatypes::DataType::Int64,
    )?;
    let values = values
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| PlanError::Internal("event time did not cast to Int64".into()))?;
    Ok(values
        .iter()
        .zip(changes.weights.values())
        .enumerate()
        .filter(|(_, (_, weight))| **weight > 0)
        .filter_map(|(row, (value, _))| value.map(|v| (v, row)))
        .max()
        .map(|(_, row)| row))
}

impl Entry {
    /// The dataflow of a continuous query that has not failed.
    fn running(&self) -> Option<&Dataflow> {
        match &self.kind {
            EntryKind::MaterializedView {
                dataflow,
                failure: None,
                ..
            } => Some(dataflow),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            EntryKind::Table { .. } => "table",
            EntryKind::MaterializedView { .. } => "materialized view",
            EntryKind::View => "view",
        }
    }
}

/// Everything guarded by the database lock.
#[derive(Default)]
pub(crate) struct Catalog {
    pub entries: BTreeMap<String, Entry>,
    next_id: u64,
    /// Counts catalog changes: a statement changed the catalog if it moved.
    pub generation: u64,
    /// The data directory, for a durable database.
    pub durable: Option<Arc<Durable>>,
    /// The id the next durable table gets in the data directory.
    pub next_table_id: u64,
    /// The sequence number of the next catalog record.
    pub next_seq: u64,
    /// True while the catalog is being restored from the data directory.
    pub replaying: bool,
    /// Durable tables dropped by the current statement, whose rows are deleted with its
    /// catalog record.
    pub dropped_tables: Vec<u64>,
    /// The last checkpoint while the catalog is being restored.
    pub restored: Option<crate::durability::RestoredCheckpoint>,
    /// Source batches ingested, and how many had been at the last checkpoint.
    pub ingested: u64,
    pub ingested_at_checkpoint: u64,
    /// Clients following relations' changes (`SUBSCRIBE`).
    pub subscriptions: crate::subscribe::Subscriptions,
    /// Instances of each partitionable operator of a new continuous query (see
    /// `sluice_runtime::dataflow`); 0 means one.
    pub partitions: usize,
}

/// A Sluice database: shared by all sessions.
pub struct Database {
    pub(crate) context: SessionContext,
    pub(crate) catalog: CatalogLock,
    /// The data directory of a durable database (see `durability`).
    pub(crate) durable: Option<Arc<Durable>>,
    /// Serializes statements that may change the catalog in a durable database, so the
    /// catalog log records them in the order they took effect.
    pub(crate) ddl: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").finish_non_exhaustive()
    }
}

/// How often processing-time windows are checked against the wall clock.
const CLOCK_TICK: std::time::Duration = std::time::Duration::from_millis(200);

/// Fire processing-time windows on the wall clock while their inputs are quiet: every
/// [`CLOCK_TICK`] the continuous queries that have such windows are ticked (see
/// [`Catalog::tick`]), under the catalog lock like any ingested batch. The task holds the
/// database weakly and ends with it; without a Tokio runtime (nothing runs queries) there is
/// no task.
fn spawn_clock(database: &Arc<Database>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(database);
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(CLOCK_TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            let Some(database) = weak.upgrade() else {
                break;
            };
            let ticking = database.catalog.read().await.ticking();
            if ticking.is_empty() {
                continue;
            }
            let mut catalog = database.catalog.write().await;
            for name in ticking {
                if let Err(error) = catalog.tick(&name) {
                    let message = format!("firing processing-time windows failed: {error}");
                    tracing::warn!(query = %name, %message);
                    catalog.fail(&name, &message);
                }
            }
        }
    });
}

/// Operator instances per continuous query unless configured: `SLUICE_WORKERS`, else 1.
/// (One until the exchange pays off for every query: on 2 cores it speeds up q5, q7, q9 and
/// q16 but slows q4 and q20, see docs/benchmarks.md.)
fn default_partitions() -> usize {
    std::env::var("SLUICE_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 64)
}

impl Database {
    /// Run new continuous queries with `workers` instances of each partitionable operator.
    pub async fn set_workers(&self, workers: usize) {
        self.catalog.write().await.partitions = workers.clamp(1, 64);
    }

    /// Instances of each partitionable operator of a new continuous query.
    pub async fn workers(&self) -> usize {
        self.catalog.read().await.partitions.max(1)
    }

    /// An empty in-memory database.
    pub fn new() -> Arc<Self> {
        Self::with_durable(None)
    }

    /// An empty database, durable in `durable` if given (see [`Database::open`]).
    pub(crate) fn with_durable(durable: Option<Arc<Durable>>) -> Arc<Self> {
        let config = SessionConfig::new()
            .with_information_schema(false)
            .with_target_partitions(2)
            .with_default_catalog_and_schema(DEFAULT_CATALOG, crate::names::PUBLIC)
            .set_str("datafusion.sql_parser.dialect", "PostgreSQL")
            .set_str("datafusion.execution.time_zone", "+00:00")
            .with_option_extension(crate::system_catalog::SessionOptions::default());
        // Session windows are logical extension nodes: the query planner expands them into
        // their batch meaning before physical planning.
        let mut builder = datafusion::execution::SessionStateBuilder::new()
            .with_config(config)
            .with_default_features();
        // `n * INTERVAL ..`, which DataFusion lacks.
        builder
            .expr_planners()
            .get_or_insert_with(Vec::new)
            .insert(0, crate::interval_arith::planner());
        let state = builder
            .with_query_planner(Arc::new(
                crate::streaming::session_window::SessionQueryPlanner,
            ))
            // `CROSS JOIN UNNEST(..)`: rows' fields as columns, the lateral join removed.
            .with_relation_planners(vec![Arc::new(crate::lateral_unnest::UnnestRowsPlanner)])
            .with_analyzer_rules(
                std::iter::once(Arc::new(crate::lateral_unnest::LateralUnnest)
                    as Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync>)
                .chain(datafusion::optimizer::Analyzer::new().rules)
                // After type coercion: `m[key]` with a key of another type than m's keys.
                .chain(std::iter::once(crate::map_keys::rule()))
                .collect(),
            )
            .build();
        let context = SessionContext::new_with_state(state);
        crate::streaming::windows::register(&context);
        crate::streaming::functions::register(&context);
        crate::streaming::json::register(&context);
        // The status table; each statement that reads it refreshes it (see Session::query).
        if let Ok(table) = crate::streaming::status::queries_table(&Catalog::default()) {
            let _ = context.register_table(crate::streaming::status::QUERIES, Arc::new(table));
        }
        // System catalogs: pg_catalog, information_schema and the catalog functions read
        // this database's catalog (see `system_catalog`).
        let database = Arc::new_cyclic(|database| {
            crate::system_catalog::install(&context, database.clone());
            Self {
                context,
                catalog: CatalogLock::new(Catalog {
                    durable: durable.clone(),
                    next_table_id: 1,
                    next_seq: 1,
                    partitions: default_partitions(),
                    ..Catalog::default()
                }),
                durable,
                ddl: Arc::new(tokio::sync::Mutex::new(())),
            }
        });
        spawn_clock(&database);
        database
    }

    /// Names of all relations with their kind, in creation order.
    pub async fn relations(&self) -> Vec<(String, &'static str)> {
        let catalog = self.catalog.read().await;
        let mut entries: Vec<(&String, &Entry)> = catalog.entries.iter().collect();
        entries.sort_by_key(|(_, e)| e.id);
        entries
            .into_iter()
            .map(|(name, e)| (name.clone(), e.kind_name()))
            .collect()
    }

    /// The key columns of a stored table or materialized view (its primary key, or the unique
    /// key of a view's result) and how many point lookups its key index has served.
    pub async fn key_index(&self, name: &str) -> Option<(Vec<String>, u64)> {
        let catalog = self.catalog.read().await;
        let store = catalog.store(name)?;
        let schema = store.schema();
        let columns = store
            .primary_key()
            .iter()
            .map(|&i| schema.field(i).name().clone())
            .collect();
        Some((columns, store.index_lookups()))
    }

    /// How many rows of a stored table or materialized view are on local disk (beyond the
    /// memory budget).
    pub async fn spilled_rows(&self, name: &str) -> Option<usize> {
        let catalog = self.catalog.read().await;
        Some(catalog.store(name)?.spilled_rows())
    }

    /// The defining query of a view or materialized view.
    pub async fn definition(&self, name: &str) -> Option<String> {
        let catalog = self.catalog.read().await;
        catalog.entries.get(name).and_then(|e| e.definition.clone())
    }

    pub(crate) fn register(&self, name: &str, provider: Arc<dyn TableProvider>) -> Result<()> {
        self.context
            .register_table(self.reference(name), provider)
            .map_err(|e| PlanError::from_datafusion(e, ""))?;
        Ok(())
    }

    pub(crate) fn deregister(&self, name: &str) -> Result<()> {
        self.context
            .deregister_table(self.reference(name))
            .map_err(|e| PlanError::from_datafusion(e, ""))?;
        Ok(())
    }

    /// The DataFusion reference of catalog key `name` (see [`crate::names`]).
    pub(crate) fn reference(&self, name: &str) -> TableReference {
        crate::names::reference(name, |schema| self.schema_exists(schema))
    }

    /// Whether user schema `name` exists (`public` and the system schemas are not user
    /// schemas).
    pub(crate) fn schema_exists(&self, name: &str) -> bool {
        !crate::names::is_default(name)
            && !crate::names::SYSTEM_SCHEMAS.contains(&name)
            && self
                .context
                .catalog(DEFAULT_CATALOG)
                .is_some_and(|catalog| catalog.schema(name).is_some())
    }

    /// Whether a relation has catalog key `name` in a user schema (DataFusion's view, which
    /// needs no catalog lock).
    pub(crate) fn user_relation_exists(&self, name: &str) -> bool {
        let TableReference::Partial { schema, table } = self.reference(name) else {
            return false;
        };
        self.context
            .catalog(DEFAULT_CATALOG)
            .and_then(|catalog| catalog.schema(&schema))
            .is_some_and(|schema| schema.table_exist(&table))
    }

    /// Create user schema `name`; false if it exists.
    pub(crate) fn create_schema(&self, name: &str) -> Result<bool> {
        if crate::names::is_default(name) || crate::names::SYSTEM_SCHEMAS.contains(&name) {
            return Ok(false);
        }
        crate::system_catalog::create_schema(&self.context, name)
            .map_err(|e| PlanError::from_datafusion(e, ""))
    }

    /// Drop user schema `name`, which holds no relations.
    pub(crate) fn drop_schema(&self, name: &str) -> Result<()> {
        crate::system_catalog::drop_schema(&self.context, name)
            .map_err(|e| PlanError::from_datafusion(e, ""))
    }
}

/// DataFusion's name of the one catalog (PostgreSQL's database).
const DEFAULT_CATALOG: &str = "sluice";

impl Catalog {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.generation += 1;
        self.next_id
    }

    /// In a durable database, keep `store`'s rows in the data directory under a new table id
    /// (loading the rows already there when the catalog is being restored).
    pub fn make_durable(&mut self, mut store: RelationStore) -> Result<RelationStore> {
        if let Some(durable) = &self.durable {
            let id = self.next_table_id.max(1);
            self.next_table_id = id + 1;
            store.make_durable(durable.clone(), id)?;
        }
        Ok(store)
    }

    pub fn check_new_name(&self, name: &str) -> Result<()> {
        if let Some(entry) = self.entries.get(name) {
            return Err(PlanError::DuplicateObject(format!(
                "relation \"{name}\" already exists (a {})",
                entry.kind_name()
            )));
        }
        Ok(())
    }

    /// Names of entries that depend directly on `name`.
    pub fn dependents(&self, name: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, e)| e.depends_on.contains(name))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Refuse to read a materialized view whose maintenance failed.
    pub fn check_readable(&self, names: &[String]) -> Result<()> {
        for name in names {
            if let Some(Entry {
                kind:
                    EntryKind::MaterializedView {
                        failure: Some(message),
                        ..
                    },
                ..
            }) = self.entries.get(name)
            {
                return Err(PlanError::ViewFailed {
                    view: name.clone(),
                    message: message.clone(),
                });
            }
        }
        Ok(())
    }

    pub fn add_table(&mut self, name: &str, store: Arc<RelationStore>) {
        let id = self.next_id();
        self.entries.insert(
            name.to_string(),
            Entry {
                id,
                kind: EntryKind::Table { store },
                depends_on: BTreeSet::new(),
                definition: None,
                event_time: None,
                watermark: None,
                time_attrs: Vec::new(),
                connector: None,
                table_definition: None,
                sink: None,
                tasks: Vec::new(),
                source_counters: Vec::new(),
                source_offsets: BTreeMap::new(),
            },
        );
    }

    pub fn add_view(&mut self, name: &str, depends_on: BTreeSet<String>, definition: String) {
        let id = self.next_id();
        self.entries.insert(
            name.to_string(),
            Entry {
                id,
                kind: EntryKind::View,
                depends_on,
                definition: Some(definition),
                event_time: None,
                watermark: None,
                time_attrs: Vec::new(),
                connector: None,
                table_definition: None,
                sink: None,
                tasks: Vec::new(),
                source_counters: Vec::new(),
                source_offsets: BTreeMap::new(),
            },
        );
    }

    pub fn add_materialized_view(
        &mut self,
        name: &str,
        store: Arc<RelationStore>,
        dataflow: Dataflow,
        time_attrs: TimeAttrs,
        depends_on: BTreeSet<String>,
        definition: String,
    ) {
        let id = self.next_id();
        self.entries.insert(
            name.to_string(),
            Entry {
                id,
                kind: EntryKind::MaterializedView {
                    store,
                    dataflow: Box::new(dataflow),
                    failure: None,
                    target: None,
                },
                depends_on,
                definition: Some(definition),
                event_time: None,
                watermark: None,
                time_attrs,
                connector: None,
                table_definition: None,
                sink: None,
                tasks: Vec::new(),
                source_counters: Vec::new(),
                source_offsets: BTreeMap::new(),
            },
        );
    }

    /// A fresh name for a job writing into `target`.
    pub fn next_job_name(&mut self, target: &str) -> String {
        let id = self.next_id() + 1;
        format!("__insert_{id}_into_{target}")
    }

    /// Register a continuous `INSERT INTO target SELECT ..`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_job(
        &mut self,
        name: &str,
        store: Arc<RelationStore>,
        dataflow: Dataflow,
        time_attrs: TimeAttrs,
        depends_on: BTreeSet<String>,
        target: &str,
        definition: String,
    ) {
        self.add_materialized_view(name, store, dataflow, time_attrs, depends_on, definition);
        if let Some(EntryKind::MaterializedView { target: slot, .. }) =
            self.entries.get_mut(name).map(|e| &mut e.kind)
        {
            *slot = Some(target.to_string());
        }
    }

    /// Compile an optimized plan into a dataflow over this catalog's relations, with the
    /// configured parallelism.
    pub fn compile(&self, optimized: &LogicalPlan) -> Result<(Dataflow, TimeAttrs)> {
        let (mut dataflow, attrs) = incremental::compile_streaming(
            optimized,
            &|relation| self.relation_attrs(relation),
            &|relation| self.is_append_only(relation),
        )?;
        dataflow.parallelize(self.partitions)?;
        Ok((dataflow, attrs))
    }

    /// Time attributes of a relation's columns, if it has any.
    pub fn relation_attrs(&self, name: &str) -> Option<TimeAttrs> {
        let entry = self.entries.get(name)?;
        if let Some(event_time) = &entry.event_time {
            let columns = self.store(name)?.schema().fields().len();
            let mut attrs = entry.time_attrs.clone();
            attrs.resize(columns, None);
            *attrs.get_mut(event_time.column)? = Some(TimeAttr::EventTime);
            return Some(attrs);
        }
        entry
            .time_attrs
            .iter()
            .any(Option::is_some)
            .then(|| entry.time_attrs.clone())
    }

    /// Whether a relation only ever receives insertions: a source stream that is not a
    /// changelog.
    pub fn is_append_only(&self, name: &str) -> bool {
        self.entries
            .get(name)
            .and_then(|e| e.connector.as_ref())
            .is_some_and(|c| c.is_append_only_source())
    }

    /// Whether a relation declares event time (`WATERMARK FOR`).
    pub fn has_event_time(&self, name: &str) -> bool {
        self.entries
            .get(name)
            .is_some_and(|e| e.event_time.is_some())
    }

    /// The current watermark of a relation: its own for a table, its dataflow's output
    /// watermark for a materialized view.
    pub fn watermark(&self, name: &str) -> Option<i64> {
        let entry = self.entries.get(name)?;
        match (&entry.event_time, &entry.kind) {
            (Some(_), _) => entry.watermark,
            (None, EntryKind::MaterializedView { dataflow, .. }) => dataflow.output_watermark(),
            _ => None,
        }
    }

    /// The store of a stored relation.
    pub fn store(&self, name: &str) -> Option<Arc<RelationStore>> {
        match &self.entries.get(name)?.kind {
            EntryKind::Table { store } | EntryKind::MaterializedView { store, .. } => {
                Some(store.clone())
            }
            EntryKind::View => None,
        }
    }

    /// Apply `changes` to stored relation `relation` and to every materialized view that
    /// depends on it, transitively, in creation order.
    pub fn apply_and_propagate(&mut self, relation: &str, changes: ChangeBatch) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let store = self
            .store(relation)
            .ok_or_else(|| PlanError::Internal(format!("no store for {relation}")))?;
        store.apply(&changes)?;
        self.propagate(relation, &changes)?;
        let candidate = match self
            .entries
            .get(relation)
            .and_then(|e| e.event_time.as_ref())
        {
            Some(event_time) => event_time.candidate(&changes)?,
            None => None,
        };
        if let Some(candidate) = candidate {
            self.advance_watermark(relation, candidate)?;
        }
        Ok(())
    }

    /// Move the watermark of `relation` forward to `watermark` (nanoseconds) and deliver it
    /// to every materialized view reading it, transitively; views emit what it closes.
    pub fn advance_watermark(&mut self, relation: &str, watermark: i64) -> Result<()> {
        if let Some(entry) = self.entries.get_mut(relation) {
            if entry.event_time.is_some() || entry.watermark.is_some() {
                if entry.watermark.is_some_and(|w| w >= watermark) {
                    return Ok(());
                }
                entry.watermark = Some(watermark);
            }
        }
        self.subscriptions.advance_watermark(relation, watermark);
        let mut readers: Vec<(u64, String)> = self
            .entries
            .iter()
            .filter(|(_, entry)| {
                entry
                    .running()
                    .is_some_and(|dataflow| dataflow.relations().any(|r| r == relation))
            })
            .map(|(name, entry)| (entry.id, name.clone()))
            .collect();
        readers.sort();
        for (_, name) in readers {
            self.advance_reader_watermark(&name, relation, watermark)?;
        }
        Ok(())
    }

    /// Deliver a watermark of `relation` to the dataflow of `name` only.
    fn advance_reader_watermark(
        &mut self,
        name: &str,
        relation: &str,
        watermark: i64,
    ) -> Result<()> {
        let Some(dataflow) = self.running_dataflow(name) else {
            return Ok(());
        };
        let before = dataflow.output_watermark();
        match dataflow.advance_watermark(relation, watermark) {
            Ok(delta) => {
                let after = dataflow.output_watermark();
                self.route(name, delta)?;
                if let Some(after) = after {
                    if before.is_none_or(|b| b < after) {
                        self.advance_watermark(name, after)?;
                    }
                }
            }
            Err(error) => {
                let message = PlanError::from(error).to_string();
                tracing::warn!(view = %name, %message, "materialized view maintenance failed");
                self.mark_failed(name, &message);
            }
        }
        Ok(())
    }

    /// Changes a source produced for `relation`, read by the dataflow of `name` only (each
    /// continuous query has its own sources), then the source's new watermark, if any.
    pub fn ingest(
        &mut self,
        name: &str,
        relation: &str,
        changes: &ChangeBatch,
        watermark: Option<i64>,
    ) -> Result<()> {
        let Some(dataflow) = self.running_dataflow(name) else {
            return Ok(());
        };
        if !changes.is_empty() {
            match dataflow.push(relation, changes) {
                Ok(delta) => self.route(name, delta)?,
                Err(error) => {
                    let message = PlanError::from(error).to_string();
                    tracing::warn!(view = %name, %message, "continuous query failed");
                    self.mark_failed(name, &message);
                    return Ok(());
                }
            }
        }
        if let Some(watermark) = watermark {
            self.advance_reader_watermark(name, relation, watermark)?;
        }
        Ok(())
    }

    /// The source of `relation` feeding the query `name` became idle (or active again): its
    /// watermark no longer holds back the query's other inputs.
    pub fn set_source_idle(&mut self, name: &str, relation: &str, idle: bool) -> Result<()> {
        let Some(dataflow) = self.running_dataflow(name) else {
            return Ok(());
        };
        let before = dataflow.output_watermark();
        let delta = dataflow.set_idle(relation, idle)?;
        let after = dataflow.output_watermark();
        self.route(name, delta)?;
        if let Some(after) = after {
            if before.is_none_or(|b| b < after) {
                self.advance_watermark(name, after)?;
            }
        }
        Ok(())
    }

    /// The dataflow of the continuous query `name`, unless it failed.
    fn running_dataflow(&mut self, name: &str) -> Option<&mut Dataflow> {
        match self.entries.get_mut(name).map(|e| &mut e.kind) {
            Some(EntryKind::MaterializedView {
                dataflow,
                failure: None,
                ..
            }) => Some(&mut **dataflow),
            _ => None,
        }
    }

    /// The running continuous queries with processing-time windows.
    fn ticking(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.running().is_some_and(Dataflow::wants_ticks))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The wall clock advanced: deliver what the processing-time windows of `name` release
    /// (windows whose end the clock passed, although no input arrived to close them).
    fn tick(&mut self, name: &str) -> Result<()> {
        let Some(dataflow) = self.running_dataflow(name) else {
            return Ok(());
        };
        let delta = dataflow.tick()?;
        self.route(name, delta)
    }

    /// The output changes of the dataflow of `name`: applied to its store and propagated, or,
    /// for a job, delivered to its target table.
    fn route(&mut self, name: &str, delta: ChangeBatch) -> Result<()> {
        if delta.is_empty() {
            return Ok(());
        }
        let Some(EntryKind::MaterializedView { store, target, .. }) =
            self.entries.get(name).map(|e| &e.kind)
        else {
            return Ok(());
        };
        match target.clone() {
            Some(target) => self.deliver(&target, delta),
            None => {
                let store = store.clone();
                if let Err(error) = store.apply(&delta) {
                    let message = error.to_string();
                    tracing::warn!(view = %name, %message, "materialized view maintenance failed");
                    self.mark_failed(name, &message);
                    return Ok(());
                }
                self.propagate(name, &delta)
            }
        }
    }

    /// Write changes into table `target`: to its sink connector, and, for stored tables, into
    /// its rows (upsert by primary key) and on to the views reading it.
    pub fn deliver(&mut self, target: &str, delta: ChangeBatch) -> Result<()> {
        let Some(entry) = self.entries.get(target) else {
            return Err(PlanError::UndefinedTable(format!(
                "relation \"{target}\" does not exist"
            )));
        };
        if let Some(sink) = &entry.sink {
            if sink.send(delta.clone()).is_err() {
                tracing::warn!(table = %target, "sink task has stopped; changes dropped");
            }
        }
        let stored = entry.connector.as_ref().is_none_or(|c| c.is_stored());
        if !stored {
            return Ok(());
        }
        let Some(store) = self.store(target) else {
            return Ok(());
        };
        let effective = store.upsert(&delta)?;
        self.propagate(target, &effective)
    }

    fn propagate(&mut self, relation: &str, changes: &ChangeBatch) -> Result<()> {
        // Every committed change of a stored relation passes here.
        self.subscriptions.record(relation, changes);
        let mut readers: Vec<(u64, String)> = self
            .entries
            .iter()
            .filter_map(|(name, entry)| match &entry.kind {
                EntryKind::MaterializedView { dataflow, .. }
                    if dataflow.relations().any(|r| r == relation) =>
                {
                    Some((entry.id, name.clone()))
                }
                _ => None,
            })
            .collect();
        readers.sort();
        for (_, name) in readers {
            let Some(entry) = self.entries.get_mut(&name) else {
                continue;
            };
            let EntryKind::MaterializedView {
                dataflow, failure, ..
            } = &mut entry.kind
            else {
                continue;
            };
            if failure.is_some() {
                continue;
            }
            match dataflow.push(relation, changes) {
                Ok(delta) => self.route(&name, delta)?,
                Err(error) => {
                    let message = PlanError::from(error).to_string();
                    tracing::warn!(view = %name, %message, "materialized view maintenance failed");
                    self.mark_failed(&name, &message);
                }
            }
        }
        Ok(())
    }

    /// The end of a commit (the write lock is being released): subscribers get the
    /// changes it made.
    pub(crate) fn commit_subscriptions(&mut self) {
        if self.subscriptions.is_empty() {
            return;
        }
        let entries = &self.entries;
        self.subscriptions
            .commit(|name| match entries.get(name).map(|e| &e.kind) {
                Some(EntryKind::MaterializedView {
                    failure: Some(message),
                    ..
                }) => Some(format!("materialized view \"{name}\" failed: {message}")),
                _ => None,
            });
    }

    /// Mark a continuous query and everything reading it as failed.
    pub fn fail(&mut self, name: &str, message: &str) {
        self.mark_failed(name, message);
    }

    /// Mark a view and everything reading it as failed.
    fn mark_failed(&mut self, name: &str, message: &str) {
        let mut pending = vec![(name.to_string(), message.to_string())];
        let mut seen = HashSet::new();
        while let Some((name, message)) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            for dependent in self.dependents(&name) {
                pending.push((dependent, format!("depends on failed view \"{name}\"")));
            }
            if let Some(Entry {
                kind: EntryKind::MaterializedView { failure, .. },
                ..
            }) = self.entries.get_mut(&name)
            {
                *failure = Some(message);
            }
        }
    }
}

/// Build the schema of a stored relation, rejecting duplicate column names.
pub(crate) fn relation_schema(plan: &LogicalPlan, kind: &str) -> Result<SchemaRef> {
    let schema: Schema = plan.schema().as_arrow().clone();
    let mut names = HashSet::new();
    for field in schema.fields() {
        if !names.insert(field.name().clone()) {
            return Err(PlanError::DuplicateObject(format!(
                "column \"{}\" specified more than once in {kind}; give the columns distinct names with AS",
                field.name()
            )));
        }
    }
    Ok(Arc::new(schema))
}

/// Create the store and dataflow of a materialized view over `plan` and fill it from the
/// current contents of the relations it reads.
pub(crate) fn build_materialized_view(
    catalog: &Catalog,
    name: &str,
    plan: &LogicalPlan,
    optimized: &LogicalPlan,
) -> Result<(Arc<RelationStore>, Dataflow, TimeAttrs)> {
    let (mut dataflow, time_attrs) = catalog.compile(optimized)?;
    let schema = declared_schema(plan, &dataflow.schema())?;
    // A unique key the plan shows becomes the view's index: point lookups read one row.
    let key = incremental::unique_key(optimized, &|relation| {
        catalog
            .store(relation)
            .map(|store| store.primary_key().to_vec())
            .filter(|key| !key.is_empty())
    })
    .filter(|key| key.iter().all(|&k| k < schema.fields().len()))
    .unwrap_or_default();
    let store = Arc::new(RelationStore::new(
        name.to_string(),
        StoredKind::MaterializedView,
        schema.clone(),
        key,
    )?);
    let mut deltas = vec![dataflow.initialize()?];
    let relations: BTreeSet<String> = dataflow.relations().map(str::to_string).collect();
    for relation in relations {
        let source = catalog.store(&relation).ok_or_else(|| {
            PlanError::UndefinedTable(format!("relation \"{relation}\" does not exist"))
        })?;
        deltas.push(dataflow.push(&relation, &source.contents_as_changes()?)?);
    }
    for relation in dataflow
        .relations()
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
    {
        if catalog.has_event_time(&relation) {
            dataflow.declare_event_time(&relation);
        }
        if let Some(watermark) = catalog.watermark(&relation) {
            deltas.push(dataflow.advance_watermark(&relation, watermark)?);
        }
    }
    // The steps' changes cancel each other in part (the first input's rows make groups the
    // second input's rows update): consolidated, a group's intermediate row never reaches
    // the store, whose key would see it twice.
    let output = dataflow.schema();
    let initial = ChangeBatch::concat(&output, &deltas)?
        .consolidate(&sluice_storage::RowCodec::for_schema(&output)?)?;
    store.apply(&initial)?;
    Ok((store, dataflow, time_attrs))
}

/// The columns a materialized view over `plan` has, without building it.
pub(crate) fn materialized_view_schema(
    catalog: &Catalog,
    plan: &LogicalPlan,
    optimized: &LogicalPlan,
) -> Result<SchemaRef> {
    let (dataflow, _) = incremental::compile_streaming(
        optimized,
        &|relation| catalog.relation_attrs(relation),
        &|relation| catalog.is_append_only(relation),
    )?;
    declared_schema(plan, &dataflow.schema())
}

/// Names as declared, types as the optimizer resolved them (e.g. a UNION ALL of INT and
/// BIGINT branches is BIGINT once coerced).
fn declared_schema(plan: &LogicalPlan, compiled: &SchemaRef) -> Result<SchemaRef> {
    let declared = relation_schema(plan, "a materialized view")?;
    Ok(if compiled.fields().len() == declared.fields().len() {
        let fields: Vec<Field> = declared
            .fields()
            .iter()
            .zip(compiled.fields())
            .map(|(name, typed)| {
                // Metadata as declared too: a JSON column stays JSON (`jsonb` to clients).
                let mut metadata = name.metadata().clone();
                metadata.extend(typed.metadata().clone());
                Field::new(name.name(), typed.data_type().clone(), typed.is_nullable())
                    .with_metadata(metadata)
            })
            .collect();
        Arc::new(Schema::new(fields))
    } else {
        declared
    })
}

/// Wrap a view's plan with column aliases `CREATE VIEW v (a, b) AS ...`.
pub(crate) fn alias_columns(plan: LogicalPlan, names: &[String]) -> Result<LogicalPlan> {
    if names.is_empty() {
        return Ok(plan);
    }
    let fields = plan.schema().columns();
    if names.len() > fields.len() {
        return Err(PlanError::Plan(format!(
            "CREATE VIEW specifies more column names ({}) than the query has columns ({})",
            names.len(),
            fields.len()
        )));
    }
    let exprs: Vec<Expr> = fields
        .into_iter()
        .enumerate()
        .map(|(i, column)| {
            let name = names.get(i).cloned().unwrap_or_else(|| column.name.clone());
            Expr::Column(column).alias(name)
        })
        .collect();
    LogicalPlanBuilder::from(plan)
        .project(exprs)
        .and_then(|b| b.build())
        .map_err(|e| PlanError::from_datafusion(e, ""))
}

/// Make duplicate output column names unique as Calcite (hence Flink) does for a view's
/// row type: a repeated name gets the first free suffix `0`, `1`, ... (`SELECT *` over a
/// join of two tables with a `customerid` column yields `customerid` and `customerid0`).
pub(crate) fn uniquify_columns(plan: LogicalPlan) -> Result<LogicalPlan> {
    let fields = plan.schema().columns();
    let mut used: HashSet<String> = HashSet::new();
    let mut names = Vec::with_capacity(fields.len());
    let mut renamed = false;
    for column in &fields {
        let mut name = column.name.clone();
        if used.contains(&name.to_lowercase()) {
            renamed = true;
            let mut suffix = 0_usize;
            while used.contains(&format!("{}{suffix}", column.name).to_lowercase()) {
                suffix += 1;
            }
            name = format!("{}{suffix}", column.name);
        }
        used.insert(name.to_lowercase());
        names.push(name);
    }
    if renamed {
        alias_columns(plan, &names)
    } else {
        Ok(plan)
    }
}

/// Register a logical view.
pub(crate) fn view_provider(plan: LogicalPlan, definition: &str) -> Arc<dyn TableProvider> {
    Arc::new(ViewTable::new(plan, Some(definition.to_string())))
}

pub(crate) fn stored_provider(store: Arc<RelationStore>) -> Arc<dyn TableProvider> {
    Arc::new(StoredTableProvider::new(store))
}

/// Check NOT NULL columns of `batch` against `schema`.
pub(crate) fn check_not_null(table: &str, schema: &SchemaRef, batch: &RecordBatch) -> Result<()> {
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(PlanError::NotNullViolation(format!(
                "null value in column \"{}\" of relation \"{table}\" violates not-null constraint",
                field.name()
            )));
        }
    }
    Ok(())
}

/// The UPDATE plan DataFusion builds is `Projection(new values) <- Filter <- Scan`. Rewrite
/// it to output the old row followed by the new row, so the change can be applied as a
/// delete plus an insert.
pub(crate) fn update_old_and_new(dml: &DmlStatement, table_columns: usize) -> Result<LogicalPlan> {
    let LogicalPlan::Projection(projection) = dml.input.as_ref() else {
        return Err(PlanError::Unsupported("this form of UPDATE".into()));
    };
    let source = projection.input.as_ref().clone();
    let source_columns = source.schema().columns();
    if source_columns.len() < table_columns {
        return Err(PlanError::Unsupported("this form of UPDATE".into()));
    }
    let mut exprs: Vec<Expr> = source_columns
        .iter()
        .take(table_columns)
        .enumerate()
        .map(|(i, c)| Expr::Column(c.clone()).alias(format!("__old_{i}")))
        .collect();
    for (i, expr) in projection.expr.iter().enumerate() {
        let inner = match expr {
            Expr::Alias(alias) => alias.expr.as_ref().clone(),
            other => other.clone(),
        };
        exprs.push(inner.alias(format!("__new_{i}")));
    }
    LogicalPlanBuilder::from(source)
        .project(exprs)
        .and_then(|b| b.build())
        .map_err(|e| PlanError::from_datafusion(e, ""))
}

/// Whether a DML targets inserts, updates or deletes.
pub(crate) fn write_op_name(op: &WriteOp) -> &'static str {
    match op {
        WriteOp::Insert(_) => "INSERT",
        WriteOp::Update => "UPDATE",
        WriteOp::Delete => "DELETE",
        WriteOp::Ctas => "CREATE TABLE AS",
        WriteOp::Truncate => "TRUNCATE",
        _ => "MERGE",
    }
}

/// Give a table's primary-key columns NOT NULL.
pub(crate) fn with_not_null(schema: &Schema, columns: &[usize]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let field = f.as_ref().clone();
            if columns.contains(&i) {
                field.with_nullable(false)
            } else {
                field
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}
