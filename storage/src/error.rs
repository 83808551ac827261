//! Storage errors.

use arrow::error::ArrowError;

/// Errors raised by the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("row encoding failed: {0}")]
    Encoding(#[from] ArrowError),
    #[error("row count mismatch: {0}")]
    Internal(String),
    #[error("cannot open data directory {path}: {message}")]
    Open { path: String, message: String },
    #[error("data directory {path} is in use by another Sluice process ({message})")]
    Locked { path: String, message: String },
    #[error(
        "data directory {path} was written in format \"{found}\", this Sluice reads \"{expected}\""
    )]
    Format {
        path: String,
        found: String,
        expected: String,
    },
    #[error("data directory is corrupt: {0}")]
    Corrupt(String),
    #[error("operator state encoding failed: {0}")]
    State(String),
    #[error("storage I/O failed: {0}")]
    Io(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
