//! The tasks that keep continuous queries running: one source task per (query, connector
//! table it reads) and one sink task per connector table written by `INSERT INTO .. SELECT`.
//!
//! A source task polls its source without holding any lock, then takes the database write
//! lock to push the batch through its query's dataflow (and on through dependent views), so
//! every change is applied atomically with respect to readers, exactly like a DML statement.
//! It tracks the watermark of its table's `WATERMARK FOR` expression over the rows it has
//! read; a bounded source that ends sends the maximal watermark, closing every window.
//! A failing source marks its query failed (readers then get the error) and stops.
//!
//! A sink task receives the consolidated changes of every job writing the table, in the
//! order they were committed, writes them to the connector and flushes when it has caught up.

use std::sync::Arc;

use sluice_runtime::connectors::{
    create_sink, create_split_source, read_ahead, BadRow, SourceCounters, SourceEvent,
};
use sluice_runtime::ChangeBatch;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::connector_table::ConnectorTable;
use crate::database::{Database, EventTime};
use crate::error::{PlanError, Result};

/// Table option: how long a source may send nothing before it is idle (Flink's name).
pub const IDLE_TIMEOUT_OPTION: &str = "scan.watermark.idle-timeout";
/// Session setting with the default idle timeout (Flink's name).
pub const IDLE_TIMEOUT_SETTING: &str = "table.exec.source.idle-timeout";

/// Rows per source batch.
pub const SOURCE_BATCH_SIZE: usize = 8192;

/// Batches a source may read ahead of their delivery.
const SOURCE_READ_AHEAD: usize = 2;

/// Aborts a task when dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start reading `table` for the continuous query `reader`, whose operators run in `splits`
/// instances (a generator that can divide its stream then runs as that many splits).
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_source(
    database: Arc<Database>,
    reader: String,
    table: Arc<ConnectorTable>,
    event_time: Option<Arc<EventTime>>,
    dead_letter: Option<String>,
    idle_timeout: Option<std::time::Duration>,
    resume_at: Option<&[u8]>,
    splits: usize,
) -> Result<(AbortHandle, Arc<SourceCounters>)> {
    let mut source = create_split_source(table.source_spec(SOURCE_BATCH_SIZE), splits)?;
    if let Some(offset) = resume_at {
        source.seek(offset)?;
        tracing::info!(query = %reader, table = %table.name, "source resumes from its checkpointed offset");
    }
    let counters = source.counters();
    let idle_timeout = match table.options.get(IDLE_TIMEOUT_OPTION) {
        Some(text) => Some(sluice_runtime::connectors::duration::parse_duration(
            IDLE_TIMEOUT_OPTION,
            text,
        )?),
        None => idle_timeout,
    }
    .filter(|d| !d.is_zero());
    // The task holds the database weakly, and strongly only while it delivers a batch: a
    // running source does not keep a closed database (and its data directory) alive.
    let weak = Arc::downgrade(&database);
    drop(database);
    // The source runs a few batches ahead of this task (see `read_ahead`).
    let (mut received, reading) = read_ahead(source, SOURCE_READ_AHEAD);
    let task = tokio::spawn(async move {
        // Stop the reader however this task ends (including being aborted).
        let _reading = AbortOnDrop(reading);
        let mut watermark: Option<i64> = None;
        let mut last_data = std::time::Instant::now();
        let mut idle = false;
        while let Some((event, offset)) = received.recv().await {
            let Some(database) = weak.upgrade() else {
                break;
            };
            let has_data = matches!(
                event,
                Ok(SourceEvent::Batch { .. })
                    | Ok(SourceEvent::Round { .. })
                    | Ok(SourceEvent::Changes { .. })
            );
            if has_data {
                last_data = std::time::Instant::now();
            }
            // Idleness: after `idle_timeout` without data the source stops holding back the
            // watermark of the query's other inputs; new data makes it active again.
            let now_idle =
                !has_data && idle_timeout.is_some_and(|timeout| last_data.elapsed() >= timeout);
            if now_idle != idle && (has_data || now_idle) {
                idle = now_idle;
                let mut catalog = database.catalog.write().await;
                if let Err(error) = catalog.set_source_idle(&reader, &table.name, idle) {
                    tracing::warn!(query = %reader, %error, "idle watermark update failed");
                }
            }
            // An event with data is one or more batches in the table's schema.
            let data = match event {
                Ok(SourceEvent::Batch { rows, bad_rows }) => Ok(Some((
                    table
                        .complete(&rows)
                        .map(|data| vec![ChangeBatch::inserts(data)]),
                    bad_rows,
                ))),
                Ok(SourceEvent::Round { batches, bad_rows }) => Ok(Some((
                    batches
                        .iter()
                        .map(|rows| table.complete(rows).map(ChangeBatch::inserts))
                        .collect(),
                    bad_rows,
                ))),
                Ok(SourceEvent::Changes { changes, bad_rows }) => Ok(Some((
                    table
                        .complete(&changes.data)
                        .and_then(|data| Ok(vec![ChangeBatch::new(data, changes.weights)?])),
                    bad_rows,
                ))),
                Ok(SourceEvent::Idle) => Ok(None),
                Ok(SourceEvent::End) => {
                    let mut catalog = database.catalog.write().await;
                    let empty = ChangeBatch::empty(table.schema.clone());
                    if let Err(error) = catalog.ingest(&reader, &table.name, &empty, Some(i64::MAX))
                    {
                        tracing::warn!(query = %reader, %error, "finishing a bounded source failed");
                    }
                    catalog.record_source_offset(&reader, &table.name, offset);
                    tracing::info!(query = %reader, table = %table.name, "source finished");
                    break;
                }
                Err(error) => Err(PlanError::from(error)),
            };
            let result = match data {
                Ok(Some((changes, bad_rows))) => {
                    deliver(
                        &database,
                        &reader,
                        &table,
                        event_time.as_deref(),
                        &mut watermark,
                        changes,
                        bad_rows,
                        dead_letter.as_deref(),
                        offset,
                    )
                    .await
                }
                Ok(None) => Ok(()),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                let message = format!("source of table \"{}\" failed: {error}", table.name);
                tracing::warn!(query = %reader, %message);
                database.catalog.write().await.fail(&reader, &message);
                break;
            }
        }
    });
    Ok((task.abort_handle(), counters))
}

