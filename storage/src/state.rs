//! A compact binary encoding for checkpointed operator state.
//!
//! Operators write their state as a sequence of fixed-width integers and length-prefixed byte
//! strings; readers take them back in the same order. Every read checks the remaining length,
//! so a truncated or garbled snapshot is a [`StorageError::Corrupt`], never a panic.
//!
//! State larger than memory does not go through one buffer: a writer made for a checkpoint
//! carries a [`StateSink`], and state that may be large (a map with spilled entries, a
//! relation's rows) writes its records to a stream of the sink as it visits them, leaving in
//! the buffer only a reference to the stream ([`StreamRef`]: its checkpoint generation, id
//! and number of records, after the [`EXTERNAL`] marker). A reader made for a restore carries
//! the matching [`StateSource`] and reads the stream back one record at a time. Streams of a
//! committed checkpoint can be referenced again by later ones ([`StateWriter::keep_stream`]):
//! state that did not change is not written again (see [`crate::SpillMap::snapshot`]).
//! Without a sink (tests, a fork) everything goes into the buffer.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::error::{Result, StorageError};

/// Where a checkpoint keeps records outside the buffer of the entry that refers to them:
/// numbered streams of (key, value) records, keys unique within a stream.
pub trait StateSink: Send {
    /// Which streams this checkpoint and the committed one refer to.
    fn book(&self) -> &StreamBook;
    fn book_mut(&mut self) -> &mut StreamBook;
    /// Add a record to `stream` of this generation (written out in bounded batches, not
    /// held until the end).
    fn put(&mut self, stream: u64, key: &[u8], value: &[u8]) -> Result<()>;

    /// The generation of the checkpoint being written, and of the last committed one.
    fn generations(&self) -> (u64, Option<u64>) {
        self.book().generations()
    }
    /// A new stream of this generation (ids are unique within the generation).
    fn open_stream(&mut self) -> u64 {
        self.book_mut().open()
    }
    /// This checkpoint refers to `stream`, written by a committed earlier one: keep it.
    fn keep(&mut self, stream: StreamRef) {
        self.book_mut().keep(stream);
    }
    /// Whether the last committed checkpoint refers to `stream`.
    fn holds(&self, stream: StreamRef) -> bool {
        self.book().holds(stream)
    }
}

/// What a [`StateSource`] hands each record of a stream to.
pub type RecordVisitor<'v> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'v;

/// Reads the streams a [`StateSink`] wrote.
pub trait StateSource: Send + Sync {
    /// Every record of `stream`, in key order.
    fn read_stream(&self, stream: StreamRef, each: &mut RecordVisitor<'_>) -> Result<()>;
}

/// A sink shared by the writers of one checkpoint.
pub type SharedSink = Arc<Mutex<dyn StateSink>>;

/// In place of a count: the records are in the stream whose reference comes next (no count
/// is ever this large; a reader that does not know the marker fails on it as a bad length).
pub const EXTERNAL: u64 = u64::MAX;

/// A stream of a checkpoint: the generation that wrote it, its id, and how many records it
/// holds (a reader that finds another number fails: a stream that lost records is corrupt,
/// not a smaller state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamRef {
    pub generation: u64,
    pub id: u64,
    pub records: u64,
}

/// What every [`StateSink`] keeps the same way: the generation being written and the last
/// committed one, the streams opened so far, the streams this checkpoint refers to (opened
/// or kept) and those the committed one refers to.
#[derive(Debug, Default)]
pub struct StreamBook {
    generation: u64,
    committed: Option<u64>,
    opened: u64,
    referenced: BTreeSet<(u64, u64)>,
    held: BTreeSet<(u64, u64)>,
}

impl StreamBook {
    /// The book of generation `generation`, after `committed`, which refers to `held`.
    pub fn new(generation: u64, committed: Option<u64>, held: BTreeSet<(u64, u64)>) -> Self {
        Self {
            generation,
            committed,
            opened: 0,
            referenced: BTreeSet::new(),
            held,
        }
    }

    /// The generation being written and the last committed one.
    pub fn generations(&self) -> (u64, Option<u64>) {
        (self.generation, self.committed)
    }

    /// The id of a new stream of this generation, referred to by this checkpoint.
    pub fn open(&mut self) -> u64 {
        self.opened += 1;
        self.referenced.insert((self.generation, self.opened));
        self.opened
    }

    /// This checkpoint refers to `stream` of a committed earlier one.
    pub fn keep(&mut self, stream: StreamRef) {
        self.referenced.insert((stream.generation, stream.id));
    }

    /// Whether the committed checkpoint refers to `stream`.
    pub fn holds(&self, stream: StreamRef) -> bool {
        self.held.contains(&(stream.generation, stream.id))
    }

