//! A source read as several splits in parallel: one thread per split generates (or reads and
//! decodes) its share on a core of its own, and [`ParallelSource`] delivers the splits'
//! output in rounds.
//!
//! A round is one batch from every split that is still running, in split order, delivered as
//! one [`SourceEvent::Round`] (the database advances the watermark only after its last batch).
//! For a generator split by event number (split `i` of `c` makes the events `n`
//! with `n % c == i`, batches of `b` events), round `r` holds exactly the events
//! `r * b * c .. (r + 1) * b * c`: the same rows that a single generator with batches of
//! `b * c` rows would deliver in one. So the watermark, which the database derives from
//! each delivered batch, never passes a row that a later round still holds: splitting changes
//! neither which rows are late nor any result.
//!
//! The offset is every split's offset as of its last delivered batch; [`Source::seek`] hands
//! each split its own. The splits read a few batches ahead; what they read ahead and did not
//! deliver is read again after a restore.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::connectors::{
    read_ahead_on_thread, BadRow, PositionedEvent, Source, SourceCounters, SourceEvent,
};
use crate::error::{Result, RuntimeError};

/// Batches each split may produce ahead of delivery.
const READ_AHEAD: usize = 2;
/// First bytes of an encoded offset (so a single split's offset is refused clearly).
const OFFSET_MAGIC: &[u8; 4] = b"SPLT";

enum Split {
    /// Not started yet (a seek may still position it).
    Waiting(Box<dyn Source>),
    Running(mpsc::Receiver<PositionedEvent>),
    Ended,
}

/// The splits of one source, run on parallel threads and delivered in rounds (see the module
/// documentation). The splits must be append-only sources of the same schema.
pub struct ParallelSource {
    splits: Vec<Split>,
    /// Per split, its offset as of its last delivered event.
    offsets: Vec<Option<Vec<u8>>>,
    /// Per split, its own counters; [`ParallelSource`]'s are their sums.
    split_counters: Vec<Arc<SourceCounters>>,
    counters: Arc<SourceCounters>,
}

impl ParallelSource {
    /// `splits` in split order.
    pub fn new(splits: Vec<Box<dyn Source>>) -> Result<Self> {
        if splits.is_empty() {
            return Err(RuntimeError::Internal(
                "a parallel source needs at least one split".into(),
            ));
        }
        Ok(Self {
            offsets: splits.iter().map(|s| s.offset()).collect(),
            split_counters: splits.iter().map(|s| s.counters()).collect(),
            splits: splits.into_iter().map(Split::Waiting).collect(),
            counters: Arc::new(SourceCounters::default()),
        })
    }

    /// Start a thread per split that has not started. Threads, not runtime tasks: the
    /// dataflow runs on a runtime worker while it maintains the views, and on two cores the
    /// splits would then share the one worker left.
    fn start(&mut self) -> Result<()> {
        for (index, split) in self.splits.iter_mut().enumerate() {
            if let Split::Waiting(_) = split {
                if let Split::Waiting(source) = std::mem::replace(split, Split::Ended) {
                    let name = format!("sluice-split-{index}");
                    *split = Split::Running(read_ahead_on_thread(source, READ_AHEAD, name)?);
                }
            }
        }
        Ok(())
    }

    fn update_counters(&self) {
        let sum = |field: fn(&SourceCounters) -> &std::sync::atomic::AtomicU64| {
            self.split_counters
                .iter()
                .map(|c| field(c).load(Ordering::Relaxed))
                .sum::<u64>()
        };
        self.counters
            .rows
            .store(sum(|c| &c.rows), Ordering::Relaxed);
        self.counters
            .bad_rows
            .store(sum(|c| &c.bad_rows), Ordering::Relaxed);
        self.counters
            .bytes
            .store(sum(|c| &c.bytes), Ordering::Relaxed);
    }
}

