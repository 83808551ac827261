//! One top-N partition: rows in (sort key, row bytes) order with weights.
//!
//! A partition of an append-only top-N holds at most `offset + limit` rows (often one: Nexmark
//! q18's latest bid per bidder and auction, deduplication), and there are millions of
//! partitions. A B-tree costs a 400-byte leaf per partition however few rows it holds, so a
//! partition is a sorted vector of single allocations (sort key and row together) while it is
//! small, and becomes a B-tree once it grows past [`SMALL_ROWS`] (inserting into a long
//! vector would shift its tail on every row).

use sluice_storage::spill::{OrderedRows, SpillValue};
use sluice_storage::{StateReader, StateWriter};

/// Rows a partition keeps in a sorted vector before it becomes a B-tree.
const SMALL_ROWS: usize = 32;

/// A row of a small partition: sort key and row bytes in one allocation, where the key ends,
/// and the weight.
pub(crate) struct Entry {
    bytes: Box<[u8]>,
    key_len: u32,
    weight: i64,
}

impl Entry {
    fn key(&self) -> &[u8] {
        &self.bytes[..self.key_len as usize]
    }

    fn row(&self) -> &[u8] {
        &self.bytes[self.key_len as usize..]
    }

    fn cmp_to(&self, key: &[u8], row: &[u8]) -> std::cmp::Ordering {
        self.key().cmp(key).then_with(|| self.row().cmp(row))
    }
}

pub(crate) enum RankedRows {
    Small(Vec<Entry>),
    Large(OrderedRows),
}

impl Default for RankedRows {
    fn default() -> Self {
        RankedRows::Small(Vec::new())
    }
}

impl RankedRows {
    /// Add `weight` to the row (`key`, `row`); it leaves when its weight reaches 0.
    pub(crate) fn add(&mut self, key: &[u8], row: &[u8], weight: i64) {
        if weight == 0 {
            return;
        }
        match self {
            RankedRows::Small(entries) => match entries.binary_search_by(|e| e.cmp_to(key, row)) {
                Ok(at) => {
                    entries[at].weight += weight;
                    if entries[at].weight == 0 {
                        entries.remove(at);
                    }
                }
                Err(at) => {
                    let mut bytes = Vec::with_capacity(key.len() + row.len());
                    bytes.extend_from_slice(key);
                    bytes.extend_from_slice(row);
                    let key_len = u32::try_from(key.len()).unwrap_or(u32::MAX);
                    entries.insert(
                        at,
                        Entry {
                            bytes: bytes.into_boxed_slice(),
                            key_len,
                            weight,
                        },
                    );
                    if entries.len() > SMALL_ROWS {
                        let large = entries
                            .drain(..)
                            .map(|e| ((Box::from(e.key()), Box::from(e.row())), e.weight))
                            .collect();
                        *self = RankedRows::Large(large);
                    }
                }
            },
            RankedRows::Large(rows) => {
                let entry = (Box::from(key), Box::from(row));
                let current = rows.entry(entry).or_insert(0);
                *current += weight;
                if *current == 0 {
                    rows.remove(&(Box::from(key), Box::from(row)));
                }
            }
        }
    }

    /// Whether (`key`, `row`) sorts after every row while the rows already hold `keep`
    /// copies: truncating to `keep` would drop it again, so a bounded top-N over an
    /// append-only input skips it (most rows of a top-1 partition lose).
    pub(crate) fn beyond(&self, key: &[u8], row: &[u8], keep: u64) -> bool {
        let last_before = match self {
            RankedRows::Small(entries) => entries
                .last()
                .is_some_and(|e| e.cmp_to(key, row) == std::cmp::Ordering::Less),
            RankedRows::Large(rows) => rows
                .last_key_value()
                .is_some_and(|((k, r), _)| (k.as_ref(), r.as_ref()) < (key, row)),
        };
        last_before && self.holds(keep)
    }