    /// The (generation, id) of every stream this checkpoint refers to.
    pub fn referenced(&self) -> &BTreeSet<(u64, u64)> {
        &self.referenced
    }

    /// The (generation, id) of every stream the committed checkpoint refers to.
    pub fn held(&self) -> &BTreeSet<(u64, u64)> {
        &self.held
    }

    /// The book of the next generation once this one committed.
    fn committed(self) -> Self {
        Self::new(self.generation + 1, Some(self.generation), self.referenced)
    }

    /// The book of this generation again after it failed.
    fn abandoned(self) -> Self {
        Self::new(self.generation, self.committed, self.held)
    }
}

/// A stream opened by [`StateWriter::open_stream`].
pub struct ExternalStream {
    sink: SharedSink,
    reference: StreamRef,
}

fn lock(sink: &SharedSink) -> Result<std::sync::MutexGuard<'_, dyn StateSink + 'static>> {
    sink.lock()
        .map_err(|_| StorageError::Io("checkpoint sink lock poisoned".into()))
}

impl ExternalStream {
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.reference.records += 1;
        lock(&self.sink)?.put(self.reference.id, key, value)
    }

    /// The stream with the records written so far.
    pub fn reference(&self) -> StreamRef {
        self.reference
    }
}

/// Appends state to a byte buffer.
#[derive(Default)]
pub struct StateWriter {
    buf: Vec<u8>,
    sink: Option<SharedSink>,
}

