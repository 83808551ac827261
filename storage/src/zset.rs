//! A multiset of encoded rows with signed weights (a Z-set).
//!
//! Invariant: no live entry has weight 0 (entries that reach 0 are removed). A stored relation
//! (table without key, materialized view) only ever holds positive weights; operator-internal
//! sets may transiently hold negative ones if inputs arrive out of order.
//!
//! Layout: the entries lie back to back in one byte buffer (row length as LEB128, the row
//! bytes, the weight, and in a [timed](ZSet::timed) set the entry's time), so a row costs its
//! bytes plus 9 to 17, with no allocation of its own. Sets of more than [`SCAN_LIMIT`] rows
//! also keep a hash index of entry offsets. A removed entry is marked dead (weight 0) and its
//! bytes are reclaimed when dead bytes reach half the buffer. Join state holds one set per
//! key, most of them small: the per-row allocation and hash slot of a map of boxed rows cost
//! more than the rows themselves.
//!
//! Timed sets serve state whose rows expire (interval joins): each entry carries the time at
//! which it leaves, [`ZSet::expire`] drops the entries due and names the next time, and
//! [`ZSet::schedule`] remembers the earliest time an expiry timer is set for the set, so the
//! owner queues one timer per set instead of one per row.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::codec::RowCodec;
use crate::error::Result;
use crate::state::{StateReader, StateWriter};

/// Sets of at most this many live rows are searched by scanning, without an index.
const SCAN_LIMIT: u32 = 8;

/// High bit of the encoded row count: the set is timed (entries carry times).
const TIMED_FLAG: u64 = 1 << 63;

/// Rows (as memcomparable bytes) with their multiplicities.
#[derive(Debug, Clone)]
pub struct ZSet {
    data: Vec<u8>,
    index: Option<Box<HashTable<usize>>>,
    live: u32,
    dead_bytes: u32,
    timed: bool,
    /// Timed sets: the earliest time an expiry timer is queued for (`i64::MAX`: none).
    scheduled: i64,
}

impl Default for ZSet {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            index: None,
            live: 0,
            dead_bytes: 0,
            timed: false,
            scheduled: i64::MAX,
        }
    }
}

/// The count that starts an encoded set ([`ZSet::write_to`]), flagged if the set is timed.
fn put_count(out: &mut StateWriter, count: u64, timed: bool) {
    out.put_u64(count | if timed { TIMED_FLAG } else { 0 });
}

/// One entry of an encoded set: the row, its weight and, in a timed set, its time.
fn put_entry(out: &mut StateWriter, row: &[u8], weight: i64, time: Option<i64>) {
    out.put_bytes(row);
    out.put_i64(weight);
    if let Some(time) = time {
        out.put_i64(time);
    }
}

/// One entry of the buffer: where its row is, where its weight is, where it ends.
struct Entry {
    row: std::ops::Range<usize>,
    weight_at: usize,
    end: usize,
}

fn hasher() -> &'static DefaultHashBuilder {
    static HASHER: OnceLock<DefaultHashBuilder> = OnceLock::new();
    HASHER.get_or_init(DefaultHashBuilder::default)
}

fn hash(row: &[u8]) -> u64 {
    hasher().hash_one(row)
}

fn read_i64(data: &[u8], at: usize) -> i64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&data[at..at + 8]);
    i64::from_le_bytes(bytes)
}

