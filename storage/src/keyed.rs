//! Rows indexed by an encoded key: the storage of tables with a primary key.
//!
//! Invariant: at most one row per key.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use hashbrown::HashMap;

use crate::codec::RowCodec;
use crate::error::Result;

/// Primary-key indexed rows: key bytes -> full row bytes.
#[derive(Debug, Default, Clone)]
pub struct KeyedRows {
    rows: HashMap<Box<[u8]>, Box<[u8]>>,
}

impl KeyedRows {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.rows.get(key).map(|row| row.as_ref())
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.rows.contains_key(key)
    }

    /// Insert or replace; returns the previous row.
    pub fn put(&mut self, key: &[u8], row: &[u8]) -> Option<Box<[u8]>> {
        self.rows.insert(key.into(), row.into())
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Box<[u8]>> {
        self.rows.remove(key)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.rows.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    pub fn clear(&mut self) {
        self.rows.clear();
    }

    /// Materialize all rows as one batch.
    pub fn to_batch(&self, codec: &RowCodec, schema: &SchemaRef) -> Result<RecordBatch> {
        codec.decode_batch(schema, self.rows.values().map(|row| row.as_ref()))
    }
}
