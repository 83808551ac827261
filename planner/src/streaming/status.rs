//! `sluice_queries`: one row per running continuous query (materialized views and
//! `INSERT INTO` jobs) with its state size, watermark, late rows, source rows and bad rows,
//! built from the catalog when a statement reads it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;

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

/// The status table's current contents.
pub(crate) fn queries_table(catalog: &Catalog) -> Result<MemTable> {
    let mut entries: Vec<_> = catalog.entries.iter().collect();
    entries.sort_by_key(|(_, e)| e.id);
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    let mut targets = Vec::new();
    let mut state = Vec::new();
    let mut watermarks = Vec::new();
    let mut late = Vec::new();
    let mut source_rows = Vec::new();
    let mut bad_rows = Vec::new();
    let mut statuses = Vec::new();
    for (name, entry) in entries {
        let EntryKind::MaterializedView {
            dataflow,
            failure,
            target,
            ..
        } = &entry.kind
        else {
            continue;
        };
        names.push(name.clone());
        kinds.push(if target.is_some() {
            "insert job"
        } else {
            "materialized view"
        });
        targets.push(target.clone());
        state.push(dataflow.state_rows() as u64);
        watermarks.push(
            dataflow
                .output_watermark()
                .filter(|w| *w != i64::MAX && *w != i64::MIN),
        );
        late.push(dataflow.late_rows());
        source_rows.push(
            entry
                .source_counters
                .iter()
                .map(|(_, c)| c.rows.load(Ordering::Relaxed))
                .sum::<u64>(),
        );
        bad_rows.push(
            entry
                .source_counters
                .iter()
                .map(|(_, c)| c.bad_rows.load(Ordering::Relaxed))
                .sum::<u64>(),
        );
        statuses.push(match failure {
            Some(message) => format!("failed: {message}"),
            None => "running".to_string(),
        });
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(StringArray::from(kinds)),
        Arc::new(StringArray::from(targets)),
        Arc::new(UInt64Array::from(state)),
        Arc::new(TimestampNanosecondArray::from(watermarks).with_timezone("+00:00")),
        Arc::new(UInt64Array::from(late)),
        Arc::new(UInt64Array::from(source_rows)),
        Arc::new(UInt64Array::from(bad_rows)),
        Arc::new(StringArray::from(statuses)),
    ];
    let schema = schema();
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    MemTable::try_new(schema, vec![vec![batch]])
        .map_err(|e| crate::error::PlanError::from_datafusion(e, ""))
}
