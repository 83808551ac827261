//! Window aggregate: a GROUP BY whose keys include a window's end (from the TUMBLE, HOP or
//! CUMULATE table functions), emitted once per window when the event-time watermark passes
//! the window's end, as Flink's window aggregation does.
//!
//! State: one [`GroupAggregate`] per open window (keyed by the window end), with its output
//! deferred: batches only update the window's groups, and each group is evaluated once, when
//! the window fires. Invariants:
//! - A window `[start, end)` fires when the watermark reaches `end - 1` (its largest
//!   timestamp, in the unit of the window-end column): from then on no row that is not late
//!   can fall into it. Firing emits the window's consolidated result (inserts only) and drops
//!   its state, so state holds open windows only.
//! - A change for a window that has fired is late: it is dropped and counted, never applied
//!   (the emitted result is final, as in Flink).
//! - Without a watermark nothing is emitted; a bounded input ends with the maximal watermark,
//!   which fires every window, so the output then equals the batch GROUP BY.
//!
//! Processing time ([`WindowAggregate::processing_time`], windows over `PROCTIME()`): the
//! window end was computed from the wall clock when the row arrived (the projection evaluates
//! `PROCTIME()` once per row, on arrival), so no row is late. A window fires once the wall
//! clock passes its end, checked whenever the operator runs (each input batch and each
//! watermark of the inputs); the maximal watermark (a bounded input that ended) fires every
//! window, as Flink flushes processing-time windows at the end of input.

use std::collections::BTreeMap;

use arrow::array::{Array, Int64Array, UInt32Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use hashbrown::HashMap;
use sluice_storage::{StateReader, StateWriter};

use super::{GroupAggregate, Operator};
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

struct OpenWindow {
    /// The window's groups (output deferred until it fires).
    aggregate: GroupAggregate,
}

pub struct WindowAggregate {
    template: GroupAggregate,
    /// Input column holding the window end.
    window_end: usize,
    /// Nanoseconds per unit of the window-end column.
    unit_nanos: i64,
    windows: BTreeMap<i64, OpenWindow>,
    watermark: Option<i64>,
    late: u64,
    schema: SchemaRef,
    /// Windows by processing time (fired by the wall clock) instead of event time.
    processing: bool,
}

/// The wall clock in nanoseconds since the epoch.
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Nanoseconds in one unit of a timestamp type, or an error for other types.
pub fn nanos_per_unit(data_type: &DataType) -> Result<i64> {
    match data_type {
        DataType::Timestamp(unit, _) => Ok(match unit {
            TimeUnit::Second => 1_000_000_000,
            TimeUnit::Millisecond => 1_000_000,
            TimeUnit::Microsecond => 1_000,
            TimeUnit::Nanosecond => 1,
        }),
        other => Err(RuntimeError::Internal(format!(
            "window bound must be a timestamp, found {other}"
        ))),
    }
}

impl WindowAggregate {
    /// `aggregate` groups by keys that include input column `window_end` (a timestamp).
    pub fn new(
        mut aggregate: GroupAggregate,
        input_schema: &SchemaRef,
        window_end: usize,
    ) -> Result<Self> {
        aggregate.defer_output();
        let field = input_schema.fields().get(window_end).ok_or_else(|| {
            RuntimeError::Internal(format!("window end column {window_end} out of range"))
        })?;
        let unit_nanos = nanos_per_unit(field.data_type())?;
        let schema = aggregate.schema();
        Ok(Self {
            template: aggregate,
            window_end,
            unit_nanos,
            windows: BTreeMap::new(),
            watermark: None,
            late: 0,
            schema,
            processing: false,
        })
    }

    /// A window aggregate over processing-time windows: fires when the wall clock passes a
    /// window's end (or at the end of input).
    pub fn processing_time(
        aggregate: GroupAggregate,
        input_schema: &SchemaRef,
        window_end: usize,
    ) -> Result<Self> {
        let mut operator = Self::new(aggregate, input_schema, window_end)?;
        operator.processing = true;
        Ok(operator)
    }

    fn fired(&self, end: i64) -> bool {
        if self.processing {
            // The input ended (maximal watermark), or the clock passed the window's end.
            return self.watermark == Some(i64::MAX)
                || end.saturating_mul(self.unit_nanos) <= now_nanos();
        }
        match self.watermark {
            // The window's last timestamp, end - 1 unit, is at or below the watermark.
            Some(watermark) => end.saturating_sub(1).saturating_mul(self.unit_nanos) <= watermark,
            None => false,
        }
    }
}

impl Operator for WindowAggregate {
    fn partitioning(&self) -> super::Partitioning {
        self.template.partitioning()
    }

    fn fork(&self) -> Result<Box<dyn Operator>> {
        let template = self.template.fork_empty()?;
        let input_schema = template.input_schema();
        let mut fork = Self::new(template, &input_schema, self.window_end)?;
        fork.processing = self.processing;
        Ok(Box::new(fork))
    }

    fn name(&self) -> &'static str {
        "WindowAggregate"
    }

    fn describe(&self) -> String {
        format!(
            "emit {}, window end: column {}, {}",
            if self.processing {
                "by the wall clock"
            } else {
                "on watermark"
            },
            self.window_end,
            self.template.describe()
        )
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn process(&mut self, _port: usize, changes: ChangeBatch) -> Result<ChangeBatch> {
        let ends = cast(changes.data.column(self.window_end), &DataType::Int64)?;
        let ends = ends
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| RuntimeError::Internal("window end did not cast to Int64".into()))?;
        let mut rows_by_end: HashMap<i64, Vec<u32>> = HashMap::new();
        for (row, end) in ends.iter().enumerate() {
            match end {
                Some(end) if self.processing || !self.fired(end) => {
                    rows_by_end.entry(end).or_default().push(row as u32)
                }
                // Late, or without event time: no window can take it.
                _ => self.late += 1,
            }
        }
        let single = rows_by_end.len() == 1;
        for (end, rows) in rows_by_end {
            let part = if single && rows.len() == changes.num_rows() {
                changes.clone()
            } else {
                changes.take(&UInt32Array::from(rows))?
            };
            let window = match self.windows.get_mut(&end) {
                Some(window) => window,
                None => {
                    let aggregate = self.template.empty_sharing_budget()?;
                    self.windows.entry(end).or_insert(OpenWindow { aggregate })
                }
            };
            // Deferred output: nothing comes back until the window fires.
            window.aggregate.process(0, part)?;
        }
        if self.processing {
            return self.fire_due();
        }
        Ok(ChangeBatch::empty(self.schema.clone()))
    }

    fn on_watermark(&mut self, watermark: i64) -> Result<ChangeBatch> {
        if self.watermark.is_some_and(|current| current >= watermark) {
            if self.processing {
                return self.fire_due();
            }
            return Ok(ChangeBatch::empty(self.schema.clone()));
        }
        self.watermark = Some(watermark);
        self.fire_due()
    }

    fn wants_ticks(&self) -> bool {
        self.processing
    }

    fn on_tick(&mut self) -> Result<ChangeBatch> {
        if self.processing {
            return self.fire_due();
        }
        Ok(ChangeBatch::empty(self.schema.clone()))
    }

    fn late_rows(&self) -> u64 {
        self.late
    }

    fn state_rows(&self) -> usize {
        self.windows
            .values()
            .map(|w| w.aggregate.state_rows())
            .sum()
    }

    fn spilled_entries(&self) -> usize {
        self.windows
            .values()
            .map(|w| w.aggregate.spilled_entries())
            .sum()
    }

    fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        self.snapshot_state(out)
    }

    fn restore(&mut self, input: &mut StateReader) -> Result<()> {
        self.restore_state(input)
    }
}