fn write_i64(data: &mut [u8], at: usize, value: i64) {
    data[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// The entry starting at `at` (the buffer is only ever written by [`ZSet::push`]).
fn entry_at(data: &[u8], at: usize, timed: bool) -> Entry {
    let mut len = 0usize;
    let mut shift = 0;
    let mut pos = at;
    loop {
        let byte = data[pos];
        pos += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let weight_at = pos + len;
    Entry {
        row: pos..weight_at,
        weight_at,
        end: weight_at + if timed { 16 } else { 8 },
    }
}

fn row_at(data: &[u8], at: usize, timed: bool) -> &[u8] {
    &data[entry_at(data, at, timed).row]
}

impl ZSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set whose entries carry times (see the module documentation).
    pub fn timed() -> Self {
        Self {
            timed: true,
            ..Self::default()
        }
    }

    pub fn is_timed(&self) -> bool {
        self.timed
    }

    /// Live entries with their offsets, in buffer order.
    fn entries(&self) -> impl Iterator<Item = (usize, Entry)> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || loop {
            if at >= self.data.len() {
                return None;
            }
            let entry = entry_at(&self.data, at, self.timed);
            let start = at;
            at = entry.end;
            if read_i64(&self.data, entry.weight_at) != 0 {
                return Some((start, entry));
            }
        })
    }

    /// The offset of `row`'s live entry.
    fn find(&self, row: &[u8]) -> Option<usize> {
        match &self.index {
            Some(index) => {
                let (data, timed) = (&self.data, self.timed);
                index
                    .find(hash(row), |&at| row_at(data, at, timed) == row)
                    .copied()
            }
            None => self
                .entries()
                .find(|(_, entry)| &self.data[entry.row.clone()] == row)
                .map(|(at, _)| at),
        }
    }

    /// Append an entry; returns its offset. Grows the buffer by half its size at a time
    /// (instead of doubling): most sets stop growing, and the slack is what they keep.
    fn push(&mut self, row: &[u8], weight: i64, time: i64) -> usize {
        let need = 10 + row.len() + 16;
        if self.data.capacity() - self.data.len() < need {
            let grow = need.max(self.data.capacity() / 2).max(32);
            self.data.reserve_exact(grow);
        }
        let at = self.data.len();
        let mut len = row.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                self.data.push(byte);
                break;
            }
            self.data.push(byte | 0x80);
        }
        self.data.extend_from_slice(row);
        self.data.extend_from_slice(&weight.to_le_bytes());
        if self.timed {
            self.data.extend_from_slice(&time.to_le_bytes());
        }
        self.live += 1;
        match self.index.as_mut() {
            Some(index) => {
                let (data, timed) = (&self.data, self.timed);
                index.insert_unique(hash(row), at, |&o| hash(row_at(data, o, timed)));
            }
            None if self.live > SCAN_LIMIT => self.rebuild_index(),
            None => {}
        }
        at
    }

    fn rebuild_index(&mut self) {
        if self.live <= SCAN_LIMIT {
            self.index = None;
            return;
        }
        let mut index = HashTable::with_capacity(self.live as usize);
        let (data, timed) = (&self.data, self.timed);
        for (at, entry) in self.entries() {
            index.insert_unique(hash(&data[entry.row]), at, |&o| {
                hash(row_at(data, o, timed))
            });
        }
        self.index = Some(Box::new(index));
    }

    /// Mark the live entry at `at` dead (offsets stay valid until [`ZSet::reclaim`]).
    fn mark_dead(&mut self, at: usize) {
        let entry = entry_at(&self.data, at, self.timed);
        if let Some(index) = self.index.as_mut() {
            let row = &self.data[entry.row.clone()];
            if let Ok(found) = index.find_entry(hash(row), |&o| o == at) {
                found.remove();
            }
        }
        write_i64(&mut self.data, entry.weight_at, 0);
        self.live -= 1;
        self.dead_bytes = self
            .dead_bytes
            .saturating_add(u32::try_from(entry.end - at).unwrap_or(u32::MAX));
    }

    /// Free the buffer of an empty set, or compact one whose dead bytes are half of it.
    fn reclaim(&mut self) {
        if self.live == 0 {
            self.data = Vec::new();
            self.index = None;
            self.dead_bytes = 0;
        } else if self.dead_bytes as usize * 2 >= self.data.len() {
            self.compact();
        }
    }

    /// Rewrite the buffer with the live entries only.
    fn compact(&mut self) {
        let mut data = Vec::with_capacity(self.data.len() - self.dead_bytes as usize);
        for (at, entry) in self.entries() {
            data.extend_from_slice(&self.data[at..entry.end]);
        }
        self.data = data;
        self.dead_bytes = 0;
        self.rebuild_index();
    }

    /// Write the set: count, then (row, weight) pairs (checkpoints and spilled state). A
    /// timed set flags the count and adds each entry's time and the scheduled time.
    pub fn write_to(&self, out: &mut StateWriter) {
        put_count(out, u64::from(self.live), self.timed);
        for (_, entry) in self.entries() {
            let time = self
                .timed
                .then(|| read_i64(&self.data, entry.weight_at + 8));
            let weight = read_i64(&self.data, entry.weight_at);
            put_entry(out, &self.data[entry.row.clone()], weight, time);
        }
        if self.timed {
            out.put_i64(self.scheduled);
        }
    }

    /// Write a set of one row with `weight` (expiring at `time` if given) in the encoding of
    /// [`ZSet::write_to`], without building the set: a change appended to a spilled set.
    pub fn write_one(out: &mut StateWriter, row: &[u8], weight: i64, time: Option<i64>) {
        put_count(out, 1, time.is_some());
        put_entry(out, row, weight, time);
        if time.is_some() {
            out.put_i64(i64::MAX); // no timer queued by the change itself
        }
    }

    /// Read a set written by [`ZSet::write_to`].
    pub fn read_from(input: &mut StateReader) -> Result<Self> {
        let count = input.u64()?;
        let timed = count & TIMED_FLAG != 0;
        let count = count & !TIMED_FLAG;
        if count > u64::from(u32::MAX) {
            return Err(crate::error::StorageError::Corrupt(format!(
                "a row set has a bad length {count}"
            )));
        }
        let mut set = if timed { ZSet::timed() } else { ZSet::new() };
        for _ in 0..count {
            let row = input.bytes()?;
            let weight = input.i64()?;
            let time = if timed { input.i64()? } else { i64::MAX };
            set.add_at(row, weight, time);
        }
        if timed {
            set.scheduled = input.i64()?;
        }
        Ok(set)
    }

    /// Add `weight` to `row`; returns the new weight.
    pub fn add(&mut self, row: &[u8], weight: i64) -> i64 {
        self.add_at(row, weight, i64::MAX)
    }

    /// Add `weight` to `row`, which expires at `time` if the set is timed (a row's time is a
    /// function of the row: an existing entry keeps its time); returns the new weight.
    pub fn add_at(&mut self, row: &[u8], weight: i64, time: i64) -> i64 {
        if weight == 0 {
            return self.weight(row);
        }
        match self.find(row) {
            Some(at) => {
                let weight_at = entry_at(&self.data, at, self.timed).weight_at;
                let new = read_i64(&self.data, weight_at) + weight;
                if new == 0 {
                    self.mark_dead(at);
                    self.reclaim();
                } else {
                    write_i64(&mut self.data, weight_at, new);
                }
                new
            }
            None => {
                self.push(row, weight, time);
                weight
            }
        }
    }

    /// The weight of `row` (0 when absent).
    pub fn weight(&self, row: &[u8]) -> i64 {
        self.find(row).map_or(0, |at| {
            read_i64(&self.data, entry_at(&self.data, at, self.timed).weight_at)
        })
    }

    /// Number of distinct rows.
    pub fn distinct_len(&self) -> usize {
        self.live as usize
    }

    /// Sum of all weights (the row count of a relation with positive weights).
    pub fn total_weight(&self) -> i64 {
        self.iter().map(|(_, weight)| weight).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Distinct rows with their weights, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64)> {
        self.entries()
            .map(|(_, entry)| (&self.data[entry.row], read_i64(&self.data, entry.weight_at)))
    }

    /// Distinct rows with their weights and times (`i64::MAX` in an untimed set).
    pub fn iter_timed(&self) -> impl Iterator<Item = (&[u8], i64, i64)> {
        self.entries().map(|(_, entry)| {
            let time = if self.timed {
                read_i64(&self.data, entry.weight_at + 8)
            } else {
                i64::MAX
            };
            (
                &self.data[entry.row],
                read_i64(&self.data, entry.weight_at),
                time,
            )
        })
    }

    pub fn clear(&mut self) {
        let (timed, scheduled) = (self.timed, self.scheduled);
        *self = Self::default();
        self.timed = timed;
        self.scheduled = scheduled;
    }

    /// Remove every entry whose time is at or below `upto`, whatever its weight; returns the
    /// earliest time of the entries left.
    pub fn expire(&mut self, upto: i64) -> Option<i64> {
        self.expire_each(upto, |_, _| {})
    }

    /// [`ZSet::expire`], passing each removed row and its weight to `each` first.
    pub fn expire_each(&mut self, upto: i64, mut each: impl FnMut(&[u8], i64)) -> Option<i64> {
        if !self.timed {
            return None;
        }
        let mut due = Vec::new();
        let mut next: Option<i64> = None;
        for (at, entry) in self.entries() {
            let time = read_i64(&self.data, entry.weight_at + 8);
            if time <= upto {
                each(
                    &self.data[entry.row.clone()],
                    read_i64(&self.data, entry.weight_at),
                );
                due.push(at);
            } else {
                next = Some(next.map_or(time, |n| n.min(time)));
            }
        }
        for at in due {
            self.mark_dead(at);
        }
        self.reclaim();
        next
    }

    /// The earliest time an expiry timer is queued for this set (`i64::MAX`: none).
    pub fn scheduled(&self) -> i64 {
        self.scheduled
    }

    /// Note that a timer for `time` is queued; returns whether it is earlier than the one
    /// queued before (only then does the caller need to queue it).
    pub fn schedule(&mut self, time: i64) -> bool {
        if time < self.scheduled {
            self.scheduled = time;
            true
        } else {
            false
        }
    }

    /// Set the time of the queued timer outright (after one fired, or after a restore).
    pub fn set_scheduled(&mut self, time: i64) {
        self.scheduled = time;
    }

    /// Approximate bytes of memory the set occupies.
    pub fn memory_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.data.capacity()
            + self.index.as_ref().map_or(0, |i| {
                48 + i.capacity() * (std::mem::size_of::<usize>() + 1)
            })
    }

    /// Materialize as a batch, repeating each row by its (positive) weight.
    pub fn to_batch(&self, codec: &RowCodec, schema: &SchemaRef) -> Result<RecordBatch> {
        let mut expanded: Vec<&[u8]> = Vec::with_capacity(self.live as usize);
        for (row, weight) in self.iter() {
            for _ in 0..weight.max(0) {
                expanded.push(row);
            }
        }
        codec.decode_batch(schema, expanded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A simple model: the same operations on a map of rows to weights.
    fn check(set: &ZSet, model: &HashMap<Vec<u8>, i64>) {
        assert_eq!(set.distinct_len(), model.len());
        let got: HashMap<Vec<u8>, i64> = set.iter().map(|(r, w)| (r.to_vec(), w)).collect();
        assert_eq!(&got, model);
        for (row, weight) in model {
            assert_eq!(set.weight(row), *weight);
        }
    }

    #[test]
    fn matches_a_map_through_inserts_deletes_and_compactions() {
        let mut set = ZSet::new();
        let mut model: HashMap<Vec<u8>, i64> = HashMap::new();
        // A deterministic pseudo-random walk over 200 rows of varied length (some > 127
        // bytes, for two-byte lengths), weights of both signs.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for step in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let id = (state % 200) as usize;
            let row: Vec<u8> = std::iter::repeat_n(id as u8, 1 + (id * 7) % 150).collect();
            let weight = [1, 1, 2, -1, -2][(state >> 20) as usize % 5];
            let new = set.add(&row, weight);
            let entry = model.entry(row.clone()).or_insert(0);
            *entry += weight;
            assert_eq!(new, *entry);
            if *entry == 0 {
                model.remove(&row);
            }
            if step % 997 == 0 {
                check(&set, &model);
            }
        }
        check(&set, &model);
        let mut out = StateWriter::new();
        set.write_to(&mut out);
        let bytes = out.into_bytes();
        let back = ZSet::read_from(&mut StateReader::new(&bytes)).unwrap();
        check(&back, &model);
        assert!(set.memory_size() < 64 + 200 * (160 + 30) * 2);
    }

    #[test]
    fn timed_entries_expire_and_name_the_next_time() {
        let mut set = ZSet::timed();
        for i in 0..100i64 {
            set.add_at(&i.to_be_bytes(), 1, i % 10);
        }
        // An existing row keeps its time.
        set.add_at(&5i64.to_be_bytes(), 1, 1000);
        assert!(set.schedule(0));
        assert!(!set.schedule(3));
        assert_eq!(set.expire(4), Some(5));
        assert_eq!(set.distinct_len(), 50);
        assert_eq!(set.weight(&5i64.to_be_bytes()), 2);
        assert_eq!(set.weight(&3i64.to_be_bytes()), 0);
        let mut out = StateWriter::new();
        set.write_to(&mut out);
        let bytes = out.into_bytes();
        let mut back = ZSet::read_from(&mut StateReader::new(&bytes)).unwrap();
        assert!(back.is_timed());
        assert_eq!(back.scheduled(), 0);
        assert_eq!(back.expire(8), Some(9));
        assert_eq!(back.distinct_len(), 10);
        assert_eq!(back.expire(9), None);
        assert!(back.is_empty());
    }
}
