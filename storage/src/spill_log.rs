//! Rows in arrival order, unindexed, under a memory budget: the state of a join side that
//! the other side rarely probes (see the runtime's hash join).
//!
//! A keyed [`crate::SpillMap`] pays for every row it holds: a hash-table entry, an encoded
//! copy, and under a budget a random write to the scratch database when the row spills.
//! That is the right price when lookups are frequent. When they are rare (Nexmark q7 joins
//! every bid against one maximum per ten-second window), scanning all rows on the rare
//! lookup costs far less than indexing each. A `SpillLog` keeps Arrow batches as they came:
//! appended batches are concatenated into segments of [`SEGMENT_ROWS`] rows; under the
//! budget, the oldest in-memory segments are written whole to scratch files (Arrow IPC) and
//! read back only by a scan. A segment carries a [`Zone`]: the latest time any of its rows
//! can still be needed (a join's interval bound), so segments whose rows have all expired
//! are dropped without being read, and the range of its rows' keys, so a scan for keys
//! outside it skips the segment (a join's new auctions have ids above every bid's so far).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use arrow::ipc::reader::{FileReader, StreamReader};
use arrow::ipc::writer::{FileWriter, StreamWriter};

use crate::error::{Result, StorageError};
use crate::spill::{
    open_stream, segment_path, settings, trim_allocator, Budget, Share, RELOADED, SPILLED,
};
use crate::state::{StateReader, StateWriter, StreamRef};

/// Rows per sealed segment (the unit that is written to disk, read back and dropped).
pub const SEGMENT_ROWS: usize = 64 * 1024;

/// The smallest and largest of some keys (memcomparable bytes).
pub type KeyRange = (Box<[u8]>, Box<[u8]>);

/// What a scan can know of a batch or segment without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The latest time (nanoseconds) a row stays needed: once the watermark reaches it, the
    /// rows are dropped (`i64::MAX`: never).
    pub until: i64,
    /// The smallest and largest key of the rows (memcomparable bytes), if they have keys.
    pub keys: Option<KeyRange>,
}

impl Zone {
    /// A zone of rows needed until `until` whose keys are `keys`.
    pub fn of<'k>(until: i64, keys: impl IntoIterator<Item = &'k [u8]>) -> Self {
        let mut range: Option<(&[u8], &[u8])> = None;
        for key in keys {
            range = Some(match range {
                None => (key, key),
                Some((low, high)) => (low.min(key), high.max(key)),
            });
        }
        Self {
            until,
            keys: range.map(|(low, high)| (Box::from(low), Box::from(high))),
        }
    }

    /// The zone covering both.
    fn merge(&mut self, other: &Zone) {
        self.until = self.until.max(other.until);
        if let Some((low, high)) = &other.keys {
            self.keys = Some(match self.keys.take() {
                None => (low.clone(), high.clone()),
                Some((l, h)) => (l.min(low.clone()), h.max(high.clone())),
            });
        }
    }

    /// Whether a key between `low` and `high` can be among the zone's.
    pub fn may_hold(&self, low: &[u8], high: &[u8]) -> bool {
        self.keys
            .as_ref()
            .is_none_or(|(l, h)| high >= l.as_ref() && low <= h.as_ref())
    }
}

/// A sealed run of rows: in memory, or in a scratch file.
struct Segment {
    rows: usize,
    zone: Zone,
    data: SegmentData,
    /// The checkpoint stream last written with the segment's rows (a sealed segment never
    /// changes: a later checkpoint refers to it while its checkpoint committed).
    stream: Option<StreamRef>,
}

enum SegmentData {
    Memory { batch: RecordBatch, bytes: usize },
    Disk { path: PathBuf },
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let SegmentData::Disk { path } = &self.data {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(path = %path.display(), "cannot remove a spilled segment: {e}");
            }
        }
    }
}

impl Segment {
    fn memory(&self) -> usize {
        match &self.data {
            SegmentData::Memory { bytes, .. } => *bytes,
            SegmentData::Disk { .. } => 0,
        }
    }

