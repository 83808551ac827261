//! Storage errors.

use arrow::error::ArrowError;

/// Errors raised by the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("row encoding failed: {0}")]
    Encoding(#[from] ArrowError),
    #[error("row count mismatch: {0}")]
    Internal(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
