//! The `jdbc` sink connector for PostgreSQL (Flink's option names and semantics), over
//! `tokio-postgres`.
//!
//! The destination table must exist (as in Flink, the sink never creates it); its columns are
//! looked up when the sink connects and every column of the sink table must exist there (by
//! name; an unquoted PostgreSQL name matches case-insensitively).
//!
//! With a primary key the sink upserts: per key, the buffered changes collapse to one final
//! operation, so an update (`-old +new` of one key in a batch) becomes one
//! `INSERT .. ON CONFLICT (key) DO UPDATE`, and a key that is only deleted becomes one
//! `DELETE`. Without a primary key the sink appends (each row repeated by its weight) and a
//! delete is an error.
//!
//! Changes are buffered and written when `sink.buffer-flush.max-rows` are pending, when
//! `sink.buffer-flush.interval` has passed since the oldest pending change (checked on each
//! write), and on [`Sink::flush`]. A flush runs in one transaction: deletes first, then
//! multi-row inserts of up to 1000 rows per prepared statement. Values are sent as text and
//! cast in SQL to the column's type, so PostgreSQL's own input rules apply (and report bad
//! values). On a lost connection the flush is retried on a new connection with exponential
//! backoff, `sink.max-retries` times; a SQL error that retrying cannot fix fails at once.
//! Pending changes stay buffered after a failed flush, so a later flush can retry them.
//!
//! Invariants: the final table equals applying the changes in order (each flush is atomic and
//! idempotent, so a retried flush cannot apply twice); nothing that input or the database can
//! cause panics.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use sluice_storage::RowCodec;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::duration::parse_duration;
use super::{ConnectorOptions, Sink, SinkSpec};
use crate::change::ChangeBatch;
use crate::error::{Result, RuntimeError};

const CONNECTOR: &str = "jdbc";
const JDBC_OPTIONS: &[&str] = &[
    "url",
    "table-name",
    "username",
    "password",
    "driver",
    "connection.max-retry-timeout",
    "sink.buffer-flush.max-rows",
    "sink.buffer-flush.interval",
    "sink.max-retries",
    "sink.parallelism",
];
/// Rows per multi-row statement (further limited by PostgreSQL's 65535 parameters).
const MAX_ROWS_PER_STATEMENT: usize = 1000;
const MAX_PARAMETERS: usize = 65_535;

// ---------------------------------------------------------------------------------------------
// URL
// ---------------------------------------------------------------------------------------------

/// A parsed `jdbc:postgresql://`, `postgresql://` or `postgres://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    pub hosts: Vec<(String, u16)>,
    pub database: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Query parameters, decoded, in order.
    pub parameters: Vec<(String, String)>,
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3).ok_or_else(|| {
                    RuntimeError::Connector(format!("invalid percent-encoding in '{text}'"))
                })?;
                let byte = u8::from_str_radix(hex, 16).map_err(|_| {
                    RuntimeError::Connector(format!("invalid percent-encoding in '{text}'"))
                })?;
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| RuntimeError::Connector(format!("'{text}' is not UTF-8 once decoded")))
}