    /// Visit the segment's rows (read from its file when spilled).
    fn visit(&self, visit: &mut impl FnMut(&RecordBatch) -> Result<()>) -> Result<()> {
        match &self.data {
            SegmentData::Memory { batch, .. } => visit(batch),
            SegmentData::Disk { path } => {
                let file = File::open(path).map_err(|e| io_error(path, e))?;
                for batch in FileReader::try_new(BufReader::new(file), None)? {
                    let batch = batch?;
                    RELOADED.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                    visit(&batch)?;
                }
                Ok(())
            }
        }
    }
}

fn io_error(path: &std::path::Path, error: std::io::Error) -> StorageError {
    StorageError::Io(format!("spilled segment {}: {error}", path.display()))
}

/// Rows in arrival order under a memory budget (see the module documentation).
pub struct SpillLog {
    /// Batches appended since the last seal, each with its zone.
    open: Vec<(RecordBatch, Zone)>,
    open_rows: usize,
    /// Sealed segments, oldest first.
    segments: VecDeque<Segment>,
    share: Share,
    dir: Option<PathBuf>,
    /// Bytes of the open batches and in-memory segments.
    memory: usize,
    rows: usize,
    spilled_rows: usize,
}

impl SpillLog {
    /// An empty log counting its memory against `budget` (spilling to the directory of the
    /// process's current settings).
    pub fn in_budget(budget: &Budget) -> Self {
        Self {
            open: Vec::new(),
            open_rows: 0,
            segments: VecDeque::new(),
            share: Share::new(budget.clone()),
            dir: settings().dir,
            memory: 0,
            rows: 0,
            spilled_rows: 0,
        }
    }

    /// Append `batch`, whose rows are described by `zone`.
    pub fn append(&mut self, batch: RecordBatch, zone: Zone) {
        let rows = batch.num_rows();
        if rows == 0 {
            return;
        }
        self.memory += batch.get_array_memory_size();
        self.rows += rows;
        self.open_rows += rows;
        self.open.push((batch, zone));
    }

    /// Rows held (in memory and on disk).
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Rows in segments on disk.
    pub fn spilled_rows(&self) -> usize {
        self.spilled_rows
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.memory
    }

    /// Seal a full run of appended batches into a segment and, when the operator's state is
    /// over its budget, write the oldest in-memory segments to disk down to this log's
    /// share.
    pub fn settle(&mut self) -> Result<()> {
        if self.open_rows >= SEGMENT_ROWS {
            self.seal()?;
        }
        if self.share.limit().is_none() {
            return Ok(());
        }
        self.share.report(self.memory);
        let Some(target) = self.share.spill_target(self.memory) else {
            return Ok(());
        };
        let before = self.memory;
        let in_memory = |segments: &VecDeque<Segment>| {
            segments
                .iter()
                .filter(|s| matches!(s.data, SegmentData::Memory { .. }))
                .map(Segment::memory)
                .sum::<usize>()
        };
        // The open batches are sealed early only when the sealed segments cannot cover the
        // excess on their own.
        if self.memory.saturating_sub(in_memory(&self.segments)) > target {
            self.seal()?;
        }
        for segment in self.segments.iter_mut() {
            if self.memory <= target {
                break;
            }
            let SegmentData::Memory { batch, bytes } = &segment.data else {
                continue;
            };
            let bytes = *bytes;
            let path = segment_path(self.dir.as_ref())?;
            let file = File::create(&path).map_err(|e| io_error(&path, e))?;
            let mut writer = FileWriter::try_new(BufWriter::new(file), &batch.schema())?;
            writer.write(batch)?;
            writer.finish()?;
            self.memory = self.memory.saturating_sub(bytes);
            self.spilled_rows += segment.rows;
            SPILLED.fetch_add(segment.rows as u64, Ordering::Relaxed);
            segment.data = SegmentData::Disk { path };
        }
        self.share.report(self.memory);
        trim_allocator(before.saturating_sub(self.memory));
        Ok(())
    }

