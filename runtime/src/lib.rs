//! Sluice runtime: incremental operators over Arrow change batches, and the dataflow that
//! connects them.
//!
//! A stream is a sequence of [`ChangeBatch`]es: rows plus a signed weight per row (+1 insert,
//! -1 delete; an update is a delete and an insert). Every operator has a batch meaning: feeding
//! it any sequence of changes and consolidating the output equals running the batch query on
//! the consolidated input. See `docs/architecture.md`.

pub mod change;
pub mod checkpoint;
pub mod connectors;
pub mod dataflow;
pub mod error;
pub mod operators;

pub use change::ChangeBatch;
pub use dataflow::{Dataflow, DataflowBuilder, NodeId};
pub use error::{Result, RuntimeError};
pub use operators::Operator;