#[async_trait::async_trait]
impl Source for ParallelSource {
    async fn next(&mut self) -> Result<SourceEvent> {
        self.start()?;
        let mut batches = Vec::new();
        let mut bad_rows: Vec<BadRow> = Vec::new();
        for (index, split) in self.splits.iter_mut().enumerate() {
            let Split::Running(receiver) = split else {
                continue;
            };
            let Some((event, offset)) = receiver.recv().await else {
                return Err(RuntimeError::Internal(format!(
                    "split {index} of the source stopped unexpectedly"
                )));
            };
            match event? {
                SourceEvent::Batch {
                    rows,
                    bad_rows: bad,
                } => {
                    batches.push(rows);
                    bad_rows.extend(bad);
                }
                SourceEvent::Round {
                    batches: more,
                    bad_rows: bad,
                } => {
                    batches.extend(more);
                    bad_rows.extend(bad);
                }
                SourceEvent::Changes { .. } => {
                    return Err(RuntimeError::Internal(
                        "a split of a parallel source produced changes (only append-only \
                         sources are split)"
                            .into(),
                    ))
                }
                SourceEvent::Idle => {}
                SourceEvent::End => *split = Split::Ended,
            }
            if let Some(slot) = self.offsets.get_mut(index) {
                *slot = offset;
            }
        }
        self.update_counters();
        if batches.is_empty() && bad_rows.is_empty() {
            if self.splits.iter().all(|s| matches!(s, Split::Ended)) {
                return Ok(SourceEvent::End);
            }
            return Ok(SourceEvent::Idle);
        }
        // Not concatenated: that copied every row, on the one task that delivers.
        if batches.len() == 1 {
            return Ok(SourceEvent::Batch {
                rows: batches.swap_remove(0),
                bad_rows,
            });
        }
        Ok(SourceEvent::Round { batches, bad_rows })
    }

    fn offset(&self) -> Option<Vec<u8>> {
        let mut encoded = OFFSET_MAGIC.to_vec();
        encoded.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        for offset in &self.offsets {
            // A split that cannot resume makes the whole source unable to.
            let offset = offset.as_ref()?;
            encoded.extend_from_slice(&(offset.len() as u32).to_le_bytes());
            encoded.extend_from_slice(offset);
        }
        Some(encoded)
    }

    fn seek(&mut self, offset: &[u8]) -> Result<()> {
        let offsets = decode_offsets(offset)?;
        if offsets.len() != self.splits.len() {
            return Err(RuntimeError::Connector(format!(
                "the checkpointed position has {} splits, the source {}",
                offsets.len(),
                self.splits.len()
            )));
        }
        for (index, (split, offset)) in self.splits.iter_mut().zip(&offsets).enumerate() {
            let Split::Waiting(source) = split else {
                return Err(RuntimeError::Internal(format!(
                    "split {index} is already running: seek before reading"
                )));
            };
            source.seek(offset)?;
        }
        self.offsets = offsets.into_iter().map(Some).collect();
        Ok(())
    }

    fn counters(&self) -> Arc<SourceCounters> {
        self.counters.clone()
    }
}

fn decode_offsets(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let invalid = || RuntimeError::Connector("invalid position of a split source".into());
    let rest = bytes.strip_prefix(OFFSET_MAGIC.as_slice()).ok_or_else(|| {
        RuntimeError::Connector(
            "the checkpointed position is not that of a split source (was the number of \
             workers changed?)"
                .into(),
        )
    })?;
    let (count, mut rest) = take_u32(rest).ok_or_else(invalid)?;
    let mut offsets = Vec::new();
    for _ in 0..count {
        let (len, after) = take_u32(rest).ok_or_else(invalid)?;
        let len = usize::try_from(len).map_err(|_| invalid())?;
        if after.len() < len {
            return Err(invalid());
        }
        let (offset, after) = after.split_at(len);
        offsets.push(offset.to_vec());
        rest = after;
    }
    if !rest.is_empty() {
        return Err(invalid());
    }
    Ok(offsets)
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}