impl PostgresUrl {
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |detail: &str| {
            RuntimeError::Connector(format!(
                "invalid jdbc url '{url}': {detail} (expected jdbc:postgresql://host:port/database)"
            ))
        };
        let trimmed = url.trim();
        let lower = trimmed.to_ascii_lowercase();
        let rest = if let Some(stripped) = lower.strip_prefix("jdbc:") {
            if !stripped.starts_with("postgresql:") {
                return Err(RuntimeError::Connector(format!(
                    "jdbc url '{url}': only PostgreSQL (jdbc:postgresql://...) is supported"
                )));
            }
            &trimmed["jdbc:postgresql:".len()..]
        } else if lower.starts_with("postgresql:") {
            &trimmed["postgresql:".len()..]
        } else if lower.starts_with("postgres:") {
            &trimmed["postgres:".len()..]
        } else {
            return Err(invalid("unknown scheme"));
        };
        let rest = rest
            .strip_prefix("//")
            .ok_or_else(|| invalid("missing '//'"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((authority, path)) => (authority, Some(path)),
            None => (rest, None),
        };
        let (userinfo, hosts_text) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let (mut user, mut password) = (None, None);
        if let Some(userinfo) = userinfo {
            match userinfo.split_once(':') {
                Some((u, p)) => {
                    user = Some(percent_decode(u)?);
                    password = Some(percent_decode(p)?);
                }
                None => user = Some(percent_decode(userinfo)?),
            }
        }
        let mut hosts = Vec::new();
        for host in hosts_text.split(',') {
            let host = host.trim();
            if host.is_empty() {
                continue;
            }
            let (name, port) = if let Some(v6) = host.strip_prefix('[') {
                let (name, after) = v6.split_once(']').ok_or_else(|| invalid("unclosed '['"))?;
                let port = match after.strip_prefix(':') {
                    Some(port) => Some(port),
                    None if after.is_empty() => None,
                    None => return Err(invalid("bad host")),
                };
                (name.to_string(), port)
            } else {
                match host.rsplit_once(':') {
                    Some((name, port)) => (name.to_string(), Some(port)),
                    None => (host.to_string(), None),
                }
            };
            let port = match port {
                Some(port) => port.parse::<u16>().map_err(|_| invalid("bad port"))?,
                None => 5432,
            };
            hosts.push((name, port));
        }
        if hosts.is_empty() {
            hosts.push(("localhost".to_string(), 5432));
        }
        let database = match path {
            Some(path) if !path.is_empty() => Some(percent_decode(path)?),
            _ => None,
        };
        let mut parameters = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            parameters.push((percent_decode(key)?, percent_decode(value)?));
        }
        Ok(Self {
            hosts,
            database,
            user,
            password,
            parameters,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Arrow values as PostgreSQL text
// ---------------------------------------------------------------------------------------------

/// Error unless `data_type` can be written (checked when the sink is created).
fn check_supported(column: &str, data_type: &DataType) -> Result<()> {
    match data_type {
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_)
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Interval(_)
        | DataType::Duration(_)
        | DataType::Struct(_)
        | DataType::Map(_, _) => Ok(()),
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            check_supported(column, item.data_type())
        }
        DataType::Dictionary(_, value) => check_supported(column, value),
        other => Err(RuntimeError::Connector(format!(
            "jdbc sink: column '{column}' has type {other}, which cannot be written to PostgreSQL"
        ))),
    }
}

fn float_text(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        value.to_string()
    }
}