/// Deliver the batches of one source event (several for a round of a split source): in
/// order, and a watermark they advance only with the last, so none of them is late for it.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    database: &Database,
    reader: &str,
    table: &ConnectorTable,
    event_time: Option<&EventTime>,
    watermark: &mut Option<i64>,
    changes: Result<Vec<ChangeBatch>>,
    bad_rows: Vec<BadRow>,
    dead_letter: Option<&str>,
    offset: Option<Vec<u8>>,
) -> Result<()> {
    let changes = changes?;
    let mut advanced = None;
    if let Some(event_time) = event_time {
        for batch in &changes {
            if let Some(candidate) = event_time.candidate(batch)? {
                if watermark.is_none_or(|w| w < candidate) {
                    *watermark = Some(candidate);
                    advanced = Some(candidate);
                }
            }
        }
    }
    let mut catalog = database.catalog.write().await;
    if let (Some(dead_letter), false) = (dead_letter, bad_rows.is_empty()) {
        let batch = dead_letter_batch(&table.name, &bad_rows)?;
        catalog.apply_and_propagate(dead_letter, ChangeBatch::inserts(batch))?;
    }
    let last = changes.len().saturating_sub(1);
    for (index, batch) in changes.iter().enumerate() {
        catalog.ingest(
            reader,
            &table.name,
            batch,
            advanced.filter(|_| index == last),
        )?;
    }
    // In the same critical section as the ingest: a checkpoint sees the offset together with
    // the state that includes the batch.
    catalog.record_source_offset(reader, &table.name, offset);
    Ok(())
}

/// The schema of a dead-letter table.
pub fn dead_letter_schema() -> arrow::datatypes::SchemaRef {
    use arrow::datatypes::{DataType, Field, Schema};
    Arc::new(Schema::new(vec![
        Field::new("source_table", DataType::Utf8, false),
        Field::new("location", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, false),
    ]))
}

fn dead_letter_batch(table: &str, rows: &[BadRow]) -> Result<arrow::array::RecordBatch> {
    use arrow::array::StringArray;
    let column = |f: &dyn Fn(&BadRow) -> &str| -> arrow::array::ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    Ok(arrow::array::RecordBatch::try_new(
        dead_letter_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|_| table))),
            column(&|r| r.location.as_str()),
            column(&|r| r.raw.as_str()),
            column(&|r| r.error.as_str()),
        ],
    )?)
}

/// Start the sink task of `table`; changes sent on the returned channel are written to it.
pub(crate) fn spawn_sink(
    table: &ConnectorTable,
) -> Result<(mpsc::UnboundedSender<ChangeBatch>, AbortHandle)> {
    let mut sink = create_sink(table.sink_spec())?;
    let (sender, mut receiver) = mpsc::unbounded_channel::<ChangeBatch>();
    let name = table.name.clone();
    let task = tokio::spawn(async move {
        while let Some(changes) = receiver.recv().await {
            if let Err(error) = sink.write(&changes).await {
                tracing::error!(table = %name, %error, "sink write failed; changes lost");
                continue;
            }
            if receiver.is_empty() {
                if let Err(error) = sink.flush().await {
                    tracing::error!(table = %name, %error, "sink flush failed");
                }
            }
        }
        if let Err(error) = sink.flush().await {
            tracing::error!(table = %name, %error, "sink flush failed");
        }
    });
    Ok((sender, task.abort_handle()))
}
