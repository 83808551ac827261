//! DataFusion's view of a connector source table for ad-hoc queries: a bounded source
//! (a file, datagen with `number-of-rows`, nexmark with `events.num`, Kafka with
//! `scan.bounded.mode`) is read to its end, giving the table's batch meaning; an unbounded one
//! is refused with a hint to query it through a materialized view. Sink-only tables read as
//! empty.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session as DataFusionSession, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use sluice_runtime::connectors::{create_source, SourceEvent};
use sluice_runtime::ChangeBatch;
use sluice_storage::RowCodec;

use super::connector_table::ConnectorTable;
use super::jobs::SOURCE_BATCH_SIZE;
use crate::error::PlanError;

/// How long an ad-hoc read of a bounded source may take.
const READ_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct StreamTableProvider {
    table: Arc<ConnectorTable>,
}

impl StreamTableProvider {
    pub fn new(table: Arc<ConnectorTable>) -> Self {
        Self { table }
    }
}

/// Whether the table's options make its source unbounded.
pub fn is_unbounded(table: &ConnectorTable) -> bool {
    let option = |key: &str| table.options.get(key);
    match table.connector() {
        "filesystem" => option("source.monitor-interval").is_some(),
        "datagen" => {
            option("number-of-rows").is_none()
                && !table
                    .options
                    .iter()
                    .any(|(k, v)| k.ends_with(".kind") && v.eq_ignore_ascii_case("sequence"))
        }
        "nexmark" => option("events.num")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_none_or(|n| n == 0),
        "kafka" | "upsert-kafka" => option("scan.bounded.mode").is_none(),
        _ => false,
    }
}

#[async_trait]
impl TableProvider for StreamTableProvider {
    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn DataFusionSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let external = |e: PlanError| DataFusionError::External(Box::new(e));
        let mut batches = Vec::new();
        if self.table.is_source() {
            if is_unbounded(&self.table) {
                return Err(external(PlanError::Unsupported(format!(
                    "reading the unbounded stream \"{}\" in a query; create a materialized view over it",
                    self.table.name
                ))));
            }
            let mut source = create_source(self.table.source_spec(SOURCE_BATCH_SIZE))
                .map_err(|e| external(e.into()))?;
            let started = Instant::now();
            loop {
                if started.elapsed() > READ_LIMIT {
                    return Err(external(PlanError::Connector(format!(
                        "reading \"{}\" did not finish within {} s",
                        self.table.name,
                        READ_LIMIT.as_secs()
                    ))));
                }
                match source.next().await.map_err(|e| external(e.into()))? {
                    SourceEvent::Batch { rows, .. } => batches.push(ChangeBatch::inserts(
                        self.table.complete(&rows).map_err(external)?,
                    )),
                    SourceEvent::Round { batches: round, .. } => {
                        for rows in round {
                            batches.push(ChangeBatch::inserts(
                                self.table.complete(&rows).map_err(external)?,
                            ));
                        }
                    }
                    SourceEvent::Changes { changes, .. } => {
                        let data = self.table.complete(&changes.data).map_err(external)?;
                        batches.push(
                            ChangeBatch::new(data, changes.weights)
                                .map_err(|e| external(e.into()))?,
                        )
                    }
                    SourceEvent::Idle => tokio::time::sleep(Duration::from_millis(5)).await,
                    SourceEvent::End => break,
                }
            }
        }
        // A changelog source (upsert-kafka) retracts rows: the table is the consolidated sum.
        let runtime = |e: sluice_runtime::RuntimeError| external(e.into());
        let rows = if batches.is_empty() {
            vec![]
        } else {
            let codec = RowCodec::for_schema(&self.table.schema).map_err(|e| external(e.into()))?;
            let all = ChangeBatch::concat(&self.table.schema, &batches).map_err(runtime)?;
            vec![all
                .consolidate(&codec)
                .and_then(|c| c.to_positive_rows())
                .map_err(runtime)?]
        };
        Ok(MemorySourceConfig::try_new_exec(
            &[rows],
            self.table.schema.clone(),
            projection.cloned(),
        )?)
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![
            TableProviderFilterPushDown::Unsupported;
            filters.len()
        ])
    }
}
