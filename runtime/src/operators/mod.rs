//! Incremental operators. One file per operator; each states its invariants.
//!
//! The contract of every operator: for any sequence of input change batches, the
//! consolidated concatenation of its outputs equals the batch query applied to the
//! consolidated inputs (after minus before).

use arrow::datatypes::SchemaRef;
use sluice_storage::{StateReader, StateWriter};

use crate::change::ChangeBatch;
use crate::error::Result;

mod aggregate_output;
pub mod constant;
pub mod exact_sum;
pub mod filter;
pub mod group_aggregate;
pub mod hash_join;
pub mod over_aggregate;
pub mod project;
mod ranked;
pub mod scan;
pub mod session_window;
pub mod temporal_join;
pub mod top_n;
pub mod union;
pub mod unnest;
pub mod window_aggregate;

pub use constant::Constant;
pub use filter::Filter;
pub use group_aggregate::{AggregateCall, GroupAggregate};
pub use hash_join::{HashJoin, JoinKind, TimeBounds};
pub use over_aggregate::{EventTimeCleanup, Extent, OverAggregate, Reach};
pub use project::Project;
pub use scan::Scan;
pub use session_window::SessionWindowAggregate;
pub use temporal_join::{TemporalJoin, TemporalTime};
pub use top_n::TopN;
pub use union::Union;
pub use unnest::{Unnest, UnnestColumn};
pub use window_aggregate::WindowAggregate;

/// How the input changes of an operator may be divided among parallel instances of it, each
/// holding the state of its share of the keys (see [`crate::dataflow`]).
pub enum Partitioning {
    /// One instance sees every change (global aggregates, constants, operators whose state
    /// is not keyed).
    Single,
    /// Stateless: any instance may process any change.
    Any,
    /// Rows whose key (per input port, expressions over that port's rows, of `types` on
    /// every port) is equal must reach the same instance: a group, a join key, a top-N
    /// partition.
    Keyed {
        keys: Vec<Vec<std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>>>,
        types: Vec<arrow::datatypes::DataType>,
    },
}

/// An incremental operator with one or more input ports and one output.
pub trait Operator: Send + Sync {
    /// Short name shown by EXPLAIN, e.g. `HashJoin`.
    fn name(&self) -> &'static str;

    /// One-line description of the operator's parameters (keys, expressions) for EXPLAIN.
    fn describe(&self) -> String {
        String::new()
    }

    /// Schema of the output changes.
    fn schema(&self) -> SchemaRef;

    /// Changes the operator emits before any input arrives: the batch result over empty
    /// inputs (a global aggregate's single row, a constant relation's rows).
    fn initial(&mut self) -> Result<Option<ChangeBatch>> {
        Ok(None)
    }

    /// Consume changes arriving on input `port`, return the resulting output changes.
    fn process(&mut self, port: usize, changes: ChangeBatch) -> Result<ChangeBatch>;

    /// The event-time watermark of the operator's inputs (the minimum over its ports that
    /// carry one) advanced to `watermark` (nanoseconds since the epoch; no row with an event
    /// time at or below it is expected any more). Emit what became final (closed windows).
    fn on_watermark(&mut self, _watermark: i64) -> Result<ChangeBatch> {
        Ok(ChangeBatch::empty(self.schema()))
    }

    /// How far (nanoseconds) the watermark the operator passes on stays behind the one it
    /// receives: rows it emits may carry event times that far below its input watermark
    /// (an interval join whose output keeps time attributes).
    fn watermark_delay(&self) -> i64 {
        0
    }

    /// Whether the operator acts on the wall clock (processing-time windows): it then gets
    /// [`Operator::on_tick`] calls while its inputs are quiet.
    fn wants_ticks(&self) -> bool {
        false
    }

    /// The wall clock advanced (no input arrived): emit what it made final.
    fn on_tick(&mut self) -> Result<ChangeBatch> {
        Ok(ChangeBatch::empty(self.schema()))
    }

    /// Input rows dropped because they arrived after the watermark had passed them.
    fn late_rows(&self) -> u64 {
        0
    }

    /// Approximate number of rows (or groups) the operator holds in state.
    fn state_rows(&self) -> usize {
        0
    }

