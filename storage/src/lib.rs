//! Sluice storage: row encoding and the stores that hold table, view and operator state.
//!
//! Rows are encoded with Arrow's row format (`arrow::row`), which is memcomparable: byte order
//! equals SQL sort order, and byte equality equals row equality (NULLs equal to each other,
//! as grouping needs). The same bytes serve as hash-map keys now and as RocksDB keys later.
//!
//! Stores:
//! - [`ZSet`]: a multiset of rows with signed weights (the contents of a table without a
//!   primary key, a materialized view, or an operator's input side).
//! - [`SpillMap`]: keyed state under a memory budget, spilling to a scratch RocksDB: operator
//!   state, and the rows of tables and views with a key.
//! - [`SpillLog`]: rows in arrival order, unindexed, under the same budget, spilling whole
//!   segments to scratch files (a join side that is rarely probed).
//! - [`Durable`]: a RocksDB data directory holding the catalog log and the rows of base
//!   tables (see `durable`).

pub mod codec;
pub mod durable;
pub mod error;
pub mod spill;
pub mod spill_log;
pub mod state;
pub mod zset;

pub use codec::{EncodedRows, RowCodec};
pub use durable::{Durable, DurableOptions, RowOp};
pub use error::StorageError;
pub use spill::{Budget, SpillMap, SpillSettings};
pub use spill_log::{SpillLog, Zone};
pub use state::{MemoryStreams, SharedSink, StateReader, StateSink, StateSource, StateWriter};
pub use zset::ZSet;