    /// Whether every row with sort key `key` sorts after every row while the rows already
    /// hold `keep` copies ([`RankedRows::beyond`] for any row bytes): the last row's key is
    /// smaller than `key`. A tie on the key is not beyond: the row bytes decide it.
    pub(crate) fn beyond_key(&self, key: &[u8], keep: u64) -> bool {
        let last_key_before = match self {
            RankedRows::Small(entries) => entries.last().is_some_and(|e| e.key() < key),
            RankedRows::Large(rows) => rows
                .last_key_value()
                .is_some_and(|((k, _), _)| k.as_ref() < key),
        };
        last_key_before && self.holds(keep)
    }

    /// Whether the rows hold at least `keep` copies (positive weights).
    fn holds(&self, keep: u64) -> bool {
        let mut copies = 0u64;
        let mut reaches = |weight: i64| {
            copies += weight.max(0) as u64;
            copies >= keep
        };
        match self {
            RankedRows::Small(entries) => entries.iter().any(|e| reaches(e.weight)),
            RankedRows::Large(rows) => rows.values().any(|&weight| reaches(weight)),
        }
    }

    /// The rows in order: (sort key, row, weight).
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8], i64)> + '_> {
        match self {
            RankedRows::Small(entries) => {
                Box::new(entries.iter().map(|e| (e.key(), e.row(), e.weight)))
            }
            RankedRows::Large(rows) => Box::new(
                rows.iter()
                    .map(|((key, row), weight)| (key.as_ref(), row.as_ref(), *weight)),
            ),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            RankedRows::Small(entries) => entries.len(),
            RankedRows::Large(rows) => rows.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep the first `keep` rows counted by weight (a row straddling the cut keeps the
    /// copies that fit); drop the rest.
    pub(crate) fn truncate(&mut self, keep: u64) {
        let mut position = 0u64;
        let mut cut: Option<usize> = None;
        let mut reduce: Option<(usize, i64)> = None;
        for (index, (_, _, weight)) in self.iter().enumerate() {
            if position >= keep {
                cut = Some(index);
                break;
            }
            let copies = weight.max(0) as u64;
            if position + copies > keep {
                reduce = Some((index, (keep - position) as i64));
            }
            position += copies.min(keep - position);
        }
        match self {
            RankedRows::Small(entries) => {
                if let Some((index, weight)) = reduce {
                    entries[index].weight = weight;
                }
                if let Some(cut) = cut {
                    entries.truncate(cut);
                    entries.shrink_to_fit();
                }
            }
            RankedRows::Large(rows) => {
                if let Some((index, weight)) = reduce {
                    if let Some((_, w)) = rows.iter_mut().nth(index) {
                        *w = weight;
                    }
                }
                if let Some(cut) = cut {
                    let first_dropped = rows.keys().nth(cut).cloned();
                    if let Some(first_dropped) = first_dropped {
                        drop(rows.split_off(&first_dropped));
                    }
                }
                if rows.len() <= SMALL_ROWS / 2 {
                    let small = std::mem::take(rows)
                        .into_iter()
                        .map(|((key, row), weight)| {
                            let mut bytes = key.into_vec();
                            let key_len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                            bytes.extend_from_slice(&row);
                            Entry {
                                bytes: bytes.into_boxed_slice(),
                                key_len,
                                weight,
                            }
                        })
                        .collect();
                    *self = RankedRows::Small(small);
                }
            }
        }
    }
}

/// Encoded like the B-tree partitions before (count, then sort key, row and weight per
/// row), so checkpoints and spilled partitions keep their format.
impl SpillValue for RankedRows {
    type Context = ();

    fn memory_size(&self) -> usize {
        match self {
            RankedRows::Small(entries) => {
                32 + entries.capacity() * std::mem::size_of::<Entry>()
                    + entries.iter().map(|e| e.bytes.len() + 16).sum::<usize>()
            }
            RankedRows::Large(rows) => rows.memory_size(),
        }
    }

    fn rows(&self) -> usize {
        self.len()
    }

    fn encode(&mut self, out: &mut StateWriter, _: &()) -> sluice_storage::error::Result<()> {
        match self {
            RankedRows::Large(rows) => rows.encode(out, &()),
            RankedRows::Small(entries) => {
                out.put_u64(entries.len() as u64);
                for entry in entries.iter() {
                    out.put_bytes(entry.key());
                    out.put_bytes(entry.row());
                    out.put_i64(entry.weight);
                }
                Ok(())
            }
        }
    }

    fn decode(input: &mut StateReader, _: &()) -> sluice_storage::error::Result<Self> {
        let mut rows = RankedRows::default();
        for _ in 0..input.len_prefix()? {
            let key = input.bytes()?;
            let row = input.bytes()?;
            rows.add(key, row, input.i64()?);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Model = std::collections::BTreeMap<(Vec<u8>, Vec<u8>), i64>;

    fn as_model(rows: &RankedRows) -> Model {
        rows.iter()
            .map(|(k, r, w)| ((k.to_vec(), r.to_vec()), w))
            .collect()
    }

    #[test]
    fn keeps_order_through_growth_truncation_and_encoding() {
        let mut rows = RankedRows::default();
        let mut model = Model::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..5000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let key = vec![(state % 50) as u8];
            let row = vec![(state >> 8) as u8 % 3, 7];
            let weight = if (state >> 16).is_multiple_of(4) {
                -1
            } else {
                1
            };
            rows.add(&key, &row, weight);
            let w = model.entry((key.clone(), row.clone())).or_insert(0);
            *w += weight;
            if *w == 0 {
                model.remove(&(key, row));
            }
            assert_eq!(as_model(&rows), model, "step {step}");
            let ordered: Vec<_> = rows
                .iter()
                .map(|(k, r, _)| (k.to_vec(), r.to_vec()))
                .collect();
            assert!(ordered.windows(2).all(|w| w[0] < w[1]));
        }
        let mut out = StateWriter::new();
        rows.encode(&mut out, &()).unwrap();
        let bytes = out.into_bytes();
        let back = RankedRows::decode(&mut StateReader::new(&bytes), &()).unwrap();
        assert_eq!(as_model(&back), model);

        // A row after the last of a partition holding `keep` copies is beyond the cut.
        let mut rows = RankedRows::default();
        rows.add(&[5], &[0], 2);
        assert!(rows.beyond(&[6], &[0], 2));
        assert!(!rows.beyond(&[6], &[0], 3), "room left");
        assert!(!rows.beyond(&[4], &[0], 2), "sorts first");
        assert!(!rows.beyond(&[5], &[0], 2), "the same row");
        // By key alone: only a larger key is beyond; a tie is decided by the row bytes
        // (`[5], [1]` sorts after the kept row, `[5], []` before it), so it is not.
        assert!(rows.beyond_key(&[6], 2));
        assert!(!rows.beyond_key(&[5], 2), "a tie on the key");
        assert!(rows.beyond(&[5], &[1], 2) && !rows.beyond(&[5], &[], 2));
        assert!(!rows.beyond_key(&[4], 2), "sorts first");
        assert!(!rows.beyond_key(&[6], 3), "room left");
        // The same in the B-tree form.
        let mut large = RankedRows::default();
        for i in 0..40u8 {
            large.add(&[i], &[0], 1);
        }
        assert!(matches!(large, RankedRows::Large(_)));
        assert!(large.beyond_key(&[40], 40) && !large.beyond_key(&[39], 40));
        assert!(!large.beyond_key(&[40], 41), "room left");

        // Truncation keeps the first rows by weight, splitting a row's copies at the cut.
        let mut rows = RankedRows::default();
        for i in 0..40u8 {
            rows.add(&[i], &[0], 2);
        }
        assert!(matches!(rows, RankedRows::Large(_)));
        rows.truncate(5);
        let kept: Vec<_> = rows.iter().map(|(k, _, w)| (k[0], w)).collect();
        assert_eq!(kept, vec![(0, 2), (1, 2), (2, 1)]);
        assert!(matches!(rows, RankedRows::Small(_)));
    }
}