    /// Entries of state (join keys, groups) written to disk because the operator was over
    /// its memory budget, and not read back yet.
    fn spilled_entries(&self) -> usize {
        0
    }

    /// Write the operator's state for a checkpoint. Stateless operators write nothing. (`&mut`
    /// because DataFusion accumulators export their state through `&mut self`.)
    fn snapshot(&mut self, _out: &mut StateWriter) -> Result<()> {
        Ok(())
    }

    /// Replace the operator's state with one written by [`Operator::snapshot`] of an
    /// operator built from the same plan.
    fn restore(&mut self, _input: &mut StateReader) -> Result<()> {
        Ok(())
    }

    /// How this operator's input may be split among parallel instances.
    fn partitioning(&self) -> Partitioning {
        Partitioning::Single
    }

    /// A new instance with the same parameters and empty state, for another partition.
    /// Operators whose [`Operator::partitioning`] is not `Single` implement it.
    fn fork(&self) -> Result<Box<dyn Operator>> {
        Err(crate::RuntimeError::Internal(format!(
            "{} cannot run in parallel instances",
            self.name()
        )))
    }
}

/// The partitioning of an operator keyed by the same expressions on every input port.
pub(crate) fn keyed_by(
    keys: Vec<Vec<std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>>>,
    codec: &sluice_storage::RowCodec,
) -> Partitioning {
    if keys.iter().any(|port| port.is_empty()) {
        // No key (a global aggregate, a cross join): all rows meet in one instance.
        return Partitioning::Single;
    }
    Partitioning::Keyed {
        keys,
        types: codec.types().to_vec(),
    }
}

/// Evaluate physical expressions over a batch into arrays.
pub(crate) fn evaluate_all(
    exprs: &[std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>],
    batch: &arrow::array::RecordBatch,
) -> Result<Vec<arrow::array::ArrayRef>> {
    exprs
        .iter()
        .map(|expr| Ok(expr.evaluate(batch)?.into_array(batch.num_rows())?))
        .collect()
}

/// Evaluate a boolean predicate over a batch.
pub(crate) fn evaluate_predicate(
    predicate: &std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>,
    batch: &arrow::array::RecordBatch,
) -> Result<arrow::array::BooleanArray> {
    use arrow::array::Array;
    let array = predicate.evaluate(batch)?.into_array(batch.num_rows())?;
    array
        .as_any()
        .downcast_ref::<arrow::array::BooleanArray>()
        .cloned()
        .ok_or_else(|| {
            crate::RuntimeError::Internal(format!(
                "predicate {predicate} evaluated to {} instead of boolean",
                array.data_type()
            ))
        })
}

/// A timestamp array as nanoseconds since the epoch (NULL stays NULL).
pub(crate) fn timestamp_nanos(array: &arrow::array::ArrayRef) -> Result<arrow::array::Int64Array> {
    let unit = window_aggregate::nanos_per_unit(array.data_type())?;
    let values = arrow::compute::cast(array, &arrow::datatypes::DataType::Int64)?;
    let values = values
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .ok_or_else(|| crate::RuntimeError::Internal("timestamp did not cast to Int64".into()))?;
    Ok(values
        .iter()
        .map(|v| v.map(|v| v.saturating_mul(unit)))
        .collect())
}

/// Left then right fields, all nullable: the schema a join's residual predicate is evaluated
/// over (an outer join pads either side with NULLs).
pub(crate) fn combined_join_schema(
    left: &arrow::datatypes::SchemaRef,
    right: &arrow::datatypes::SchemaRef,
) -> arrow::datatypes::SchemaRef {
    std::sync::Arc::new(arrow::datatypes::Schema::new(
        left.fields()
            .iter()
            .chain(right.fields().iter())
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}

/// The types of key expressions over `schema`.
pub(crate) fn key_types(
    keys: &[std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>],
    schema: &arrow::datatypes::SchemaRef,
) -> Result<Vec<arrow::datatypes::DataType>> {
    Ok(keys
        .iter()
        .map(|e| e.data_type(schema))
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Expressions as a comma-separated list (for EXPLAIN).
pub(crate) fn expr_list(
    exprs: &[std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>],
) -> String {
    exprs
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
