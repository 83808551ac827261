//! The built-in Nexmark source (`'connector' = 'nexmark'`): the auction event stream of the
//! Nexmark benchmark (persons, auctions, bids), generated deterministically.
//!
//! Semantics follow the reference generator (Apache Beam's `sdk.nexmark.sources.generator`, as
//! adapted by `nexmark-flink`, whose table `ddl_gen.sql` this source feeds):
//!
//! - Event number `n` (0, 1, 2, ...) fixes everything about an event. Its kind is decided by
//!   `n` modulo `person.proportion + auction.proportion + bid.proportion` (1:3:46 by default:
//!   1 person, then 3 auctions, then 46 bids per 50 events). Person and auction ids count the
//!   persons/auctions generated so far (from 1000); bids and auctions reference recent persons
//!   and auctions, mostly "hot" ones (see `bid.hot-ratio.*`, `auction.hot-ratio.sellers`), at
//!   most 10 ids ahead of the last generated one, as in the reference. Its event time is
//!   `base-time` plus `n` inter-event delays at `first-event.rate`/`next-event.rate` events per
//!   second (shaped by `rate.shape`/`rate.period`): not the wall clock. Its random fields come
//!   from `java.util.Random` seeded with `n`, so every run, and every split, produces the same
//!   events; persons and auctions equal Beam's for the same `n`. See [`generator`] for fields.
//! - `split.index`/`split.count` (ours): split `i` of `c` produces the event numbers `n` with
//!   `n % c == i`; the `c` splits together produce exactly the events of one generator.
//! - `events.num` bounds the total over all splits (the source then ends; with `keep-alive` it
//!   stays idle instead); `stop-at` pauses all splits at that many events (idle, not ended).
//! - `throttle = 'true'` (or the reference's `rate.limited = 'true'` / `max-emit-speed =
//!   'false'`) paces events to their event time against the wall clock, from the first poll;
//!   by default events are generated as fast as possible.
//!
//! Output: batches of up to `batch_size` rows in exactly the table's schema (matched by
//! case-insensitive names, see [`output`]); per row exactly one of `person`, `auction`, `bid` is
//! non-null, named by `event_type` (0, 1, 2). The `dateTime` computed column and the watermark
//! of `ddl_gen.sql` are evaluated by the database, not here.
//!
//! Offsets (for checkpoints) are the split and the number of events it has produced: resuming
//! regenerates exactly the events that follow.

pub mod config;
pub mod generator;
pub mod output;
pub mod random;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;

pub use config::{EventKind, NexmarkConfig, RateShape, Timeline, KNOWN_OPTIONS};
pub use output::nexmark_schema;

use crate::connectors::{Source, SourceCounters, SourceEvent, SourceSpec};
use crate::error::{Result, RuntimeError};
use generator::{max_row_bytes, Columns, EventCursor, SizeHint};
use output::OutputPlan;

/// Longest wait in [`Source::next`] before reporting idle.
const MAX_WAIT: Duration = Duration::from_millis(100);
/// Size of an encoded offset: split index, split count, events produced (u64 LE each).
const OFFSET_BYTES: usize = 24;

/// Wall-clock pacing state (throttle mode): event time `event_time_origin` is due at
/// `wall_origin`, and later event times proportionally later.
#[derive(Debug, Clone, Copy)]
struct Pace {
    wall_origin: Instant,
    event_time_origin: i64,
}

impl Pace {
    /// The latest event time that is due now.
    fn due_event_time(&self) -> i64 {
        let elapsed = i64::try_from(self.wall_origin.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.event_time_origin.saturating_add(elapsed)
    }
}

/// A Nexmark source for one split.
#[derive(Debug)]
pub struct NexmarkSource {
    config: NexmarkConfig,
    plan: OutputPlan,
    /// Rows per batch (the spec's batch size, capped so string offsets fit `i32`).
    batch_size: usize,
    /// Events this split has produced; the next one is `split_index + produced * split_count`.
    produced: u64,
    pace: Option<Pace>,
    size_hint: SizeHint,
    counters: Arc<SourceCounters>,
}

impl NexmarkSource {
    /// Validate the options and the schema (see the module documentation).
    pub fn new(spec: SourceSpec) -> Result<Self> {
        let config = NexmarkConfig::from_options(&spec.options)?;
        if let Some(column) = spec.metadata.first() {
            return Err(RuntimeError::Connector(format!(
                "connector 'nexmark' has no metadata (column '{}' of table {} asks for '{}')",
                column.field.name(),
                spec.table,
                column.key
            )));
        }
        let plan = OutputPlan::new(spec.schema.clone())?;
        let max_rows = (i32::MAX as usize - 1) / max_row_bytes(&config);
        Ok(Self {
            batch_size: spec.batch_size.clamp(1, max_rows.max(1)),
            config,
            plan,
            produced: 0,
            pace: None,
            size_hint: SizeHint::default(),
            counters: Arc::new(SourceCounters::default()),
        })
    }

    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// The schema of produced batches.
    pub fn schema(&self) -> &arrow::datatypes::SchemaRef {
        self.plan.schema()
    }

