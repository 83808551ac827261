//! Planner errors, each with the SQLSTATE the server reports to clients.

use datafusion::error::DataFusionError;
use sluice_runtime::RuntimeError;
use sluice_storage::StorageError;

/// Errors from planning or executing a statement.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("syntax error: {message}")]
    Syntax {
        message: String,
        /// 1-based character position in the statement text.
        position: Option<usize>,
    },
    #[error("{0}")]
    UndefinedTable(String),
    #[error("{0}")]
    UndefinedColumn(String),
    #[error("{0}")]
    UndefinedFunction(String),
    #[error("{0}")]
    DuplicateObject(String),
    /// A schema (Flink: database) that does not exist (3F000, invalid_schema_name).
    #[error("{0}")]
    UndefinedSchema(String),
    /// A schema (Flink: database) that exists already (42P06, duplicate_schema).
    #[error("{0}")]
    DuplicateSchema(String),
    #[error("{0}")]
    DependentObjects(String),
    #[error("{0}")]
    WrongObjectType(String),
    /// A view definition that cannot stand: it reads itself, or a view reading it no longer
    /// plans (42P17, invalid_object_definition).
    #[error("{0}")]
    InvalidDefinition(String),
    #[error("{0}")]
    UniqueViolation(String),
    #[error("{0}")]
    NotNullViolation(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    DatatypeMismatch(String),
    #[error("{0}")]
    InvalidTextRepresentation(String),
    #[error("{0}")]
    NumericOutOfRange(String),
    #[error("{0}")]
    DivisionByZero(String),
    #[error("{0}")]
    UndefinedObject(String),
    #[error("feature not supported: {0}")]
    Unsupported(String),
    #[error("materialized view \"{view}\" failed: {message}")]
    ViewFailed { view: String, message: String },
    /// A connector's options are invalid, or its input or destination failed (58030,
    /// io_error).
    #[error("{0}")]
    Connector(String),
    #[error("{0}")]
    Plan(String),
    #[error("{0}")]
    Execution(String),
    /// The data directory failed: I/O (58030), corruption (XX001), or in use (55006).
    #[error("{0}")]
    Storage(StorageError),
    /// Restoring the catalog from the data directory failed at one of its statements.
    #[error("restoring the catalog failed at statement {seq} ({statement}): {message}")]
    Restore {
        seq: u64,
        statement: String,
        message: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
    /// An error at a known 1-based character position of the statement.
    #[error("{error}")]
    Positioned {
        error: Box<PlanError>,
        position: usize,
    },
    /// A subscription ended (see `crate::subscribe`).
    #[error(transparent)]
    Subscribe(#[from] crate::subscribe::SubscribeError),
    #[error("canceling statement due to user request")]
    QueryCanceled,
    /// A cursor name already in use (42P03).
    #[error("{0}")]
    DuplicateCursor(String),
    /// An unknown cursor (34000).
    #[error("{0}")]
    InvalidCursorName(String),
    /// A statement that needs a transaction block outside one (25P01).
    #[error("{0}")]
    NoActiveTransaction(String),
    /// A statement in a transaction that already failed (25P02).
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,
    /// An unknown savepoint (3B001).
    #[error("{0}")]
    InvalidSavepoint(String),
}

pub type Result<T, E = PlanError> = std::result::Result<T, E>;

impl PlanError {
    /// The SQLSTATE code for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            PlanError::Syntax { .. } => "42601",
            PlanError::UndefinedTable(_) => "42P01",
            PlanError::UndefinedColumn(_) => "42703",
            PlanError::UndefinedFunction(_) => "42883",
            PlanError::DuplicateObject(_) => "42P07",
            PlanError::UndefinedSchema(_) => "3F000",
            PlanError::DuplicateSchema(_) => "42P06",
            PlanError::DependentObjects(_) => "2BP01",
            PlanError::WrongObjectType(_) => "42809",
            PlanError::InvalidDefinition(_) => "42P17",
            PlanError::UniqueViolation(_) => "23505",
            PlanError::NotNullViolation(_) => "23502",
            PlanError::InvalidParameter(_) => "22023",
            PlanError::DatatypeMismatch(_) => "42804",
            PlanError::InvalidTextRepresentation(_) => "22P02",
            PlanError::NumericOutOfRange(_) => "22003",
            PlanError::DivisionByZero(_) => "22012",
            PlanError::UndefinedObject(_) => "42704",
            PlanError::Unsupported(_) => "0A000",
            PlanError::ViewFailed { .. } => "XX000",
            PlanError::Connector(_) => "58030",
            PlanError::Plan(_) => "42000",
            PlanError::Execution(_) => "22000",
            PlanError::Storage(StorageError::Corrupt(_) | StorageError::Format { .. }) => "XX001",
            PlanError::Storage(StorageError::Locked { .. }) => "55006",
            PlanError::Storage(StorageError::Encoding(_) | StorageError::Internal(_)) => "XX000",
            PlanError::Storage(_) => "58030",
            PlanError::Restore { .. } => "XX000",
            PlanError::Internal(_) => "XX000",
            PlanError::Positioned { error, .. } => error.sqlstate(),
            PlanError::Subscribe(error) => error.sqlstate(),
            PlanError::QueryCanceled => "57014",
            PlanError::InvalidCursorName(_) => "34000",
            PlanError::DuplicateCursor(_) => "42P03",
            PlanError::NoActiveTransaction(_) => "25P01",
            PlanError::InFailedTransaction => "25P02",
            PlanError::InvalidSavepoint(_) => "3B001",
        }
    }

    /// 1-based character position of the error in the statement, when known.
    pub fn position(&self) -> Option<usize> {
        match self {
            PlanError::Syntax { position, .. } => *position,
            PlanError::Positioned { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// Classify a DataFusion error. `sql` is the statement text, used to turn
    /// "Line: L, Column: C" into a character position.
    pub fn from_datafusion(error: DataFusionError, sql: &str) -> Self {
        let error = strip_context(error);
        match error {
            DataFusionError::SQL(parser_error, _) => {
                let message = parser_error.to_string();
                let position = line_column_position(&message, sql).or_else(|| {
                    message
                        .contains("found: EOF")
                        .then(|| sql.trim_end().trim_end_matches(';').chars().count() + 1)
                });
                let message = clean_message(&message);
                let message = message.trim_start_matches("sql parser error: ").to_string();
                PlanError::Syntax { message, position }
            }
            DataFusionError::SchemaError(schema_error, _) => {
                let message = schema_error.to_string();
                if let Some(column) = missing_column(&message) {
                    PlanError::UndefinedColumn(column)
                } else if message.contains("No field named") || message.contains("not found") {
                    PlanError::UndefinedColumn(clean_message(&message))
                } else {
                    PlanError::Plan(clean_message(&message))
                }
            }
            DataFusionError::NotImplemented(message) => {
                PlanError::Unsupported(clean_message(&message))
            }
            DataFusionError::ArrowError(arrow_error, _) => classify_arrow(&arrow_error.to_string()),
            DataFusionError::Plan(message) => classify_plan(&message),
            DataFusionError::Execution(message) => classify_execution(&message),
            other => {
                let message = other.to_string();
                classify_execution(&message)
            }
        }
    }
}

fn strip_context(error: DataFusionError) -> DataFusionError {
    match error {
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            strip_context(*inner)
        }
        DataFusionError::Collection(mut errors) if !errors.is_empty() => {
            strip_context(errors.remove(0))
        }
        DataFusionError::External(external) => match external.downcast::<DataFusionError>() {
            Ok(inner) => strip_context(*inner),
            Err(external) => DataFusionError::External(external),
        },
        DataFusionError::Shared(shared) => match std::sync::Arc::try_unwrap(shared) {
            Ok(inner) => strip_context(inner),
            Err(shared) => DataFusionError::Execution(shared.to_string()),
        },
        other => other,
    }
}

fn classify_plan(message: &str) -> PlanError {
    let lower = message.to_ascii_lowercase();
    let clean = clean_message(message);
    if let Some(name) = quoted_after(&clean, "table '") {
        // DataFusion names the table in full (`sluice.public.t`): PostgreSQL names it as
        // written, here without the catalog and without the default schema.
        let parts: Vec<&str> = name.split('.').collect();
        let name = match parts.as_slice() {
            [.., schema, table] if !crate::names::is_default(schema) => format!("{schema}.{table}"),
            [.., table] => table.to_string(),
            [] => name.clone(),
        };
        PlanError::UndefinedTable(format!("relation \"{name}\" does not exist"))
    } else if let Some(column) = missing_column(&clean) {
        PlanError::UndefinedColumn(column)
    } else if lower.contains("table") && lower.contains("not found") {
        PlanError::UndefinedTable(clean)
    } else if lower.contains("invalid function")
        || lower.contains("function") && lower.contains("not found")
    {
        PlanError::UndefinedFunction(clean)
    } else if lower.contains("no field named") {
        PlanError::UndefinedColumn(clean)
    } else if lower.contains("cannot be cast")
        || lower.contains("cannot infer common")
        || lower.contains("no function matches")
        || lower.contains("failed to coerce")
        || lower.contains("does not support")
        || lower.contains("type coercion")
        || lower.contains("coercion")
    {
        PlanError::DatatypeMismatch(clean)
    } else {
        PlanError::Plan(clean)
    }
}

fn classify_arrow(message: &str) -> PlanError {
    let lower = message.to_ascii_lowercase();
    let clean = clean_message(message);
    if lower.contains("divide by zero") || lower.contains("division by zero") {
        PlanError::DivisionByZero("division by zero".into())
    } else if lower.contains("overflow")
        || lower.contains("out of range")
        || lower.contains("too large")
    {
        PlanError::NumericOutOfRange(clean)
    } else if lower.contains("cast") || lower.contains("parse") {
        PlanError::InvalidTextRepresentation(clean)
    } else {
        PlanError::Execution(clean)
    }
}

fn classify_execution(message: &str) -> PlanError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("divide by zero") || lower.contains("division by zero") {
        return PlanError::DivisionByZero("division by zero".into());
    }
    if lower.contains("cast") || lower.contains("overflow") || lower.contains("parse") {
        return classify_arrow(message);
    }
    PlanError::Execution(clean_message(message))
}

/// The text between `prefix` and the next `'`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let start = message.find(prefix)? + prefix.len();
    let end = message[start..].find('\'')?;
    Some(message[start..start + end].to_string())
}