    /// Concatenate the open batches into one compact segment.
    fn seal(&mut self) -> Result<()> {
        let Some((first, _)) = self.open.first() else {
            return Ok(());
        };
        let schema = first.schema();
        let open = std::mem::take(&mut self.open);
        let mut zone = Zone {
            until: i64::MIN,
            keys: None,
        };
        for (_, z) in &open {
            zone.merge(z);
        }
        let opened: usize = open.iter().map(|(b, _)| b.get_array_memory_size()).sum();
        let batches: Vec<&RecordBatch> = open.iter().map(|(b, _)| b).collect();
        let batch = compact(arrow::compute::concat_batches(&schema, batches)?)?;
        drop(open);
        let bytes = batch.get_array_memory_size();
        self.memory = self.memory.saturating_sub(opened) + bytes;
        self.segments.push_back(Segment {
            rows: self.open_rows,
            zone,
            data: SegmentData::Memory { batch, bytes },
            stream: None,
        });
        self.open_rows = 0;
        Ok(())
    }

    /// Drop the segments (and open batches) whose rows are all no longer needed at
    /// `watermark`, unread.
    pub fn expire(&mut self, watermark: i64) {
        let (mut rows, mut memory, mut spilled) = (0, 0, 0);
        self.segments.retain(|segment| {
            let keep = segment.zone.until > watermark;
            if !keep {
                rows += segment.rows;
                memory += segment.memory();
                if matches!(segment.data, SegmentData::Disk { .. }) {
                    spilled += segment.rows;
                }
            }
            keep
        });
        let mut open_rows = 0;
        self.open.retain(|(batch, zone)| {
            let keep = zone.until > watermark;
            if !keep {
                open_rows += batch.num_rows();
                memory += batch.get_array_memory_size();
            }
            keep
        });
        self.open_rows -= open_rows;
        self.rows -= rows + open_rows;
        self.memory = self.memory.saturating_sub(memory);
        self.spilled_rows -= spilled;
        self.share.report(self.memory);
    }

    /// Visit every row, oldest first, a batch at a time (spilled segments are read back one
    /// at a time and not kept).
    pub fn scan(&self, visit: impl FnMut(&RecordBatch) -> Result<()>) -> Result<usize> {
        self.scan_zones(|_| true, visit)
    }

    /// Visit the rows of the segments and batches whose zone `wanted` accepts, like
    /// [`SpillLog::scan`]; returns how many rows that was.
    pub fn scan_zones(
        &self,
        wanted: impl Fn(&Zone) -> bool,
        mut visit: impl FnMut(&RecordBatch) -> Result<()>,
    ) -> Result<usize> {
        let mut rows = 0;
        for segment in self.segments.iter().filter(|s| wanted(&s.zone)) {
            segment.visit(&mut visit)?;
            rows += segment.rows;
        }
        for (batch, _) in self.open.iter().filter(|(_, zone)| wanted(zone)) {
            visit(batch)?;
            rows += batch.num_rows();
        }
        Ok(rows)
    }

    /// Remove every row, visiting them oldest first, a segment at a time (each segment
    /// leaves memory or disk once visited).
    pub fn drain(&mut self, mut visit: impl FnMut(&RecordBatch) -> Result<()>) -> Result<()> {
        while let Some(segment) = self.segments.pop_front() {
            segment.visit(&mut visit)?;
        }
        for (batch, _) in std::mem::take(&mut self.open) {
            visit(&batch)?;
        }
        self.clear();
        Ok(())
    }

    /// Remove every row.
    pub fn clear(&mut self) {
        self.segments.clear();
        self.open.clear();
        self.open_rows = 0;
        self.rows = 0;
        self.memory = 0;
        self.spilled_rows = 0;
        self.share.report(0);
    }

    /// Write every row for a checkpoint: the number of batches, then per batch its zone and
    /// its Arrow IPC stream. For a checkpoint with a sink, incrementally: the
    /// [`LOG_SEGMENTS`] marker, then per sealed segment a stream of one record (its zone and
    /// rows), the one written by an earlier checkpoint when that committed and is still held
    /// (sealed segments never change), and a stream of the open batches.
    pub fn snapshot(&mut self, out: &mut StateWriter) -> Result<()> {
        if out.generations()?.is_some() {
            return self.snapshot_to_streams(out);
        }
        out.put_u64((self.segments.len() + self.open.len()) as u64);
        for segment in &self.segments {
            // A spilled segment is one batch, read back to be written into the checkpoint.
            segment.visit(&mut |batch| write_stream(out, batch, &segment.zone))?;
        }
        for (batch, zone) in &self.open {
            write_stream(out, batch, zone)?;
        }
        Ok(())
    }

