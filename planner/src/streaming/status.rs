//! `sluice_queries`: one row per running continuous query (materialized views and
//! `INSERT INTO` jobs) with its state size, watermark, late rows, source rows and bad rows,
//! built from the catalog when a statement reads it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;

use sluice_runtime::connectors::SourceCounters;

use crate::database::{Catalog, EntryKind};
use crate::error::Result;

/// The name of the status table.
pub const QUERIES: &str = "sluice_queries";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("target", DataType::Utf8, true),
        Field::new("state_rows", DataType::UInt64, false),
        Field::new("spilled_entries", DataType::UInt64, false),
        Field::new(
            "watermark",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("+00:00".into())),
            true,
        ),
        Field::new("late_rows", DataType::UInt64, false),
        Field::new("source_rows", DataType::UInt64, false),
        Field::new("bad_rows", DataType::UInt64, false),
        Field::new("status", DataType::Utf8, false),
    ]))
}

/// The state of one continuous query (a row of `sluice_queries`).
#[derive(Debug, Clone)]
pub struct QueryStatus {
    pub name: String,
    /// `materialized view` or `insert job`.
    pub kind: &'static str,
    /// The table an `INSERT INTO` job writes.
    pub target: Option<String>,
    /// Rows or groups held in operator state.
    pub state_rows: u64,
    /// Entries of operator state (join keys, groups) on disk now, over the memory budget.
    pub spilled_entries: u64,
    /// The output watermark, nanoseconds since the epoch.
    pub watermark: Option<i64>,
    pub late_rows: u64,
    pub source_rows: u64,
    pub bad_rows: u64,
    /// Why the query stopped, if it failed.
    pub failure: Option<String>,
}

/// Every continuous query's status, in creation order.
pub(crate) fn query_statuses(catalog: &Catalog) -> Vec<QueryStatus> {
    let mut entries: Vec<_> = catalog.entries.iter().collect();
    entries.sort_by_key(|(_, e)| e.id);
    let mut out = Vec::new();
    for (name, entry) in entries {
        let EntryKind::MaterializedView {
            dataflow,
            failure,
            target,
            store,
        } = &entry.kind
        else {
            continue;
        };
        let total = |field: fn(&SourceCounters) -> &AtomicU64| {
            entry
                .source_counters
                .iter()
                .map(|(_, c)| field(c).load(Ordering::Relaxed))
                .sum::<u64>()
        };
        out.push(QueryStatus {
            name: name.clone(),
            kind: if target.is_some() {
                "insert job"
            } else {
                "materialized view"
            },
            target: target.clone(),
            state_rows: dataflow.state_rows() as u64,
            // The operators' entries on disk and the view's own rows there.
            spilled_entries: (dataflow.spilled_entries() + store.spilled_rows()) as u64,
            watermark: dataflow
                .output_watermark()
                .filter(|w| *w != i64::MAX && *w != i64::MIN),
            late_rows: dataflow.late_rows(),
            source_rows: total(|c| &c.rows),
            bad_rows: total(|c| &c.bad_rows),
            failure: failure.clone(),
        });
    }
    out
}

/// The status table's current contents.
pub(crate) fn queries_table(catalog: &Catalog) -> Result<MemTable> {
    let statuses = query_statuses(catalog);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            statuses.iter().map(|s| s.name.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            statuses.iter().map(|s| s.kind),
        )),
        Arc::new(StringArray::from(
            statuses
                .iter()
                .map(|s| s.target.clone())
                .collect::<Vec<_>>(),
        )),
        Arc::new(UInt64Array::from_iter_values(
            statuses.iter().map(|s| s.state_rows),
        )),
        Arc::new(UInt64Array::from_iter_values(
            statuses.iter().map(|s| s.spilled_entries),
        )),
        Arc::new(
            TimestampNanosecondArray::from(
                statuses.iter().map(|s| s.watermark).collect::<Vec<_>>(),
            )
            .with_timezone("+00:00"),
        ),
        Arc::new(UInt64Array::from_iter_values(
            statuses.iter().map(|s| s.late_rows),
        )),
        Arc::new(UInt64Array::from_iter_values(
            statuses.iter().map(|s| s.source_rows),
        )),
        Arc::new(UInt64Array::from_iter_values(
            statuses.iter().map(|s| s.bad_rows),
        )),
        Arc::new(StringArray::from_iter_values(statuses.iter().map(
            |s| match &s.failure {
                Some(message) => format!("failed: {message}"),
                None => "running".to_string(),
            },
        ))),
    ];
    let schema = schema();
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    MemTable::try_new(schema, vec![vec![batch]])
        .map_err(|e| crate::error::PlanError::from_datafusion(e, ""))
}