/// "No field named x. Valid fields are ..." -> `column "x" does not exist`.
fn missing_column(message: &str) -> Option<String> {
    let start = message.find("No field named ")? + "No field named ".len();
    let rest = &message[start..];
    let end = rest
        .find(". ")
        .or_else(|| rest.find(".\n"))
        .unwrap_or(rest.len());
    let name = rest[..end].trim_end_matches('.').trim_matches('"');
    let name = name.rsplit('.').next().unwrap_or(name).trim_matches('"');
    Some(format!("column \"{name}\" does not exist"))
}

/// Remove DataFusion's error-kind prefixes ("Error during planning: ...").
fn clean_message(message: &str) -> String {
    let mut text = message.trim();
    for prefix in [
        "Error during planning: ",
        "Schema error: ",
        "Execution error: ",
        "Arrow error: ",
        "This feature is not implemented: ",
        "SQL error: ",
        "ParserError(\"",
        "Invalid argument error: ",
        "Cast error: ",
        "Parser error: ",
        "Compute error: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest;
        }
    }
    let text = text.trim_end_matches("\")");
    text.to_string()
}

/// Find "Line: L, Column: C" in a parser message and convert it to a 1-based character
/// offset into `sql`.
fn line_column_position(message: &str, sql: &str) -> Option<usize> {
    let line_at = message.find("Line: ")?;
    let rest = &message[line_at + 6..];
    let line: usize = rest.split(',').next()?.trim().parse().ok()?;
    let column_at = rest.find("Column: ")?;
    let column: usize = rest[column_at + 8..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()?;
    let mut position = 0;
    for (index, text) in sql.split('\n').enumerate() {
        if index + 1 == line {
            return Some(position + column);
        }
        position += text.chars().count() + 1;
    }
    None
}

impl From<RuntimeError> for PlanError {
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::Evaluation(error) => PlanError::from_datafusion(error, ""),
            RuntimeError::Arrow(error) => classify_arrow(&error.to_string()),
            RuntimeError::Storage(error) => PlanError::Internal(error.to_string()),
            RuntimeError::Internal(message) => PlanError::Internal(message),
            RuntimeError::Unsupported(message) => PlanError::Unsupported(message),
            RuntimeError::Connector(message) => PlanError::Connector(message),
            RuntimeError::NumericOutOfRange(message) => PlanError::NumericOutOfRange(message),
            error @ RuntimeError::Io { .. } => PlanError::Connector(error.to_string()),
        }
    }
}

impl From<StorageError> for PlanError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Encoding(error) => classify_arrow(&error.to_string()),
            StorageError::Internal(message) => PlanError::Internal(message),
            other => PlanError::Storage(other),
        }
    }
}

impl From<arrow::error::ArrowError> for PlanError {
    fn from(error: arrow::error::ArrowError) -> Self {
        classify_arrow(&error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_positions_are_character_offsets() {
        let sql = "SELECT 1;\nSELEC x";
        assert_eq!(
            line_column_position("Expected ..., found: SELEC at Line: 2, Column: 1", sql),
            Some(11)
        );
    }
}