    /// Rows per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The event number this split produces next, if it may produce it now (below
    /// `events.num` and `stop-at`).
    pub fn next_event_number(&self) -> Option<u64> {
        self.produced
            .checked_mul(self.config.split_count)
            .and_then(|n| n.checked_add(self.config.split_index))
            .filter(|n| *n < self.config.event_limit() && *n <= i64::MAX as u64)
    }

    /// Whether this split has produced all its events of a bounded stream (`events.num`).
    pub fn is_finished(&self) -> bool {
        let end = self
            .config
            .events_num
            .unwrap_or(u64::MAX)
            .min(i64::MAX as u64 + 1);
        self.produced
            .checked_mul(self.config.split_count)
            .and_then(|n| n.checked_add(self.config.split_index))
            .is_none_or(|n| n >= end)
    }

    /// The next batch, as fast as possible (ignoring `throttle`): up to `batch_size` events, or
    /// `None` when this split may not produce more (finished, or stopped by `stop-at`).
    pub fn generate_batch(&mut self) -> Result<Option<RecordBatch>> {
        self.generate(self.batch_size, None)
    }

    /// Up to `max_rows` events whose event time is at most `due_event_time` (if given).
    fn generate(
        &mut self,
        max_rows: usize,
        due_event_time: Option<i64>,
    ) -> Result<Option<RecordBatch>> {
        let Some(first) = self.next_event_number() else {
            return Ok(None);
        };
        let count = self.config.split_count;
        let limit = self.config.event_limit().min(i64::MAX as u64 + 1);
        // Events of this split below the limit: first, first + count, ...
        let available = (limit - first - 1) / count + 1;
        let mut rows = usize::try_from(available)
            .unwrap_or(usize::MAX)
            .min(max_rows);
        if let Some(due) = due_event_time {
            rows = (0..rows)
                .take_while(|k| self.config.timestamp_ms(first + *k as u64 * count) <= due)
                .count();
        }
        if rows == 0 {
            return Ok(None);
        }

        let mut columns = Columns::with_capacity(rows, &self.size_hint);
        let mut events = EventCursor::new(&self.config, first, count);
        for _ in 0..rows {
            columns.push_event(&self.config, events.current());
            events.advance(&self.config);
        }
        columns.fill_placeholders();
        self.produced += rows as u64;
        self.size_hint = columns.size_hint();
        self.counters.add_bytes(columns.payload_bytes());
        let batch = self.plan.finish(columns)?;
        self.counters.add_rows(rows as u64);
        Ok(Some(batch))
    }
}

#[async_trait::async_trait]
impl Source for NexmarkSource {
    async fn next(&mut self) -> Result<SourceEvent> {
        let Some(next) = self.next_event_number() else {
            if self.is_finished() && !self.config.keep_alive {
                return Ok(SourceEvent::End);
            }
            // Stopped by `stop-at`, or kept alive after the end.
            tokio::time::sleep(MAX_WAIT).await;
            return Ok(SourceEvent::Idle);
        };
        let due_event_time = if self.config.throttle {
            let next_time = self.config.timestamp_ms(next);
            let pace = *self.pace.get_or_insert(Pace {
                wall_origin: Instant::now(),
                event_time_origin: next_time,
            });
            let ahead_ms = next_time.saturating_sub(pace.due_event_time());
            if ahead_ms > 0 {
                let wait = Duration::from_millis(u64::try_from(ahead_ms).unwrap_or(u64::MAX));
                tokio::time::sleep(wait.min(MAX_WAIT)).await;
            }
            Some(pace.due_event_time())
        } else {
            None
        };
        match self.generate(self.batch_size, due_event_time)? {
            Some(rows) => Ok(SourceEvent::Batch {
                rows,
                bad_rows: Vec::new(),
            }),
            None => Ok(SourceEvent::Idle),
        }
    }

    fn offset(&self) -> Option<Vec<u8>> {
        let mut offset = Vec::with_capacity(OFFSET_BYTES);
        offset.extend_from_slice(&self.config.split_index.to_le_bytes());
        offset.extend_from_slice(&self.config.split_count.to_le_bytes());
        offset.extend_from_slice(&self.produced.to_le_bytes());
        Some(offset)
    }

    fn seek(&mut self, offset: &[u8]) -> Result<()> {
        let words: Vec<u64> = offset
            .chunks_exact(8)
            .filter_map(|chunk| chunk.try_into().ok().map(u64::from_le_bytes))
            .collect();
        let [index, count, produced] = words[..] else {
            return Err(RuntimeError::Connector(format!(
                "connector 'nexmark': invalid offset ({} bytes, expected {OFFSET_BYTES})",
                offset.len()
            )));
        };
        if offset.len() != OFFSET_BYTES
            || index != self.config.split_index
            || count != self.config.split_count
        {
            return Err(RuntimeError::Connector(format!(
                "connector 'nexmark': the offset belongs to split {index} of {count}, not split \
                 {} of {}",
                self.config.split_index, self.config.split_count
            )));
        }
        self.produced = produced;
        self.pace = None;
        Ok(())
    }

    fn counters(&self) -> Arc<SourceCounters> {
        self.counters.clone()
    }
}