    fn snapshot_to_streams(&mut self, out: &mut StateWriter) -> Result<()> {
        let mut record = StateWriter::new();
        let mut streams = Vec::with_capacity(self.segments.len());
        for segment in self.segments.iter_mut() {
            // (A stream the committed checkpoint refers to is of a committed generation.)
            let held = match segment.stream {
                Some(stream) => out.holds_stream(stream)?,
                None => false,
            };
            let stream = match (held, segment.stream) {
                (true, Some(stream)) => {
                    out.keep_stream(stream)?;
                    stream
                }
                _ => {
                    let mut stream = open_stream(out)?;
                    record.clear();
                    segment.visit(&mut |batch| write_stream(&mut record, batch, &segment.zone))?;
                    stream.put(&[], record.as_bytes())?;
                    stream.reference()
                }
            };
            segment.stream = Some(stream);
            streams.push(stream);
        }
        let mut open = open_stream(out)?;
        for (position, (batch, zone)) in self.open.iter().enumerate() {
            record.clear();
            write_stream(&mut record, batch, zone)?;
            open.put(&(position as u64).to_be_bytes(), record.as_bytes())?;
        }
        out.put_u64(LOG_SEGMENTS);
        out.put_streams(&streams);
        out.put_stream(open.reference());
        Ok(())
    }

    /// Replace the contents with rows written by [`SpillLog::snapshot`] in batches of
    /// `columns` columns (others are refused: a checkpoint of another plan), spilling as they
    /// come in when over the budget.
    pub fn restore(&mut self, input: &mut StateReader, columns: usize) -> Result<()> {
        self.clear();
        if input.peek_u64() == Some(LOG_SEGMENTS) {
            input.u64()?;
            let segments = input.streams()?;
            let open = input.stream()?;
            for stream in segments {
                input.read_stream(stream, |_, record| {
                    let mut record = StateReader::new(record);
                    let (batches, zone) = read_stream_record(&mut record, columns)?;
                    record.finish()?;
                    self.restore_segment(batches, zone, stream)
                })?;
            }
            return input.read_stream(open, |_, record| {
                let mut record = StateReader::new(record);
                self.restore_batch(&mut record, columns)?;
                record.finish()
            });
        }
        for _ in 0..input.len_prefix()? {
            self.restore_batch(input, columns)?;
        }
        Ok(())
    }

    /// A sealed segment as a checkpoint's stream holds it: sealed again as it was, with the
    /// stream noted (the next checkpoint refers to it instead of writing it again).
    fn restore_segment(
        &mut self,
        batches: Vec<RecordBatch>,
        zone: Zone,
        stream: StreamRef,
    ) -> Result<()> {
        let Some(first) = batches.first() else {
            return Ok(());
        };
        let batch = match batches.len() {
            1 => first.clone(),
            _ => arrow::compute::concat_batches(&first.schema(), &batches)?,
        };
        let rows = batch.num_rows();
        let bytes = batch.get_array_memory_size();
        self.memory += bytes;
        self.rows += rows;
        self.segments.push_back(Segment {
            rows,
            zone,
            data: SegmentData::Memory { batch, bytes },
            stream: Some(stream),
        });
        self.settle()
    }

    /// One batch as [`write_stream`] wrote it, appended.
    fn restore_batch(&mut self, input: &mut StateReader, columns: usize) -> Result<()> {
        let (batches, zone) = read_stream_record(input, columns)?;
        for batch in batches {
            self.append(batch, zone.clone());
        }
        self.settle()
    }
}

/// In place of a count of batches: streams of sealed segments and of open batches follow
/// (see [`SpillLog::snapshot`]).
const LOG_SEGMENTS: u64 = u64::MAX - 1;

