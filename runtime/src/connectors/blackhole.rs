//! The `blackhole` sink (Flink's): discards every change, counting them. Useful to measure a
//! query's throughput without a destination.
//!
//! Invariant: [`BlackholeSink::rows`] is the sum of `|weight|` over all changes written, i.e.
//! the number of row insertions and deletions discarded. It has no options.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Sink, SinkSpec};
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

/// Discards changes; see the module documentation.
#[derive(Debug, Default)]
pub struct BlackholeSink {
    rows: Arc<AtomicU64>,
}

impl BlackholeSink {
    pub fn new(spec: &SinkSpec) -> Result<Self> {
        spec.options.check_known("blackhole", &[], &[])?;
        Ok(Self::default())
    }

    /// The counter of discarded row changes (shared; read it while the sink runs).
    pub fn rows(&self) -> Arc<AtomicU64> {
        self.rows.clone()
    }
}

#[async_trait::async_trait]
impl Sink for BlackholeSink {
    async fn write(&mut self, changes: &ChangeBatch) -> Result<()> {
        let mut count: u64 = 0;
        for weight in changes.weights.iter() {
            let weight = weight
                .ok_or_else(|| RuntimeError::Internal("a change batch has a NULL weight".into()))?;
            count = count.saturating_add(weight.unsigned_abs());
        }
        self.rows.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }
}
