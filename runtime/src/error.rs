//! Runtime errors.

use arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use sluice_storage::StorageError;

/// Errors raised while maintaining a dataflow.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Evaluating an expression or aggregate failed (e.g. division by zero, overflow).
    #[error("{0}")]
    Evaluation(#[from] DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A value left the range of its type (e.g. a floating-point sum overflowed).
    #[error("{0}")]
    NumericOutOfRange(String),
    /// A connector's options are invalid, or its input or destination failed.
    #[error("{0}")]
    Connector(String),
    /// Reading or writing a file or socket failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The input holds a change the operator cannot take (e.g. a deletion reaching a
    /// processing-time session window).
    #[error("{0}")]
    Unsupported(String),
    /// A broken invariant: a bug, never caused by input.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
