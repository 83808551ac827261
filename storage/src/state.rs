//! A compact binary encoding for checkpointed operator state.
//!
//! Operators write their state as a sequence of fixed-width integers and length-prefixed byte
//! strings; readers take them back in the same order. Every read checks the remaining length,
//! so a truncated or garbled snapshot is a [`StorageError::Corrupt`], never a panic.

use crate::error::{Result, StorageError};

/// Appends state to a byte buffer.
#[derive(Debug, Default)]
pub struct StateWriter {
    buf: Vec<u8>,
}

impl StateWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put_u64(&mut self, value: u64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub fn put_i64(&mut self, value: i64) {
        self.buf.extend_from_slice(&value.to_le_bytes());
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
        let mut inner = StateWriter::new();
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
#[derive(Debug)]
pub struct StateReader<'a> {
    buf: &'a [u8],
}

impl<'a> StateReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
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
        Ok(StateReader::new(self.bytes()?))
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
}