impl std::fmt::Debug for StateWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateWriter")
            .field("bytes", &self.buf.len())
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl StateWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer for a checkpoint that keeps large state in `sink`'s streams.
    pub fn with_sink(sink: SharedSink) -> Self {
        Self {
            buf: Vec::new(),
            sink: Some(sink),
        }
    }

    /// A new stream outside these bytes, when this writer writes for a checkpoint with a
    /// sink; `None`: the caller writes its records here. Close it with
    /// [`StateWriter::close_stream`] where a reader expects the records.
    pub fn open_stream(&mut self) -> Result<Option<ExternalStream>> {
        let Some(sink) = self.sink.clone() else {
            return Ok(None);
        };
        let (generation, id) = {
            let mut guard = lock(&sink)?;
            (guard.generations().0, guard.open_stream())
        };
        Ok(Some(ExternalStream {
            sink,
            reference: StreamRef {
                generation,
                id,
                records: 0,
            },
        }))
    }

    /// If `stream` was opened: the [`EXTERNAL`] marker and its reference (read back by
    /// [`StateReader::external`]).
    pub fn close_stream(&mut self, stream: Option<ExternalStream>) {
        if let Some(stream) = stream {
            self.put_u64(EXTERNAL);
            self.put_stream(stream.reference);
        }
    }

    /// A stream's reference (read back by [`StateReader::stream`]).
    pub fn put_stream(&mut self, stream: StreamRef) {
        self.put_u64(stream.generation);
        self.put_u64(stream.id);
        self.put_u64(stream.records);
    }

    /// A list of stream references (read back by [`StateReader::streams`]).
    pub fn put_streams(&mut self, streams: &[StreamRef]) {
        self.put_u64(streams.len() as u64);
        for stream in streams {
            self.put_stream(*stream);
        }
    }

    /// The generation being written and the last committed one, when writing for a
    /// checkpoint with a sink.
    pub fn generations(&self) -> Result<Option<(u64, Option<u64>)>> {
        match &self.sink {
            Some(sink) => Ok(Some(lock(sink)?.generations())),
            None => Ok(None),
        }
    }

    /// Whether the last committed checkpoint refers to `stream` (see [`StateSink::holds`]).
    pub fn holds_stream(&self, stream: StreamRef) -> Result<bool> {
        match &self.sink {
            Some(sink) => Ok(lock(sink)?.holds(stream)),
            None => Ok(false),
        }
    }

    /// This checkpoint refers to `stream` of a committed earlier one (see
    /// [`StateSink::keep`]).
    pub fn keep_stream(&mut self, stream: StreamRef) -> Result<()> {
        if let Some(sink) = &self.sink {
            lock(sink)?.keep(stream);
        }
        Ok(())
    }

    pub fn put_u64(&mut self, value: u64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn put_i64(&mut self, value: i64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn put_u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub fn put_bool(&mut self, value: bool) {
        self.buf.push(u8::from(value));
    }

    pub fn put_opt_i64(&mut self, value: Option<i64>) {
        self.put_bool(value.is_some());
        if let Some(value) = value {
            self.put_i64(value);
        }
    }

    pub fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_u64(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes already in this encoding (written by another writer), appended as they are.
    pub fn put_raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// A nested section written by `write`, length-prefixed so a reader can skip it whole.
    pub fn put_section<E>(
        &mut self,
        write: impl FnOnce(&mut StateWriter) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut inner = StateWriter {
            buf: Vec::new(),
            sink: self.sink.clone(),
        };
        write(&mut inner)?;
        self.put_bytes(&inner.buf);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Forget the bytes written, keeping the buffer's capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads state written by a [`StateWriter`].
pub struct StateReader<'a> {
    buf: &'a [u8],
    source: Option<&'a dyn StateSource>,
}

impl std::fmt::Debug for StateReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateReader")
            .field("left", &self.buf.len())
            .field("source", &self.source.is_some())
            .finish()
    }
}

impl<'a> StateReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, source: None }
    }

    /// A reader of a checkpoint entry whose streams `source` holds.
    pub fn with_source(buf: &'a [u8], source: &'a dyn StateSource) -> Self {
        Self {
            buf,
            source: Some(source),
        }
    }

    /// If the next thing is the [`EXTERNAL`] marker, read it and the stream's reference.
    pub fn external(&mut self) -> Result<Option<StreamRef>> {
        if self.peek_u64() != Some(EXTERNAL) {
            return Ok(None);
        }
        self.u64()?;
        Ok(Some(self.stream()?))
    }

    /// A reference written by [`StateWriter::put_stream`].
    pub fn stream(&mut self) -> Result<StreamRef> {
        Ok(StreamRef {
            generation: self.u64()?,
            id: self.u64()?,
            records: self.u64()?,
        })
    }

    /// A list written by [`StateWriter::put_streams`].
    pub fn streams(&mut self) -> Result<Vec<StreamRef>> {
        (0..self.len_prefix()?).map(|_| self.stream()).collect()
    }

    /// Every record of `stream`, in key order, checking their number against the
    /// reference's; the first error `each` returns (of the caller's error type) stops the
    /// reading and is returned.
    pub fn read_stream<E: From<StorageError>>(
        &self,
        stream: StreamRef,
        mut each: impl FnMut(&[u8], &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let source = self.source.ok_or_else(|| {
            StorageError::Corrupt(
                "operator state refers to records outside its entry, and none are at hand".into(),
            )
        })?;
        let mut failure = None;
        let mut records = 0u64;
        let read = source.read_stream(stream, &mut |key, value| {
            records += 1;
            each(key, value).map_err(|error| {
                failure = Some(error);
                StorageError::State("stopped by the reader of a stream".into())
            })
        });
        if let Some(error) = failure {
            return Err(error);
        }
        read?;
        if records != stream.records {
            return Err(StorageError::Corrupt(format!(
                "checkpoint stream {} of generation {} has {records} records, its entry says {}",
                stream.id, stream.generation, stream.records
            ))
            .into());
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(StorageError::Corrupt(format!(
                "operator state is truncated: wanted {n} more bytes, {} left",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn u64(&mut self) -> Result<u64> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    pub fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }

    /// The next `u64` without reading past it (`None` when fewer than 8 bytes are left).
    pub fn peek_u64(&self) -> Option<u64> {
        let bytes: [u8; 8] = self.buf.get(..8)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    /// A length or count, checked against what is left so garbage cannot ask for terabytes.
    pub fn len_prefix(&mut self) -> Result<usize> {
        let n = self.u64()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len().saturating_mul(8).max(1 << 20))
            .ok_or_else(|| StorageError::Corrupt(format!("operator state has a bad length {n}")))
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn bool(&mut self) -> Result<bool> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(StorageError::Corrupt(format!(
                "operator state has a bad flag byte {other}"
            ))),
        }
    }

    pub fn opt_i64(&mut self) -> Result<Option<i64>> {
        Ok(if self.bool()? {
            Some(self.i64()?)
        } else {
            None
        })
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u64()?;
        let n = usize::try_from(n)
            .map_err(|_| StorageError::Corrupt(format!("operator state has a bad length {n}")))?;
        self.take(n)
    }

    /// A section written by [`StateWriter::put_section`].
    pub fn section(&mut self) -> Result<StateReader<'a>> {
        Ok(StateReader {
            buf: self.bytes()?,
            source: self.source,
        })
    }

    /// The bytes not read yet, consumed.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fail unless everything was read (a reader that disagrees with its writer).
    pub fn finish(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(StorageError::Corrupt(format!(
                "operator state has {} unread bytes",
                self.buf.len()
            )))
        }
    }
}

/// Streams held in memory (a [`StateSink`] and [`StateSource`] for tests of state that
/// streams, and for copies of state within the process). Generations advance with
/// [`MemoryStreams::commit`]; streams of every generation are kept.
#[derive(Debug)]
pub struct MemoryStreams {
    records: std::collections::BTreeMap<(u64, u64, Vec<u8>), Vec<u8>>,
    book: StreamBook,
}

impl Default for MemoryStreams {
    fn default() -> Self {
        Self {
            records: Default::default(),
            book: StreamBook::new(1, None, BTreeSet::new()),
        }
    }
}

impl MemoryStreams {
    /// A sink that writes into a new, shared set of streams.
    pub fn shared() -> Arc<Mutex<MemoryStreams>> {
        Arc::new(Mutex::new(MemoryStreams::default()))
    }

    /// Records written, over all streams.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The generation being written is committed; the next one starts.
    pub fn commit(&mut self) {
        self.book = std::mem::take(&mut self.book).committed();
    }

    /// The generation being written is abandoned (its checkpoint failed): the next one
    /// reuses its number and starts without its streams.
    pub fn abandon(&mut self) {
        let (generation, _) = self.book.generations();
        self.records.retain(|(g, _, _), _| *g < generation);
        self.book = std::mem::take(&mut self.book).abandoned();
    }
}

impl StateSink for MemoryStreams {
    fn book(&self) -> &StreamBook {
        &self.book
    }

    fn book_mut(&mut self) -> &mut StreamBook {
        &mut self.book
    }

    fn put(&mut self, stream: u64, key: &[u8], value: &[u8]) -> Result<()> {
        let (generation, _) = self.book.generations();
        self.records
            .insert((generation, stream, key.to_vec()), value.to_vec());
        Ok(())
    }
}

impl StateSource for MemoryStreams {
    fn read_stream(&self, stream: StreamRef, each: &mut RecordVisitor<'_>) -> Result<()> {
        let start = (stream.generation, stream.id, Vec::new());
        for ((generation, id, key), value) in self.records.range(start..) {
            if (*generation, *id) != (stream.generation, stream.id) {
                break;
            }
            each(key, value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() -> Result<()> {
        let mut writer = StateWriter::new();
        writer.put_u64(7);
        writer.put_opt_i64(Some(-3));
        writer.put_opt_i64(None);
        writer.put_bytes(b"abc");
        writer.put_section(|inner| {
            inner.put_bool(true);
            Ok::<_, StorageError>(())
        })?;
        let bytes = writer.into_bytes();
        let mut reader = StateReader::new(&bytes);
        assert_eq!(reader.u64()?, 7);
        assert_eq!(reader.opt_i64()?, Some(-3));
        assert_eq!(reader.opt_i64()?, None);
        assert_eq!(reader.bytes()?, b"abc");
        let mut inner = reader.section()?;
        assert!(inner.bool()?);
        inner.finish()?;
        reader.finish()?;
        for cut in 0..bytes.len() {
            let mut reader = StateReader::new(&bytes[..cut]);
            let result = (|| -> Result<()> {
                reader.u64()?;
                reader.opt_i64()?;
                reader.opt_i64()?;
                reader.bytes()?;
                reader.section()?.bool()?;
                Ok(())
            })();
            assert!(result.is_err(), "truncated at {cut} read fine");
        }
        Ok(())
    }

    #[test]
    fn streams_hold_records_outside_the_bytes_and_count_them() -> Result<()> {
        let streams = MemoryStreams::shared();
        let mut writer = StateWriter::with_sink(streams.clone());
        writer.put_u64(1);
        writer.put_section(|inner| {
            let mut stream = inner.open_stream()?.expect("a sink");
            for key in 0u64..3 {
                stream.put(&key.to_be_bytes(), b"value")?;
            }
            inner.close_stream(Some(stream));
            inner.put_bool(true);
            Ok::<_, StorageError>(())
        })?;
        let bytes = writer.into_bytes();
        let read = |streams: &MemoryStreams| -> Result<Vec<u64>> {
            let mut reader = StateReader::with_source(&bytes, streams);
            assert_eq!(reader.u64()?, 1);
            let mut inner = reader.section()?;
            let stream = inner.external()?.expect("the stream's marker");
            let mut keys = Vec::new();
            inner.read_stream(stream, |key, value| {
                assert_eq!(value, b"value");
                keys.push(u64::from_be_bytes(key.try_into().expect("8 bytes")));
                Ok::<_, StorageError>(())
            })?;
            assert!(inner.bool()?);
            inner.finish()?;
            Ok(keys)
        };
        let mut streams = streams.lock().expect("lock");
        assert_eq!(read(&streams)?, vec![0, 1, 2]);
        // A stream that lost a record is corrupt, not a smaller state.
        streams.records.remove(&(1, 1, 1u64.to_be_bytes().to_vec()));
        assert!(matches!(read(&streams), Err(StorageError::Corrupt(_))));
        // Without a source the reference is an error too.
        let mut reader = StateReader::new(&bytes);
        reader.u64()?;
        let mut inner = reader.section()?;
        let stream = inner.external()?.expect("marker");
        assert!(inner
            .read_stream(stream, |_, _| Ok::<_, StorageError>(()))
            .is_err());
        Ok(())
    }
}