/// What [`write_stream`] wrote: the batches and their zone (batches of another width than
/// `columns` are refused: a checkpoint of another plan).
fn read_stream_record(input: &mut StateReader, columns: usize) -> Result<(Vec<RecordBatch>, Zone)> {
    let until = input.i64()?;
    let keys = match input.bool()? {
        true => Some((Box::from(input.bytes()?), Box::from(input.bytes()?))),
        false => None,
    };
    let zone = Zone { until, keys };
    let bytes = input.bytes()?;
    let mut batches = Vec::new();
    for batch in StreamReader::try_new(bytes, None)? {
        let batch = batch?;
        if batch.num_columns() != columns {
            return Err(StorageError::Corrupt(format!(
                "checkpointed log rows have {} columns, the plan's have {columns}",
                batch.num_columns()
            )));
        }
        batches.push(batch);
    }
    Ok((batches, zone))
}

impl Drop for SpillLog {
    /// Give the log's bytes back to the budget (the budget outlives operators: it is the
    /// process's) and delete its files.
    fn drop(&mut self) {
        self.clear();
    }
}

fn write_stream(out: &mut StateWriter, batch: &RecordBatch, zone: &Zone) -> Result<()> {
    let mut bytes = Vec::new();
    let mut writer = StreamWriter::try_new(&mut bytes, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    out.put_i64(zone.until);
    out.put_bool(zone.keys.is_some());
    if let Some((low, high)) = &zone.keys {
        out.put_bytes(low);
        out.put_bytes(high);
    }
    out.put_bytes(&bytes);
    Ok(())
}

/// `batch` with its string and binary views copied into buffers of their own: views sliced
/// from an input batch keep the whole input's data buffers alive (and counted).
fn compact(batch: RecordBatch) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Utf8View => Arc::new(column.as_string_view().gc()) as ArrayRef,
            DataType::BinaryView => Arc::new(column.as_binary_view().gc()) as ArrayRef,
            _ => Arc::clone(column),
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{Field, Schema};

    fn batch(start: i64, rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("s", DataType::Utf8View, true),
        ]));
        let n: Vec<i64> = (start..start + rows as i64).collect();
        let s: Vec<String> = n.iter().map(|n| format!("row number {n:>20}")).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(n)),
                Arc::new(StringViewArray::from_iter_values(s)),
            ],
        )
        .unwrap()
    }

    fn numbers(log: &SpillLog) -> Vec<i64> {
        let mut seen = Vec::new();
        log.scan(|batch| {
            let n = batch
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>();
            seen.extend(n.values().iter().copied());
            Ok(())
        })
        .unwrap();
        seen
    }

    #[test]
    fn segments_spill_to_files_and_come_back_in_order() -> Result<()> {
        let budget = Budget::limited(Some(1));
        let mut log = SpillLog::in_budget(&budget);
        let per_batch = 10_000;
        for i in 0..20 {
            log.append(
                batch(i * per_batch as i64, per_batch),
                Zone::of(i64::MAX, []),
            );
            log.settle()?;
        }
        assert_eq!(log.rows(), 200_000);
        assert!(
            log.spilled_rows() >= 3 * SEGMENT_ROWS,
            "{}",
            log.spilled_rows()
        );
        assert_eq!(numbers(&log), (0..200_000).collect::<Vec<_>>());
        // A checkpoint restores into another log the same rows.
        let mut out = StateWriter::new();
        log.snapshot(&mut out)?;
        let bytes = out.into_bytes();
        let mut restored = SpillLog::in_budget(&Budget::limited(None));
        restored.restore(&mut StateReader::new(&bytes), 2)?;
        // Rows of another shape are refused.
        let mut other = SpillLog::in_budget(&Budget::limited(None));
        assert!(other.restore(&mut StateReader::new(&bytes), 3).is_err());
        assert_eq!(numbers(&restored), (0..200_000).collect::<Vec<_>>());
        // Into a checkpoint's streams, incrementally: later checkpoints (also after one that
        // failed) refer to the sealed segments the first wrote and write the open batches.
        let streams = crate::state::MemoryStreams::shared();
        let snapshot = |log: &mut SpillLog| -> Result<(Vec<u8>, usize)> {
            let before = streams
                .lock()
                .map_err(|_| StorageError::Io("lock".into()))?
                .len();
            let mut out = StateWriter::with_sink(streams.clone());
            log.snapshot(&mut out)?;
            let after = streams
                .lock()
                .map_err(|_| StorageError::Io("lock".into()))?
                .len();
            Ok((out.into_bytes(), after - before))
        };
        let restore = |bytes: &[u8]| -> Result<Vec<i64>> {
            let streams = streams
                .lock()
                .map_err(|_| StorageError::Io("lock".into()))?;
            let mut restored = SpillLog::in_budget(&Budget::limited(Some(1)));
            restored.restore(&mut StateReader::with_source(bytes, &*streams), 2)?;
            Ok(numbers(&restored))
        };
        let sealed = log.segments.len();
        let (first, written) = snapshot(&mut log)?;
        assert_eq!(written, sealed + log.open.len());
        streams
            .lock()
            .map_err(|_| StorageError::Io("lock".into()))?
            .commit();
        assert_eq!(restore(&first)?, (0..200_000).collect::<Vec<_>>());
        log.append(batch(200_000, 100), Zone::of(i64::MAX, []));
        let (_, written) = snapshot(&mut log)?;
        assert_eq!(written, log.open.len(), "only the open batches");
        streams
            .lock()
            .map_err(|_| StorageError::Io("lock".into()))?
            .abandon();
        let (second, written) = snapshot(&mut log)?;
        assert_eq!(written, log.open.len());
        streams
            .lock()
            .map_err(|_| StorageError::Io("lock".into()))?
            .commit();
        assert_eq!(restore(&second)?, (0..200_100).collect::<Vec<_>>());
        // Draining visits everything once and removes the files.
        let mut drained = 0;
        log.drain(|batch| {
            drained += batch.num_rows();
            Ok(())
        })?;
        assert_eq!(drained, 200_100);
        assert!(log.is_empty());
        assert_eq!(log.memory_bytes(), 0);
        Ok(())
    }

    #[test]
    fn a_dropped_log_gives_its_bytes_back() -> Result<()> {
        let budget = Budget::limited(Some(1 << 30));
        let mut log = SpillLog::in_budget(&budget);
        log.append(batch(0, 1_000), Zone::of(i64::MAX, []));
        log.settle()?;
        assert!(budget.used() > 0);
        drop(log);
        assert_eq!(budget.used(), 0);
        Ok(())
    }

    #[test]
    fn expired_segments_are_dropped_unread() -> Result<()> {
        let mut log = SpillLog::in_budget(&Budget::limited(Some(1)));
        // Three sealed segments needed until 10, 20 and 30, then an open batch until 40.
        for until in [10, 20, 30] {
            let key = [until as u8];
            log.append(batch(until, SEGMENT_ROWS), Zone::of(until, [&key[..]]));
            log.settle()?;
        }
        log.append(batch(40, 5), Zone::of(40, [&[40_u8, 1][..], &[40, 0]]));
        assert_eq!(log.rows(), 3 * SEGMENT_ROWS + 5);
        log.expire(20);
        assert_eq!(log.rows(), SEGMENT_ROWS + 5);
        assert_eq!(numbers(&log).first(), Some(&30));
        // A scan of what is needed from 31 on reads only the open batch.
        let mut rows = 0;
        let scanned = log.scan_zones(
            |zone| zone.until >= 31,
            |batch| {
                rows += batch.num_rows();
                Ok(())
            },
        )?;
        assert_eq!((scanned, rows), (5, 5));
        // Keys from 35 to 39 are in neither zone's range ([30, 30], [40 0, 40 1]); 30 is.
        let wanted = |low: &[u8], high: &[u8]| {
            let (low, high) = (low.to_vec(), high.to_vec());
            log.scan_zones(move |zone| zone.may_hold(&low, &high), |_| Ok(()))
        };
        assert_eq!(wanted(&[35], &[39])?, 0);
        assert_eq!(wanted(&[30], &[35])?, SEGMENT_ROWS);
        assert_eq!(wanted(&[40, 1], &[41])?, 5);
        log.expire(40);
        assert!(log.is_empty());
        assert_eq!(log.spilled_rows(), 0);
        Ok(())
    }
}