fn hex_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("\\x");
    for byte in bytes {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// One element of a PostgreSQL array literal: NULL, a nested array literal, or a quoted value.
fn push_array_element(out: &mut String, value: Option<&str>, nested: bool) {
    match value {
        None => out.push_str("NULL"),
        Some(text) if nested => out.push_str(text),
        Some(text) => {
            out.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
    }
}

/// Each value of `array` in PostgreSQL text input syntax (None for NULL).
fn column_texts(array: &ArrayRef) -> Result<Vec<Option<String>>> {
    let len = array.len();
    let texts = match array.data_type() {
        DataType::Null => vec![None; len],
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map(|b| if b { "t" } else { "f" }.to_string()))
            .collect(),
        DataType::Float16 | DataType::Float32 => {
            let floats = cast(array, &DataType::Float32)?;
            floats
                .as_primitive::<arrow::datatypes::Float32Type>()
                .iter()
                .map(|v| {
                    v.map(|f| {
                        if f.is_finite() {
                            f.to_string()
                        } else {
                            float_text(f64::from(f))
                        }
                    })
                })
                .collect()
        }
        DataType::Float64 => array
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .map(|v| v.map(float_text))
            .collect(),
        DataType::Utf8 => array
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect(),
        DataType::LargeUtf8 => array
            .as_string::<i64>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect(),
        DataType::Utf8View => array
            .as_string_view()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect(),
        DataType::Binary => array
            .as_binary::<i32>()
            .iter()
            .map(|v| v.map(hex_text))
            .collect(),
        DataType::LargeBinary => array
            .as_binary::<i64>()
            .iter()
            .map(|v| v.map(hex_text))
            .collect(),
        DataType::BinaryView => array
            .as_binary_view()
            .iter()
            .map(|v| v.map(hex_text))
            .collect(),
        DataType::FixedSizeBinary(_) => array
            .as_fixed_size_binary()
            .iter()
            .map(|v| v.map(hex_text))
            .collect(),
        DataType::Dictionary(_, value) => {
            let plain = cast(array, value)?;
            column_texts(&plain)?
        }
        DataType::List(item) => {
            let list = array.as_list::<i32>();
            let offsets: Vec<(usize, usize)> = list
                .offsets()
                .windows(2)
                .map(|w| (w[0] as usize, w[1] as usize))
                .collect();
            array_literals(list, list.values(), item.data_type(), &offsets)?
        }
        DataType::LargeList(item) => {
            let list = array.as_list::<i64>();
            let offsets: Vec<(usize, usize)> = list
                .offsets()
                .windows(2)
                .map(|w| (w[0] as usize, w[1] as usize))
                .collect();
            array_literals(list, list.values(), item.data_type(), &offsets)?
        }
        DataType::FixedSizeList(item, size) => {
            let list = array.as_fixed_size_list();
            let size = usize::try_from(*size).unwrap_or(0);
            let offsets: Vec<(usize, usize)> =
                (0..len).map(|i| (i * size, (i + 1) * size)).collect();
            array_literals(list, list.values(), item.data_type(), &offsets)?
        }
        DataType::Struct(_) | DataType::Map(_, _) => super::format::json_texts(array)?,
        _ => {
            let text = cast(array, &DataType::Utf8)?;
            text.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        }
    };
    Ok(texts)
}

/// PostgreSQL array literals (`{"a",NULL,"b"}`, nested `{{..},{..}}`) for list rows.
fn array_literals(
    list: &dyn Array,
    values: &ArrayRef,
    item_type: &DataType,
    offsets: &[(usize, usize)],
) -> Result<Vec<Option<String>>> {
    let nested = matches!(
        item_type,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)
    );
    let items = column_texts(values)?;
    let mut out = Vec::with_capacity(offsets.len());
    for (row, (start, end)) in offsets.iter().enumerate() {
        if list.is_null(row) {
            out.push(None);
            continue;
        }
        let mut text = String::from("{");
        for (n, item) in items
            .get(*start..*end)
            .ok_or_else(|| RuntimeError::Internal("list offsets out of range".into()))?
            .iter()
            .enumerate()
        {
            if n > 0 {
                text.push(',');
            }
            push_array_element(&mut text, item.as_deref(), nested);
        }
        text.push('}');
        out.push(Some(text));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Sink
// ---------------------------------------------------------------------------------------------

/// Double-quote an identifier for SQL.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A row's values in PostgreSQL text syntax (None for NULL).
type TextRow = Vec<Option<String>>;

/// Changes waiting for the next flush.
#[derive(Debug)]
enum Pending {
    /// Rows to insert, in order (tables without a primary key).
    Append(Vec<TextRow>),
    /// The final operation per encoded key: the row to upsert, or the key values to delete.
    /// The two maps never share a key. Ordered by key so concurrent writers lock rows in the
    /// same order.
    Keyed {
        upserts: BTreeMap<Vec<u8>, TextRow>,
        deletes: BTreeMap<Vec<u8>, TextRow>,
    },
}

impl Pending {
    fn len(&self) -> usize {
        match self {
            Pending::Append(rows) => rows.len(),
            Pending::Keyed { upserts, deletes } => upserts.len() + deletes.len(),
        }
    }

    fn clear(&mut self) {
        match self {
            Pending::Append(rows) => rows.clear(),
            Pending::Keyed { upserts, deletes } => {
                upserts.clear();
                deletes.clear();
            }
        }
    }
}

/// Which statement a prepared statement implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum StatementKind {
    Insert,
    Delete,
}

/// A live connection with the destination's column types and prepared statements.
struct Connection {
    client: Client,
    task: tokio::task::JoinHandle<()>,
    /// Quoted PostgreSQL column names, in sink schema order.
    columns: Vec<String>,
    /// PostgreSQL type of each column (no type modifier: the assignment applies it).
    types: Vec<String>,
    statements: HashMap<(StatementKind, usize), Statement>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why a flush failed.
enum FlushError {
    /// The connection failed or the server asked to retry: reconnect and try again.
    Retry(String),
    /// Retrying cannot help (bad value, constraint violation, missing table, ...).
    Fatal(RuntimeError),
}

/// Writes a table's changes to a PostgreSQL table.
pub struct JdbcSink {
    spec: SinkSpec,
    config: tokio_postgres::Config,
    /// `table-name` as written (it may be schema-qualified).
    table_name: String,
    database: String,
    max_rows: usize,
    interval: Option<Duration>,
    max_retries: u32,
    key_codec: Option<RowCodec>,
    pending: Pending,
    pending_since: Option<Instant>,
    connection: Option<Connection>,
}

impl std::fmt::Debug for JdbcSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JdbcSink")
            .field("table", &self.spec.table)
            .field("table_name", &self.table_name)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl JdbcSink {
    /// Validate the options of a `jdbc` table. Does not connect: the first flush does.
    pub fn new(spec: SinkSpec) -> Result<Self> {
        let options: &ConnectorOptions = &spec.options;
        options.check_known(CONNECTOR, JDBC_OPTIONS, &[])?;
        if let Some(driver) = options.get("driver") {
            if driver.trim() != "org.postgresql.Driver" {
                return Err(RuntimeError::Connector(format!(
                    "jdbc sink: driver '{driver}' is not supported (only org.postgresql.Driver)"
                )));
            }
        }
        let url = PostgresUrl::parse(options.required(CONNECTOR, "url")?)?;
        let table_name = options
            .required(CONNECTOR, "table-name")?
            .trim()
            .to_string();
        if table_name.is_empty() || table_name.contains(';') {
            return Err(RuntimeError::Connector(format!(
                "jdbc sink: invalid 'table-name' '{table_name}'"
            )));
        }
        let mut config = tokio_postgres::Config::new();
        for (host, port) in &url.hosts {
            config.host(host).port(*port);
        }
        let mut user = url.user.clone();
        let mut password = url.password.clone();
        let mut database = url.database.clone();
        let mut pg_options: Vec<String> = Vec::new();
        config.application_name("sluice");
        for (key, value) in &url.parameters {
            match key.as_str() {
                "user" => user = Some(value.clone()),
                "password" => password = Some(value.clone()),
                "dbname" => database = Some(value.clone()),
                "sslmode" => match value.to_ascii_lowercase().as_str() {
                    "disable" | "allow" | "prefer" => {}
                    other => {
                        return Err(RuntimeError::Connector(format!(
                            "jdbc sink: sslmode '{other}' needs TLS, which is not supported yet"
                        )))
                    }
                },
                "ssl" => {
                    if value.eq_ignore_ascii_case("true") {
                        return Err(RuntimeError::Connector(
                            "jdbc sink: ssl=true needs TLS, which is not supported yet".into(),
                        ));
                    }
                }
                "ApplicationName" | "application_name" => {
                    config.application_name(value);
                }
                "connectTimeout" | "connect_timeout" => {
                    let seconds: u64 = value.parse().map_err(|_| {
                        RuntimeError::Connector(format!(
                            "jdbc url: invalid {key} '{value}' (seconds)"
                        ))
                    })?;
                    if seconds > 0 {
                        config.connect_timeout(Duration::from_secs(seconds));
                    }
                }
                "currentSchema" => pg_options.push(format!(
                    "-c search_path={}",
                    value.replace('\\', "\\\\").replace(' ', "\\ ")
                )),
                "options" => pg_options.push(value.clone()),
                other => {
                    tracing::warn!(table = %spec.table, parameter = other, "jdbc url parameter ignored")
                }
            }
        }
        if !pg_options.is_empty() {
            config.options(pg_options.join(" "));
        }
        if let Some(name) = options.get("username") {
            user = Some(name.to_string());
        }
        if let Some(secret) = options.get("password") {
            password = Some(secret.to_string());
        }
        let user = user.ok_or_else(|| {
            RuntimeError::Connector(
                "jdbc sink requires a user: the 'username' option or user=... in the url".into(),
            )
        })?;
        config.user(&user);
        if let Some(password) = &password {
            config.password(password);
        }
        let database = database.unwrap_or_else(|| user.clone());
        config.dbname(&database);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }

        let max_rows = usize::try_from(options.parse_or("sink.buffer-flush.max-rows", 100i64)?)
            .map_err(|_| {
                RuntimeError::Connector("'sink.buffer-flush.max-rows' must not be negative".into())
            })?;
        let interval = match options.get("sink.buffer-flush.interval") {
            Some(value) => parse_duration("sink.buffer-flush.interval", value)?,
            None => Duration::from_secs(1),
        };
        let max_retries = options.parse_or("sink.max-retries", 3u32)?;

        for field in spec.schema.fields() {
            check_supported(field.name(), field.data_type())?;
        }
        if spec.schema.fields().is_empty() {
            return Err(RuntimeError::Connector(format!(
                "jdbc sink table {} has no columns",
                spec.table
            )));
        }
        let key_codec = if spec.primary_key.is_empty() {
            None
        } else {
            let types = spec
                .primary_key
                .iter()
                .map(|&i| {
                    spec.schema
                        .fields()
                        .get(i)
                        .map(|f| f.data_type().clone())
                        .ok_or_else(|| {
                            RuntimeError::Internal(format!(
                                "jdbc sink: primary key column #{i} out of range"
                            ))
                        })
                })
                .collect::<Result<Vec<DataType>>>()?;
            Some(RowCodec::new(types)?)
        };
        let pending = if key_codec.is_some() {
            Pending::Keyed {
                upserts: BTreeMap::new(),
                deletes: BTreeMap::new(),
            }
        } else {
            Pending::Append(Vec::new())
        };
        Ok(Self {
            spec,
            config,
            table_name,
            database,
            max_rows,
            interval: Some(interval).filter(|d| !d.is_zero()),
            max_retries,
            key_codec,
            pending,
            pending_since: None,
            connection: None,
        })
    }

    /// Number of changes buffered for the next flush.
    pub fn pending_changes(&self) -> usize {
        self.pending.len()
    }

    fn schema(&self) -> &SchemaRef {
        &self.spec.schema
    }

    /// Classify a `tokio_postgres` error.
    fn classify(&self, action: &str, error: tokio_postgres::Error) -> FlushError {
        match error.as_db_error() {
            Some(db) => {
                let code = db.code().code();
                let message = format!(
                    "jdbc sink for table {}: {action} on PostgreSQL table '{}' failed: {} (SQLSTATE {code}){}",
                    self.spec.table,
                    self.table_name,
                    db.message(),
                    db.detail().map(|d| format!(": {d}")).unwrap_or_default()
                );
                // Connection exceptions, serialization failures/deadlocks, shutdowns.
                if code.starts_with("08") || code.starts_with("40") || code.starts_with("57P") {
                    FlushError::Retry(message)
                } else {
                    FlushError::Fatal(RuntimeError::Connector(message))
                }
            }
            None => FlushError::Retry(format!(
                "jdbc sink for table {}: {action} failed: {error}",
                self.spec.table
            )),
        }
    }

    /// Connect and look up the destination's columns.
    async fn connect(&self) -> std::result::Result<Connection, FlushError> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| self.classify("connecting", e))?;
        let table = self.spec.table.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%table, %error, "jdbc sink connection closed");
            }
        });
        let rows = client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, NULL) \
                 FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass($1::text) AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[&self.table_name],
            )
            .await
            .map_err(|e| self.classify("looking up the table", e))?;
        if rows.is_empty() {
            return Err(FlushError::Fatal(RuntimeError::Connector(format!(
                "jdbc sink for table {}: the destination table '{}' does not exist in PostgreSQL database '{}' (create it first; the sink does not create tables)",
                self.spec.table, self.table_name, self.database
            ))));
        }
        let destination: Vec<(String, String)> = rows
            .iter()
            .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, String>(1)?)))
            .collect::<std::result::Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.classify("looking up the table", e))?;
        let mut columns = Vec::new();
        let mut types = Vec::new();
        let mut missing = Vec::new();
        for field in self.schema().fields() {
            let name = field.name();
            let found = destination.iter().find(|(n, _)| n == name).or_else(|| {
                let matches: Vec<&(String, String)> = destination
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .collect();
                (matches.len() == 1).then(|| matches[0])
            });
            match found {
                Some((n, t)) => {
                    columns.push(quote_identifier(n));
                    types.push(t.clone());
                }
                None => missing.push(format!("'{name}'")),
            }
        }
        if !missing.is_empty() {
            return Err(FlushError::Fatal(RuntimeError::Connector(format!(
                "jdbc sink for table {}: PostgreSQL table '{}' has no column {}",
                self.spec.table,
                self.table_name,
                missing.join(", ")
            ))));
        }
        let mut connection = Connection {
            client,
            task,
            columns,
            types,
            statements: HashMap::new(),
        };
        // Prepare once now so a bad table (e.g. no unique index on the key) fails early.
        self.statement(&mut connection, StatementKind::Insert, 1)
            .await?;
        if self.key_codec.is_some() {
            self.statement(&mut connection, StatementKind::Delete, 1)
                .await?;
        }
        Ok(connection)
    }

    /// The SQL of a statement for `rows` rows.
    fn sql(&self, connection: &Connection, kind: StatementKind, rows: usize) -> String {
        let cast =
            |parameter: usize, column: usize| format!("${parameter}::{}", connection.types[column]);
        match kind {
            StatementKind::Insert => {
                let width = connection.columns.len();
                let mut sql = format!(
                    "INSERT INTO {} ({}) VALUES ",
                    self.table_name,
                    connection.columns.join(", ")
                );
                for row in 0..rows {
                    if row > 0 {
                        sql.push_str(", ");
                    }
                    let values: Vec<String> = (0..width)
                        .map(|column| cast(row * width + column + 1, column))
                        .collect();
                    sql.push_str(&format!("({})", values.join(", ")));
                }
                if !self.spec.primary_key.is_empty() {
                    let keys: Vec<&str> = self
                        .spec
                        .primary_key
                        .iter()
                        .map(|&k| connection.columns[k].as_str())
                        .collect();
                    let updates: Vec<String> = (0..width)
                        .filter(|c| !self.spec.primary_key.contains(c))
                        .map(|c| {
                            let column = &connection.columns[c];
                            format!("{column} = EXCLUDED.{column}")
                        })
                        .collect();
                    if updates.is_empty() {
                        sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", keys.join(", ")));
                    } else {
                        sql.push_str(&format!(
                            " ON CONFLICT ({}) DO UPDATE SET {}",
                            keys.join(", "),
                            updates.join(", ")
                        ));
                    }
                }
                sql
            }
            StatementKind::Delete => {
                let key = &self.spec.primary_key;
                let width = key.len();
                let tuple = |row: usize| {
                    let values: Vec<String> = key
                        .iter()
                        .enumerate()
                        .map(|(n, &column)| cast(row * width + n + 1, column))
                        .collect();
                    if width == 1 {
                        values.join("")
                    } else {
                        format!("({})", values.join(", "))
                    }
                };
                let columns: Vec<&str> = key
                    .iter()
                    .map(|&k| connection.columns[k].as_str())
                    .collect();
                let target = if width == 1 {
                    columns.join("")
                } else {
                    format!("({})", columns.join(", "))
                };
                let tuples: Vec<String> = (0..rows).map(tuple).collect();
                format!(
                    "DELETE FROM {} WHERE {target} IN ({})",
                    self.table_name,
                    tuples.join(", ")
                )
            }
        }
    }

    /// The prepared statement of `kind` for `rows` rows (cached per connection).
    async fn statement(
        &self,
        connection: &mut Connection,
        kind: StatementKind,
        rows: usize,
    ) -> std::result::Result<Statement, FlushError> {
        if let Some(statement) = connection.statements.get(&(kind, rows)) {
            return Ok(statement.clone());
        }
        let width = match kind {
            StatementKind::Insert => connection.columns.len(),
            StatementKind::Delete => self.spec.primary_key.len(),
        };
        let sql = self.sql(connection, kind, rows);
        let types = vec![Type::TEXT; rows * width];
        let statement = connection
            .client
            .prepare_typed(&sql, &types)
            .await
            .map_err(|e| self.classify("preparing a statement", e))?;
        connection
            .statements
            .insert((kind, rows), statement.clone());
        Ok(statement)
    }

    /// Row counts per statement for `total` rows of `width` parameters: full chunks, then
    /// powers of two (so few distinct statements are prepared).
    fn chunk_sizes(total: usize, width: usize) -> Vec<usize> {
        let chunk = MAX_ROWS_PER_STATEMENT
            .min(MAX_PARAMETERS / width.max(1))
            .max(1);
        let mut sizes = vec![chunk; total / chunk];
        let mut rest = total % chunk;
        while rest > 0 {
            let size = 1usize << (usize::BITS - 1 - rest.leading_zeros());
            sizes.push(size);
            rest -= size;
        }
        sizes
    }

    /// One attempt at writing everything pending, in one transaction.
    async fn try_flush(&mut self) -> std::result::Result<(), FlushError> {
        let alive = self
            .connection
            .as_ref()
            .is_some_and(|c| !c.client.is_closed());
        if !alive {
            self.connection = None;
            self.connection = Some(self.connect().await?);
        }
        let mut connection = self.connection.take().ok_or_else(|| {
            FlushError::Fatal(RuntimeError::Internal("jdbc connection missing".into()))
        })?;
        let result = self.write_pending(&mut connection).await;
        self.connection = Some(connection);
        result
    }

    async fn write_pending(
        &self,
        connection: &mut Connection,
    ) -> std::result::Result<(), FlushError> {
        let (deletes, inserts): (Vec<&TextRow>, Vec<&TextRow>) = match &self.pending {
            Pending::Append(rows) => (Vec::new(), rows.iter().collect()),
            Pending::Keyed { upserts, deletes } => {
                (deletes.values().collect(), upserts.values().collect())
            }
        };
        let key_width = self.spec.primary_key.len();
        let width = connection.columns.len();
        let mut work: Vec<(Statement, &[&TextRow])> = Vec::new();
        let mut start = 0;
        for size in Self::chunk_sizes(deletes.len(), key_width) {
            let statement = self
                .statement(connection, StatementKind::Delete, size)
                .await?;
            work.push((statement, &deletes[start..start + size]));
            start += size;
        }
        let mut start = 0;
        for size in Self::chunk_sizes(inserts.len(), width) {
            let statement = self
                .statement(connection, StatementKind::Insert, size)
                .await?;
            work.push((statement, &inserts[start..start + size]));
            start += size;
        }
        let transaction = connection
            .client
            .transaction()
            .await
            .map_err(|e| self.classify("starting a transaction", e))?;
        for (statement, rows) in work {
            let params: Vec<&(dyn ToSql + Sync)> = rows
                .iter()
                .flat_map(|row| row.iter().map(|v| v as &(dyn ToSql + Sync)))
                .collect();
            transaction
                .execute(&statement, &params)
                .await
                .map_err(|e| self.classify("writing rows", e))?;
        }
        transaction
            .commit()
            .await
            .map_err(|e| self.classify("committing", e))?;
        Ok(())
    }

    /// Write everything pending, reconnecting with backoff on connection loss.
    async fn flush_pending(&mut self) -> Result<()> {
        if self.pending.len() == 0 {
            self.pending_since = None;
            return Ok(());
        }
        let mut attempt = 0u32;
        loop {
            match self.try_flush().await {
                Ok(()) => {
                    self.pending.clear();
                    self.pending_since = None;
                    return Ok(());
                }
                Err(FlushError::Fatal(error)) => return Err(error),
                Err(FlushError::Retry(message)) => {
                    self.connection = None;
                    if attempt >= self.max_retries {
                        return Err(RuntimeError::Connector(format!(
                            "{message} (gave up after {} retries)",
                            self.max_retries
                        )));
                    }
                    attempt += 1;
                    let backoff = Duration::from_millis(200u64 << (attempt - 1).min(5));
                    tracing::warn!(
                        table = %self.spec.table,
                        attempt,
                        error = %message,
                        "jdbc sink: retrying after {backoff:?}"
                    );
                    tokio::time::sleep(backoff).await;
                }
            }
        }
    }

    /// Buffer one batch of changes.
    fn buffer(&mut self, changes: &ChangeBatch) -> Result<()> {
        let columns = changes
            .data
            .columns()
            .iter()
            .map(column_texts)
            .collect::<Result<Vec<_>>>()?;
        let row = |i: usize| -> Vec<Option<String>> {
            columns.iter().map(|column| column[i].clone()).collect()
        };
        let weights = changes.weights.values();
        match (&mut self.pending, &self.key_codec) {
            (Pending::Append(rows), _) => {
                if weights.iter().any(|w| *w < 0) {
                    return Err(RuntimeError::Connector(format!(
                        "jdbc sink for table {}: the table has no PRIMARY KEY, so the sink can only append, but the query produces deletes/updates; declare a PRIMARY KEY (.. ) NOT ENFORCED on the sink table",
                        self.spec.table
                    )));
                }
                for (i, weight) in weights.iter().enumerate() {
                    for _ in 0..*weight {
                        rows.push(row(i));
                    }
                }
            }
            (Pending::Keyed { upserts, deletes }, Some(codec)) => {
                let key_columns: Vec<ArrayRef> = self
                    .spec
                    .primary_key
                    .iter()
                    .map(|&k| changes.data.column(k).clone())
                    .collect();
                let keys = codec.encode(&key_columns, changes.num_rows())?;
                let inserted: std::collections::HashSet<&[u8]> = (0..changes.num_rows())
                    .filter(|&i| weights[i] > 0)
                    .map(|i| keys.row(i))
                    .collect();
                for (i, weight) in weights.iter().enumerate() {
                    if *weight < 0 && !inserted.contains(keys.row(i)) {
                        let key = keys.row(i).to_vec();
                        upserts.remove(&key);
                        let values = self
                            .spec
                            .primary_key
                            .iter()
                            .map(|&k| columns[k][i].clone())
                            .collect();
                        deletes.insert(key, values);
                    }
                }
                for (i, weight) in weights.iter().enumerate() {
                    if *weight > 0 {
                        let key = keys.row(i).to_vec();
                        deletes.remove(&key);
                        upserts.insert(key, row(i));
                    }
                }
            }
            (Pending::Keyed { .. }, None) => {
                return Err(RuntimeError::Internal(
                    "jdbc sink: keyed buffer without a key codec".into(),
                ))
            }
        }
        if self.pending_since.is_none() && self.pending.len() > 0 {
            self.pending_since = Some(Instant::now());
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Sink for JdbcSink {
    async fn write(&mut self, changes: &ChangeBatch) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.buffer(changes)?;
        let full = self.max_rows > 0 && self.pending.len() >= self.max_rows;
        let due = match (self.interval, self.pending_since) {
            (Some(interval), Some(since)) => since.elapsed() >= interval,
            _ => false,
        };
        if full || due {
            self.flush_pending().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        self.flush_pending().await
    }
}

impl FromStr for PostgresUrl {
    type Err = RuntimeError;

    fn from_str(url: &str) -> Result<Self> {
        Self::parse(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int32Array, ListArray, StringArray};
    use arrow::datatypes::{Field, Int32Type};
    use std::sync::Arc;

    #[test]
    fn parses_jdbc_and_libpq_urls() {
        let url =
            PostgresUrl::parse("jdbc:postgresql://db.example:5433/orders?user=app&sslmode=disable")
                .unwrap();
        assert_eq!(url.hosts, vec![("db.example".to_string(), 5433)]);
        assert_eq!(url.database.as_deref(), Some("orders"));
        assert_eq!(
            url.parameters,
            vec![
                ("user".to_string(), "app".to_string()),
                ("sslmode".to_string(), "disable".to_string())
            ]
        );
        let url = PostgresUrl::parse("postgres://me:p%40ss@[::1]/db").unwrap();
        assert_eq!(url.hosts, vec![("::1".to_string(), 5432)]);
        assert_eq!(url.user.as_deref(), Some("me"));
        assert_eq!(url.password.as_deref(), Some("p@ss"));
        assert!(PostgresUrl::parse("jdbc:mysql://localhost/db").is_err());
        assert!(PostgresUrl::parse("postgresql://host:notaport/db").is_err());
    }

    #[test]
    fn renders_postgres_text() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.5),
            Some(f64::NAN),
            Some(f64::NEG_INFINITY),
            None,
        ]));
        assert_eq!(
            column_texts(&floats).unwrap(),
            vec![
                Some("1.5".to_string()),
                Some("NaN".to_string()),
                Some("-Infinity".to_string()),
                None
            ]
        );
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            Some(vec![]),
            None,
        ]));
        assert_eq!(
            column_texts(&list).unwrap(),
            vec![
                Some("{\"1\",NULL,\"3\"}".to_string()),
                Some("{}".to_string()),
                None
            ]
        );
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a\"b\\c"]));
        let list = arrow::array::ListArray::new(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            arrow::buffer::OffsetBuffer::from_lengths([1]),
            text,
            None,
        );
        assert_eq!(
            column_texts(&(Arc::new(list) as ArrayRef)).unwrap(),
            vec![Some("{\"a\\\"b\\\\c\"}".to_string())]
        );
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(-7), None]));
        assert_eq!(
            column_texts(&ints).unwrap(),
            vec![Some("-7".to_string()), None]
        );
    }

    #[test]
    fn chunks_use_few_statement_sizes() {
        assert_eq!(JdbcSink::chunk_sizes(0, 3), Vec::<usize>::new());
        assert_eq!(
            JdbcSink::chunk_sizes(2500, 3),
            vec![1000, 1000, 256, 128, 64, 32, 16, 4]
        );
        assert_eq!(JdbcSink::chunk_sizes(5, 40_000), vec![1, 1, 1, 1, 1]);
    }

    #[test]
    fn rejects_unknown_options_and_drivers() {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![Field::new(
            "id",
            DataType::Int32,
            false,
        )]));
        let spec = |extra: Vec<(&str, &str)>| {
            let mut options = vec![
                ("connector", "jdbc"),
                ("url", "jdbc:postgresql://localhost:5432/db"),
                ("table-name", "t"),
                ("username", "u"),
            ];
            options.extend(extra);
            SinkSpec {
                table: "t".into(),
                schema: schema.clone(),
                primary_key: vec![0],
                options: ConnectorOptions::new(
                    options
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string())),
                ),
            }
        };
        assert!(JdbcSink::new(spec(vec![])).is_ok());
        let error = JdbcSink::new(spec(vec![("sink.bogus", "1")])).unwrap_err();
        assert!(error.to_string().contains("sink.bogus"), "{error}");
        let error = JdbcSink::new(spec(vec![("driver", "com.mysql.Driver")])).unwrap_err();
        assert!(error.to_string().contains("not supported"), "{error}");
    }
}