impl WindowAggregate {
    /// Emit and drop the windows that have fired.
    fn fire_due(&mut self) -> Result<ChangeBatch> {
        let fired: Vec<i64> = self
            .windows
            .keys()
            .copied()
            .take_while(|&end| self.fired(end))
            .collect();
        let mut results = Vec::new();
        for end in fired {
            if let Some(mut window) = self.windows.remove(&end) {
                // Each group once, as an insertion: windows differ in their end, a group
                // column, so the rows of different windows never cancel.
                results.push(window.aggregate.drain_output()?);
            }
        }
        ChangeBatch::concat(&self.schema, &results)
    }

    fn snapshot_state(&mut self, out: &mut StateWriter) -> Result<()> {
        out.put_opt_i64(self.watermark);
        out.put_u64(self.late);
        out.put_u64(self.windows.len() as u64);
        for (end, window) in self.windows.iter_mut() {
            out.put_i64(*end);
            out.put_section(|inner| window.aggregate.snapshot(inner))?;
        }
        Ok(())
    }

    fn restore_state(&mut self, input: &mut StateReader) -> Result<()> {
        self.watermark = input.opt_i64()?;
        self.late = input.u64()?;
        self.windows.clear();
        for _ in 0..input.len_prefix()? {
            let end = input.i64()?;
            let mut aggregate = self.template.empty_sharing_budget()?;
            let mut section = input.section()?;
            aggregate.restore(&mut section)?;
            section.finish()?;
            self.windows.insert(end, OpenWindow { aggregate });
        }
        Ok(())
    }
}
