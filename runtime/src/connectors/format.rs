//! Row formats shared by the file and message connectors: decoding JSON or CSV records into
//! Arrow batches with bad rows isolated one by one, and encoding batches back to JSON or CSV.
//!
//! Formats (`'format' = ...`, Flink's names and options):
//! - `json`: one JSON object per record (a line of a file, a Kafka value), decoded by arrow's
//!   JSON decoder. As in Flink, fields the table does not declare are ignored, missing fields
//!   are NULL, numbers and booleans are accepted for VARCHAR columns (as their text) and
//!   strings holding numbers for numeric columns. ROW columns are JSON objects, ARRAY columns
//!   JSON arrays. Timestamps are accepted in Flink's SQL form (`2020-07-22 12:34:56.789`,
//!   `...Z` for TIMESTAMP_LTZ) and in ISO-8601 (`2020-07-22T12:34:56.789Z`) whatever
//!   `json.timestamp-format.standard` says; that option chooses the form written by sinks.
//!   A value that does not fit its column's type makes the record bad.
//! - `flexible-json`: like `json`, but a value that does not fit its column's type becomes
//!   NULL instead of making the record bad (arrow's `ignore_type_conflicts`); the record is
//!   still bad if that column is NOT NULL.
//! - `csv`: one record per line, parsed by arrow's CSV decoder into text fields which arrow's
//!   cast kernel converts to the column types. Options: `csv.field-delimiter` (one character,
//!   `\t` for a tab), `csv.quote-character`, `csv.disable-quote-character`,
//!   `csv.escape-character`, `csv.null-literal` (that text reads as NULL), `csv.allow-comments`
//!   (lines starting with `#` are skipped), `csv.array-element-delimiter` (default `;`,
//!   separates the elements of ARRAY columns and the fields of ROW columns, one level deep),
//!   and `csv.ignore-first-line` (ours: the first line of each file is a header). An empty
//!   field is NULL (arrow's convention, as in PostgreSQL's CSV COPY).
//!
//! Invariants of [`RowDecoder`]:
//! - Every batch it returns has exactly the decoder's schema, NOT NULL columns (also nested
//!   ROW fields and ARRAY elements) included; a record that would violate it is bad.
//! - Blank records (only whitespace) are skipped silently; every other record yields either
//!   one row or one bad row, in input order.
//! - A chunk is decoded in one pass; only when that fails is it decoded record by record to
//!   find the bad ones, so good records around a bad one are kept.
//! - The [`BadRowPolicy`] is applied here: `fail` returns the first bad record's location and
//!   reason as an error, `skip` drops bad records (counted in [`DecodedRows::bad_count`]),
//!   `dead-letter` returns them in [`DecodedRows::bad_rows`] (also counted).

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, GenericListArray, OffsetSizeTrait,
    RecordBatch, RecordBatchOptions, StringArray, StructArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::{
    can_cast_types, cast, cast_with_options, concat_batches, filter_record_batch,
};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions as DisplayOptions};

use super::{BadRow, BadRowPolicy, ConnectorOptions};
use crate::error::{Result, RuntimeError};

/// Format options every connector using [`FormatOptions::from_options`] accepts (without the
/// key prefix, e.g. `value.` for Kafka values).
pub const FORMAT_OPTION_KEYS: &[&str] = &[
    "format",
    "json.fail-on-missing-field",
    "json.ignore-parse-errors",
    "json.timestamp-format.standard",
    "json.encode.ignore-null-fields",
    "csv.field-delimiter",
    "csv.quote-character",
    "csv.disable-quote-character",
    "csv.escape-character",
    "csv.null-literal",
    "csv.allow-comments",
    "csv.ignore-parse-errors",
    "csv.array-element-delimiter",
    "csv.ignore-first-line",
];

/// Longest raw text kept in a [`BadRow`].
pub const MAX_BAD_ROW_BYTES: usize = 4096;

/// A row format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    Json,
    FlexibleJson,
    Csv,
}

impl RowFormat {
    /// From a `'format'` option value.
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "flexible-json" => Ok(Self::FlexibleJson),
            "csv" => Ok(Self::Csv),
            other => Err(RuntimeError::Connector(format!(
                "unsupported format '{other}' (supported: json, flexible-json, csv)"
            ))),
        }
    }

    /// The file name extension sinks use (`json` or `csv`).
    pub fn file_extension(self) -> &'static str {
        match self {
            Self::Json | Self::FlexibleJson => "json",
            Self::Csv => "csv",
        }
    }

    fn is_json(self) -> bool {
        matches!(self, Self::Json | Self::FlexibleJson)
    }
}

/// How timestamps are written (`json.timestamp-format.standard`); both are always read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampStandard {
    /// `2020-07-22 12:34:56.789`, TIMESTAMP_LTZ `2020-07-22 12:34:56.789Z` (Flink's default).
    #[default]
    Sql,
    /// `2020-07-22T12:34:56.789`, TIMESTAMP_LTZ `2020-07-22T12:34:56.789Z`.
    Iso8601,
}

impl TimestampStandard {
    fn timestamp_format(self) -> &'static str {
        match self {
            Self::Sql => "%Y-%m-%d %H:%M:%S%.f",
            Self::Iso8601 => "%Y-%m-%dT%H:%M:%S%.f",
        }
    }

    fn timestamp_tz_format(self) -> &'static str {
        match self {
            Self::Sql => "%Y-%m-%d %H:%M:%S%.fZ",
            Self::Iso8601 => "%Y-%m-%dT%H:%M:%S%.fZ",
        }
    }
}

/// CSV dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    pub field_delimiter: u8,
    /// `None` when quoting is disabled.
    pub quote: Option<u8>,
    pub escape: Option<u8>,
    /// Text that reads as NULL (and is written for NULL); empty fields are NULL regardless.
    pub null_literal: Option<String>,
    pub allow_comments: bool,
    /// The first line of each file is a header (skipped by readers, written by sinks).
    pub ignore_first_line: bool,
    pub array_element_delimiter: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            field_delimiter: b',',
            quote: Some(b'"'),
            escape: None,
            null_literal: None,
            allow_comments: false,
            ignore_first_line: false,
            array_element_delimiter: ";".to_string(),
        }
    }
}

/// A format with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    pub format: RowFormat,
    pub timestamp_standard: TimestampStandard,
    /// `json.encode.ignore-null-fields`: sinks omit NULL fields instead of writing `null`.
    pub json_ignore_null_fields: bool,
    pub csv: CsvOptions,
}

impl FormatOptions {
    /// Defaults for `format`.
    pub fn new(format: RowFormat) -> Self {
        Self {
            format,
            timestamp_standard: TimestampStandard::default(),
            json_ignore_null_fields: false,
            csv: CsvOptions::default(),
        }
    }

    /// From table options: `{prefix}format` (required) and `{prefix}json.*` / `{prefix}csv.*`.
    /// The prefix is empty for files and `value.` or `key.` for Kafka.
    pub fn from_options(options: &ConnectorOptions, prefix: &str) -> Result<Self> {
        let format_key = format!("{prefix}format");
        let format = match options.get(&format_key) {
            Some(name) => RowFormat::parse(name)?,
            None => {
                return Err(RuntimeError::Connector(format!(
                    "the option '{format_key}' is required (json, flexible-json or csv)"
                )))
            }
        };
        let key = |name: &str| format!("{prefix}{name}");
        let mut result = Self::new(format);

        if bool_option(options, &key("json.fail-on-missing-field"), false)? {
            return Err(RuntimeError::Connector(format!(
                "'{}' = 'true' is not supported: missing fields read as NULL; declare the column NOT NULL to reject records without it",
                key("json.fail-on-missing-field")
            )));
        }
        if let Some(standard) = options.get(&key("json.timestamp-format.standard")) {
            result.timestamp_standard = match standard.trim().to_ascii_uppercase().as_str() {
                "SQL" => TimestampStandard::Sql,
                "ISO-8601" | "ISO_8601" => TimestampStandard::Iso8601,
                other => {
                    return Err(RuntimeError::Connector(format!(
                        "invalid value '{other}' for option '{}' (expected SQL or ISO-8601)",
                        key("json.timestamp-format.standard")
                    )))
                }
            };
        }
        result.json_ignore_null_fields =
            bool_option(options, &key("json.encode.ignore-null-fields"), false)?;

        let csv = &mut result.csv;
        if let Some(delimiter) = options.get(&key("csv.field-delimiter")) {
            csv.field_delimiter = single_byte(&key("csv.field-delimiter"), delimiter)?;
        }
        let disable_quote = bool_option(options, &key("csv.disable-quote-character"), false)?;
        match (disable_quote, options.get(&key("csv.quote-character"))) {
            (true, Some(_)) => {
                return Err(RuntimeError::Connector(format!(
                    "'{}' cannot be set when '{}' is true",
                    key("csv.quote-character"),
                    key("csv.disable-quote-character")
                )))
            }
            (true, None) => csv.quote = None,
            (false, Some(quote)) => {
                csv.quote = Some(single_byte(&key("csv.quote-character"), quote)?)
            }
            (false, None) => {}
        }
        if let Some(escape) = options.get(&key("csv.escape-character")) {
            csv.escape = Some(single_byte(&key("csv.escape-character"), escape)?);
        }
        csv.null_literal = options.get(&key("csv.null-literal")).map(str::to_string);
        csv.allow_comments = bool_option(options, &key("csv.allow-comments"), false)?;
        csv.ignore_first_line = bool_option(options, &key("csv.ignore-first-line"), false)?;
        if let Some(delimiter) = options.get(&key("csv.array-element-delimiter")) {
            if delimiter.is_empty() {
                return Err(RuntimeError::Connector(format!(
                    "'{}' must not be empty",
                    key("csv.array-element-delimiter")
                )));
            }
            csv.array_element_delimiter = unescape(delimiter);
        }
        Ok(result)
    }
}

/// A boolean option (`true`/`false`, any case), or `default` when absent.
pub fn bool_option(options: &ConnectorOptions, key: &str, default: bool) -> Result<bool> {
    match options.get(key) {
        None => Ok(default),
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(RuntimeError::Connector(format!(
                "invalid value '{value}' for option '{key}' (expected true or false)"
            ))),
        },
    }
}

/// `\t`, `\n`, `\r`, `\\` and `\uXXXX` written in option values, as Flink documents them.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('t') => {
                chars.next();
                out.push('\t');
            }
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('r') => {
                chars.next();
                out.push('\r');
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            Some('u') => {
                let hex: String = chars.clone().skip(1).take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => {
                        for _ in 0..5 {
                            chars.next();
                        }
                        out.push(decoded);
                    }
                    _ => out.push('\\'),
                }
            }
            _ => out.push('\\'),
        }
    }
    out
}

fn single_byte(key: &str, value: &str) -> Result<u8> {
    let unescaped = unescape(value);
    let mut chars = unescaped.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() => Ok(c as u8),
        _ => Err(RuntimeError::Connector(format!(
            "option '{key}' must be a single ASCII character, got '{value}'"
        ))),
    }
}

/// Rows decoded from a chunk of records.
#[derive(Debug)]
pub struct DecodedRows {
    /// The good rows, in input order, in the decoder's schema.
    pub rows: RecordBatch,
    /// Bad records, only under [`BadRowPolicy::DeadLetter`].
    pub bad_rows: Vec<BadRow>,
    /// Bad records skipped or dead-lettered (add to [`super::SourceCounters::bad_rows`]).
    pub bad_count: u64,
}

/// Decodes records of one format into batches of a schema; see the module documentation.
#[derive(Debug, Clone)]
pub struct RowDecoder {
    schema: SchemaRef,
    /// `schema` with every field, nested ones included, nullable: what is decoded before the
    /// NOT NULL checks.
    relaxed: SchemaRef,
    /// CSV: every column as nullable text.
    text_schema: SchemaRef,
    options: FormatOptions,
    policy: BadRowPolicy,
    /// JSON: match object keys to columns ignoring ASCII case, because every column name
    /// (nested fields included) is lower case — Sluice folds unquoted and Flink-backquoted
    /// identifiers, so `lastUpdated` in a file is the column `lastupdated`. A schema with a
    /// mixed-case name (a double-quoted identifier) matches keys exactly.
    fold_keys: bool,
}

/// Whether no field name of `fields`, nested ones included, has an upper-case ASCII letter.
fn all_lower_case(fields: &arrow::datatypes::Fields) -> bool {
    fields.iter().all(|field| lower_case_names(field))
}

/// Whether `field`'s name and those of its nested fields (rows, list elements) have no
/// upper-case ASCII letter.
fn lower_case_names(field: &Field) -> bool {
    !field.name().bytes().any(|b| b.is_ascii_uppercase())
        && match field.data_type() {
            DataType::Struct(nested) => all_lower_case(nested),
            DataType::List(element) | DataType::LargeList(element) => lower_case_names(element),
            // A map's keys are data: folding them would change the values read.
            DataType::Map(_, _) => false,
            _ => true,
        }
}

/// `record` (one JSON value) with the ASCII letters of every object key in lower case;
/// string values and everything else are left as they are. Borrowed when no byte is upper
/// case. A malformed record comes back changed only in its keys, for the decoder to reject.
fn fold_json_keys(record: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !record.iter().any(u8::is_ascii_uppercase) {
        return std::borrow::Cow::Borrowed(record);
    }
    let mut out = record.to_vec();
    // Open containers: true for an object.
    let mut objects: Vec<bool> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < out.len() {
        match out[i] {
            b'{' => {
                objects.push(true);
                expect_key = true;
            }
            b'[' => {
                objects.push(false);
                expect_key = false;
            }
            b'}' | b']' => {
                objects.pop();
                expect_key = false;
            }
            b',' => expect_key = objects.last() == Some(&true),
            b':' => expect_key = false,
            b'"' => {
                let key = expect_key;
                i += 1;
                while i < out.len() && out[i] != b'"' {
                    if out[i] == b'\\' {
                        i += 1;
                    } else if key {
                        out[i].make_ascii_lowercase();
                    }
                    i += 1;
                }
                expect_key = false;
            }
            _ => {}
        }
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// Marks an array element that belongs to no live row (its parent is NULL).
const NO_ROW: usize = usize::MAX;

impl RowDecoder {
    /// A decoder producing batches of `schema`; errors if a column type cannot be read in
    /// this format (naming the column).
    pub fn new(schema: SchemaRef, options: FormatOptions, policy: BadRowPolicy) -> Result<Self> {
        if options.format == RowFormat::Csv {
            for field in schema.fields() {
                check_csv_type(field, field.name(), false)?;
            }
        }
        let relaxed = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| relax_field(f))
                .collect::<Vec<_>>(),
        ));
        let text_schema = Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let fold_keys = all_lower_case(schema.fields());
        Ok(Self {
            schema,
            relaxed,
            text_schema,
            options,
            policy,
            fold_keys,
        })
    }

    /// The schema of decoded batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn options(&self) -> &FormatOptions {
        &self.options
    }

    pub fn policy(&self) -> BadRowPolicy {
        self.policy
    }

    /// Decode the lines of `chunk` (split at `\n`; a last line without newline counts; a
    /// trailing `\r` is dropped). `location(i)` names line `i` of the chunk (0-based) in
    /// errors and bad rows, e.g. `orders.json line 17`.
    pub fn decode_lines(
        &self,
        chunk: &[u8],
        location: &dyn Fn(usize) -> String,
    ) -> Result<DecodedRows> {
        let skip_comments =
            self.options.format == RowFormat::Csv && self.options.csv.allow_comments;
        let lines: Vec<&[u8]> = split_lines(chunk)
            .map(|line| {
                if skip_comments && line.first() == Some(&b'#') {
                    &line[..0]
                } else {
                    line
                }
            })
            .collect();
        self.decode_records(&lines, location)
    }

    /// Decode records, one row each (e.g. Kafka values). `location(i)` names record `i`.
    pub fn decode_records(
        &self,
        records: &[&[u8]],
        location: &dyn Fn(usize) -> String,
    ) -> Result<DecodedRows> {
        let mut origin = Vec::with_capacity(records.len());
        let mut selected = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            let record = record.strip_suffix(b"\r").unwrap_or(record);
            if !record.iter().all(u8::is_ascii_whitespace) {
                origin.push(index);
                selected.push(record);
            }
        }
        let mut errors: Vec<Option<String>> = vec![None; selected.len()];
        let relaxed_batch = if self.options.format.is_json() {
            match self.decode_json(&selected) {
                Ok(batch) => batch,
                Err(_) => self.decode_one_by_one(&selected, &mut errors, &self.relaxed, |r| {
                    self.decode_json(r)
                })?,
            }
        } else {
            let text = match self.decode_csv_text(&selected) {
                Ok(batch) => batch,
                Err(_) => {
                    self.decode_one_by_one(&selected, &mut errors, &self.text_schema, |r| {
                        self.decode_csv_text(r)
                    })?
                }
            };
            self.convert_text_batch(&text, &mut errors)?
        };

        let identity: Vec<usize> = (0..relaxed_batch.num_rows()).collect();
        for (column, field) in relaxed_batch.columns().iter().zip(self.schema.fields()) {
            check_not_null(column.as_ref(), field, field.name(), &identity, &mut errors);
        }

        let bad: Vec<(usize, String)> = errors
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i, e.clone())))
            .collect();
        let kept = if bad.is_empty() {
            relaxed_batch
        } else {
            if self.policy == BadRowPolicy::Fail {
                let (index, error) = &bad[0];
                return Err(RuntimeError::Connector(format!(
                    "{}: {error}",
                    location(origin[*index])
                )));
            }
            let keep: BooleanArray = errors.iter().map(|e| Some(e.is_none())).collect();
            filter_record_batch(&relaxed_batch, &keep)?
        };
        let rows = self.to_exact_schema(&kept)?;
        let bad_rows = if self.policy == BadRowPolicy::DeadLetter {
            bad.iter()
                .map(|(index, error)| BadRow {
                    location: location(origin[*index]),
                    raw: raw_text(selected[*index]),
                    error: error.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(DecodedRows {
            rows,
            bad_rows,
            bad_count: bad.len() as u64,
        })
    }

    /// Decode each record alone; a failing one gets an error and a NULL row.
    fn decode_one_by_one(
        &self,
        records: &[&[u8]],
        errors: &mut [Option<String>],
        schema: &SchemaRef,
        decode: impl Fn(&[&[u8]]) -> std::result::Result<RecordBatch, String>,
    ) -> Result<RecordBatch> {
        let null_row = RecordBatch::try_new_with_options(
            schema.clone(),
            schema
                .fields()
                .iter()
                .map(|f| new_null_array(f.data_type(), 1))
                .collect(),
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let mut parts = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            match decode(std::slice::from_ref(record)) {
                Ok(batch) => parts.push(batch),
                Err(error) => {
                    errors[index] = Some(error);
                    parts.push(null_row.clone());
                }
            }
        }
        Ok(concat_batches(schema, &parts)?)
    }

    /// All records through one arrow JSON decoder; exactly one object per record.
    fn decode_json(&self, records: &[&[u8]]) -> std::result::Result<RecordBatch, String> {
        let mut decoder = arrow::json::ReaderBuilder::new(self.relaxed.clone())
            .with_batch_size(records.len() + 1)
            .with_strict_mode(false)
            .with_coerce_primitive(true)
            .with_ignore_type_conflicts(self.options.format == RowFormat::FlexibleJson)
            .build_decoder()
            .map_err(|e| e.to_string())?;
        for (index, record) in records.iter().enumerate() {
            let record = if self.fold_keys {
                fold_json_keys(record)
            } else {
                std::borrow::Cow::Borrowed(*record)
            };
            for part in [record.as_ref(), b"\n".as_slice()] {
                let consumed = decoder.decode(part).map_err(|e| error_text(&e))?;
                if consumed != part.len() {
                    return Err("expected one JSON object, found several values".into());
                }
            }
            if decoder.has_partial_record() {
                return Err("incomplete JSON value".into());
            }
            if decoder.len() != index + 1 {
                return Err(if decoder.len() <= index {
                    "expected one JSON object, found none".into()
                } else {
                    "expected one JSON object, found several values".into()
                });
            }
        }
        let batch = decoder.flush().map_err(|e| error_text(&e))?;
        Ok(batch.unwrap_or_else(|| RecordBatch::new_empty(self.relaxed.clone())))
    }

    /// All records through one arrow CSV decoder into text columns.
    fn decode_csv_text(&self, records: &[&[u8]]) -> std::result::Result<RecordBatch, String> {
        let csv = &self.options.csv;
        let mut builder = arrow::csv::ReaderBuilder::new(self.text_schema.clone())
            .with_header(false)
            .with_delimiter(csv.field_delimiter)
            // Quoting cannot be switched off in arrow; NUL never occurs in text files.
            .with_quote(csv.quote.unwrap_or(0))
            .with_batch_size(records.len() + 1);
        if let Some(escape) = csv.escape {
            builder = builder.with_escape(escape);
        }
        let mut decoder = builder.build_decoder();
        for record in records {
            for part in [*record, b"\n".as_slice()] {
                let mut rest = part;
                while !rest.is_empty() {
                    let consumed = decoder.decode(rest).map_err(|e| csv_error_text(&e))?;
                    if consumed == 0 {
                        return Err("the CSV decoder made no progress".into());
                    }
                    rest = &rest[consumed..];
                }
            }
        }
        let batch = decoder
            .flush()
            .map_err(|e| csv_error_text(&e))?
            .unwrap_or_else(|| RecordBatch::new_empty(self.text_schema.clone()));
        if batch.num_rows() != records.len() {
            return Err(if records.len() == 1 {
                "incomplete CSV record (unterminated quoted field?)".into()
            } else {
                format!(
                    "{} CSV records found in {} lines",
                    batch.num_rows(),
                    records.len()
                )
            });
        }
        Ok(batch)
    }

    /// Text columns to the relaxed types; values that do not parse mark their row bad.
    fn convert_text_batch(
        &self,
        text: &RecordBatch,
        errors: &mut [Option<String>],
    ) -> Result<RecordBatch> {
        let identity: Vec<usize> = (0..text.num_rows()).collect();
        let mut columns = Vec::with_capacity(text.num_columns());
        for (column, field) in text.columns().iter().zip(self.schema.fields()) {
            let strings = column.as_string_opt::<i32>().ok_or_else(|| {
                RuntimeError::Internal("CSV decoder produced a non-text column".into())
            })?;
            columns.push(self.convert_text(strings, field, field.name(), &identity, errors)?);
        }
        Ok(RecordBatch::try_new_with_options(
            self.relaxed.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(text.num_rows())),
        )?)
    }

    fn convert_text(
        &self,
        text: &StringArray,
        field: &Field,
        path: &str,
        row_of: &[usize],
        errors: &mut [Option<String>],
    ) -> Result<ArrayRef> {
        let csv = &self.options.csv;
        let is_text = matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        // NULL literal, and empty text for non-text types, read as NULL.
        let text: StringArray = text
            .iter()
            .map(|value| {
                value.filter(|v| {
                    csv.null_literal.as_deref() != Some(*v) && (is_text || !v.is_empty())
                })
            })
            .collect();
        let delimiter = csv.array_element_delimiter.as_str();
        match field.data_type() {
            DataType::Utf8 => Ok(Arc::new(text)),
            DataType::Struct(fields) => {
                let mut children: Vec<Vec<Option<&str>>> = vec![Vec::new(); fields.len()];
                let mut valid = Vec::with_capacity(text.len());
                for (i, value) in text.iter().enumerate() {
                    let parts: Option<Vec<&str>> = value.map(|v| v.split(delimiter).collect());
                    match parts {
                        Some(parts) if parts.len() == fields.len() => {
                            valid.push(true);
                            for (child, part) in children.iter_mut().zip(parts) {
                                child.push(Some(part));
                            }
                        }
                        other => {
                            if let Some(parts) = other {
                                set_error(
                                    errors,
                                    row_of[i],
                                    format!(
                                        "column '{path}' expects {} fields separated by '{delimiter}', found {}",
                                        fields.len(),
                                        parts.len()
                                    ),
                                );
                            }
                            valid.push(false);
                            for child in children.iter_mut() {
                                child.push(None);
                            }
                        }
                    }
                }
                let mut arrays = Vec::with_capacity(fields.len());
                for (child, child_field) in children.into_iter().zip(fields.iter()) {
                    let strings = StringArray::from(child);
                    let child_path = format!("{path}.{}", child_field.name());
                    arrays.push(self.convert_text(
                        &strings,
                        child_field,
                        &child_path,
                        row_of,
                        errors,
                    )?);
                }
                let relaxed_fields: Fields = fields
                    .iter()
                    .zip(&arrays)
                    .map(|(f, a)| Field::new(f.name(), a.data_type().clone(), true))
                    .collect();
                Ok(Arc::new(StructArray::try_new(
                    relaxed_fields,
                    arrays,
                    Some(NullBuffer::from(valid)),
                )?))
            }
            DataType::List(element) => {
                self.convert_text_list::<i32>(&text, element, path, row_of, errors)
            }
            DataType::LargeList(element) => {
                self.convert_text_list::<i64>(&text, element, path, row_of, errors)
            }
            target => {
                let converted = cast(&text, target)?;
                for (i, row) in row_of.iter().enumerate().take(text.len()) {
                    if text.is_valid(i) && converted.is_null(i) {
                        set_error(
                            errors,
                            *row,
                            format!(
                                "invalid value '{}' for column '{path}' of type {target}",
                                text.value(i)
                            ),
                        );
                    }
                }
                Ok(converted)
            }
        }
    }

    fn convert_text_list<O: OffsetSizeTrait>(
        &self,
        text: &StringArray,
        element: &FieldRef,
        path: &str,
        row_of: &[usize],
        errors: &mut [Option<String>],
    ) -> Result<ArrayRef> {
        let delimiter = self.options.csv.array_element_delimiter.as_str();
        let mut values: Vec<&str> = Vec::new();
        let mut value_rows = Vec::new();
        let mut lengths = Vec::with_capacity(text.len());
        for (i, value) in text.iter().enumerate() {
            match value {
                Some(v) if !v.is_empty() => {
                    let before = values.len();
                    values.extend(v.split(delimiter));
                    value_rows.resize(values.len(), row_of[i]);
                    lengths.push(values.len() - before);
                }
                _ => lengths.push(0),
            }
        }
        let strings: StringArray = values.into_iter().map(Some).collect();
        let element_path = format!("{path}[]");
        let child = self.convert_text(&strings, element, &element_path, &value_rows, errors)?;
        let relaxed_element = Arc::new(Field::new(element.name(), child.data_type().clone(), true));
        let list = GenericListArray::<O>::try_new(
            relaxed_element,
            OffsetBuffer::<O>::from_lengths(lengths),
            child,
            text.nulls().cloned(),
        )?;
        Ok(Arc::new(list))
    }

    /// Relaxed rows (already free of NULLs where the schema forbids them) to the exact schema.
    fn to_exact_schema(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(column, field)| {
                if column.data_type() == field.data_type() {
                    Ok(column.clone())
                } else {
                    cast(column, field.data_type())
                }
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )?)
    }
}

/// Lines of a chunk: split at `\n`, the empty piece after a final `\n` dropped.
fn split_lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
    let empty = chunk.is_empty();
    body.split(|b| *b == b'\n').filter(move |_| !empty)
}

fn set_error(errors: &mut [Option<String>], row: usize, error: String) {
    if let Some(slot) = errors.get_mut(row) {
        if slot.is_none() {
            *slot = Some(error);
        }
    }
}

/// Record NOT NULL violations of `field` (and its nested fields) in `array`, whose element
/// `i` belongs to row `row_of[i]` ([`NO_ROW`] when its parent is NULL).
fn check_not_null(
    array: &dyn Array,
    field: &Field,
    path: &str,
    row_of: &[usize],
    errors: &mut [Option<String>],
) {
    if !field.is_nullable() {
        for (i, row) in row_of.iter().enumerate() {
            if *row != NO_ROW && array.is_null(i) {
                set_error(
                    errors,
                    *row,
                    format!("column '{path}' is NOT NULL but the value is null or missing"),
                );
            }
        }
    }
    let live = |i: usize, row: usize| if array.is_valid(i) { row } else { NO_ROW };
    match field.data_type() {
        DataType::Struct(fields) => {
            if let Some(array) = array.as_struct_opt() {
                let child_rows: Vec<usize> = row_of
                    .iter()
                    .enumerate()
                    .map(|(i, r)| live(i, *r))
                    .collect();
                for (child, child_field) in array.columns().iter().zip(fields.iter()) {
                    let child_path = format!("{path}.{}", child_field.name());
                    check_not_null(
                        child.as_ref(),
                        child_field,
                        &child_path,
                        &child_rows,
                        errors,
                    );
                }
            }
        }
        DataType::List(element) => {
            if let Some(list) = array.as_list_opt::<i32>() {
                check_list_elements(list, element, path, row_of, errors);
            }
        }
        DataType::LargeList(element) => {
            if let Some(list) = array.as_list_opt::<i64>() {
                check_list_elements(list, element, path, row_of, errors);
            }
        }
        _ => {}
    }
}

fn check_list_elements<O: OffsetSizeTrait>(
    list: &GenericListArray<O>,
    element: &Field,
    path: &str,
    row_of: &[usize],
    errors: &mut [Option<String>],
) {
    let values = list.values();
    let mut element_rows = vec![NO_ROW; values.len()];
    let offsets = list.value_offsets();
    for (i, row) in row_of.iter().enumerate() {
        if *row == NO_ROW || list.is_null(i) {
            continue;
        }
        let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        for slot in element_rows.iter_mut().take(end).skip(start) {
            *slot = *row;
        }
    }
    check_not_null(
        values.as_ref(),
        element,
        &format!("{path}[]"),
        &element_rows,
        errors,
    );
}

/// `field` with itself and every nested struct field / list element nullable.
fn relax_field(field: &Field) -> Field {
    Field::new(field.name(), relax_type(field.data_type()), true)
}

fn relax_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| relax_field(f)).collect())
        }
        DataType::List(element) => DataType::List(Arc::new(relax_field(element))),
        DataType::LargeList(element) => DataType::LargeList(Arc::new(relax_field(element))),
        // Arrow's map keys are never null; the values are relaxed.
        DataType::Map(entries, sorted) => match entries.data_type() {
            DataType::Struct(pair) if pair.len() == 2 => map_of(
                entries,
                *sorted,
                pair[0].as_ref().clone(),
                relax_field(&pair[1]),
            ),
            _ => data_type.clone(),
        },
        other => other.clone(),
    }
}

/// The map type with entries field `entries` (its name and nullability) holding `key` and
/// `value`.
fn map_of(entries: &Field, sorted: bool, key: Field, value: Field) -> DataType {
    let pair: arrow::datatypes::Fields = vec![key, value].into();
    let entries = entries.clone().with_data_type(DataType::Struct(pair));
    DataType::Map(Arc::new(entries), sorted)
}

/// CSV reads scalars, and ROW / ARRAY of scalars at top level.
fn check_csv_type(field: &Field, path: &str, nested: bool) -> Result<()> {
    let unsupported = || {
        RuntimeError::Connector(format!(
            "the csv format cannot read column '{path}' of type {}: use json for nested rows, arrays of rows and maps",
            field.data_type()
        ))
    };
    match field.data_type() {
        DataType::Struct(fields) if !nested => {
            for child in fields {
                check_csv_type(child, &format!("{path}.{}", child.name()), true)?;
            }
            Ok(())
        }
        DataType::List(element) | DataType::LargeList(element) if !nested => {
            check_csv_type(element, &format!("{path}[]"), true)
        }
        DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_) => Err(unsupported()),
        DataType::Utf8 => Ok(()),
        other if can_cast_types(&DataType::Utf8, other) && !other.is_nested() => Ok(()),
        _ => Err(unsupported()),
    }
}

fn raw_text(record: &[u8]) -> String {
    if record.len() <= MAX_BAD_ROW_BYTES {
        String::from_utf8_lossy(record).into_owned()
    } else {
        let mut text = String::from_utf8_lossy(&record[..MAX_BAD_ROW_BYTES]).into_owned();
        text.push_str("...");
        text
    }
}

fn error_text(error: &arrow::error::ArrowError) -> String {
    match error {
        arrow::error::ArrowError::JsonError(text)
        | arrow::error::ArrowError::ParseError(text)
        | arrow::error::ArrowError::CastError(text)
        | arrow::error::ArrowError::InvalidArgumentError(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Arrow numbers CSV lines from the start of the decoder; the caller knows the real line.
fn csv_error_text(error: &arrow::error::ArrowError) -> String {
    let text = error_text(error);
    match (
        text.find("incorrect number of fields"),
        text.find("expected"),
    ) {
        (Some(_), Some(at)) => format!("incorrect number of fields: {}", &text[at..]),
        _ => text,
    }
}

/// Encodes batches as JSON lines or CSV lines (sinks).
#[derive(Debug, Clone)]
pub struct RowEncoder {
    schema: SchemaRef,
    options: FormatOptions,
}

impl RowEncoder {
    /// An encoder for batches of `schema`; errors if a column cannot be written in the format.
    pub fn new(schema: SchemaRef, options: FormatOptions) -> Result<Self> {
        if options.format == RowFormat::Csv {
            for field in schema.fields() {
                check_csv_type(field, field.name(), false)?;
            }
        }
        Ok(Self { schema, options })
    }

    pub fn options(&self) -> &FormatOptions {
        &self.options
    }

    /// The CSV header line (column names) when `csv.ignore-first-line` is set.
    pub fn csv_header(&self) -> Result<Option<Vec<u8>>> {
        if self.options.format != RowFormat::Csv || !self.options.csv.ignore_first_line {
            return Ok(None);
        }
        let names: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|f| Arc::new(StringArray::from(vec![f.name().as_str()])) as ArrayRef)
            .collect();
        let text_schema = Arc::new(Schema::new(
            self.schema
                .fields()
                .iter()
                .map(|f| Field::new(f.name(), DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(text_schema, names)?;
        Ok(Some(self.write_csv(&batch)?))
    }

    /// Every row of `batch`, each terminated by `\n`.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<u8>> {
        let batch = utc_timestamps(batch)?;
        if self.options.format.is_json() {
            let batch = with_text_map_keys(&batch)?;
            let standard = self.options.timestamp_standard;
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(!self.options.json_ignore_null_fields)
                .with_timestamp_format(standard.timestamp_format().to_string())
                .with_timestamp_tz_format(standard.timestamp_tz_format().to_string())
                .build::<_, arrow::json::writer::LineDelimited>(Vec::new());
            writer.write(&batch)?;
            writer.finish()?;
            Ok(writer.into_inner())
        } else {
            let columns = batch
                .columns()
                .iter()
                .map(|column| self.flatten_for_csv(column))
                .collect::<Result<Vec<_>>>()?;
            let fields: Vec<Field> = batch
                .schema()
                .fields()
                .iter()
                .zip(&columns)
                .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true))
                .collect();
            let flat = RecordBatch::try_new_with_options(
                Arc::new(Schema::new(fields)),
                columns,
                &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
            )?;
            self.write_csv(&flat)
        }
    }

    /// Each row of `batch` encoded alone, without a line terminator (one Kafka value each).
    pub fn encode_rows(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        let mut rows = Vec::with_capacity(batch.num_rows());
        if self.options.format.is_json() {
            // JSON strings escape newlines, so every line is exactly one row.
            let text = self.encode(batch)?;
            for line in split_lines(&text) {
                rows.push(line.to_vec());
            }
        } else {
            for i in 0..batch.num_rows() {
                let mut row = self.encode(&batch.slice(i, 1))?;
                while matches!(row.last(), Some(b'\n' | b'\r')) {
                    row.pop();
                }
                rows.push(row);
            }
        }
        if rows.len() != batch.num_rows() {
            return Err(RuntimeError::Internal(format!(
                "encoded {} rows as {} records",
                batch.num_rows(),
                rows.len()
            )));
        }
        Ok(rows)
    }

    fn write_csv(&self, batch: &RecordBatch) -> Result<Vec<u8>> {
        let csv = &self.options.csv;
        let standard = self.options.timestamp_standard;
        let mut builder = arrow::csv::WriterBuilder::new()
            .with_header(false)
            .with_delimiter(csv.field_delimiter)
            .with_null(csv.null_literal.clone().unwrap_or_default())
            .with_timestamp_format(standard.timestamp_format().to_string())
            .with_timestamp_tz_format(standard.timestamp_tz_format().to_string());
        if let Some(quote) = csv.quote {
            builder = builder.with_quote(quote);
        }
        if let Some(escape) = csv.escape {
            builder = builder.with_escape(escape).with_double_quote(false);
        }
        let mut writer = builder.build(Vec::new());
        writer.write(batch)?;
        Ok(writer.into_inner())
    }

    /// ROW and ARRAY columns as text, elements joined by the array element delimiter.
    fn flatten_for_csv(&self, column: &ArrayRef) -> Result<ArrayRef> {
        let standard = self.options.timestamp_standard;
        let display = DisplayOptions::new()
            .with_display_error(true)
            .with_null("")
            .with_timestamp_format(Some(standard.timestamp_format()))
            .with_timestamp_tz_format(Some(standard.timestamp_tz_format()));
        let delimiter = self.options.csv.array_element_delimiter.as_str();
        let text: StringArray = match column.data_type() {
            DataType::Struct(_) => {
                let array = column.as_struct();
                let formatters = array
                    .columns()
                    .iter()
                    .map(|c| ArrayFormatter::try_new(c.as_ref(), &display))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                (0..array.len())
                    .map(|i| {
                        array.is_valid(i).then(|| {
                            formatters
                                .iter()
                                .map(|f| f.value(i).to_string())
                                .collect::<Vec<_>>()
                                .join(delimiter)
                        })
                    })
                    .collect()
            }
            DataType::List(_) => join_list(column.as_list::<i32>(), &display, delimiter)?,
            DataType::LargeList(_) => join_list(column.as_list::<i64>(), &display, delimiter)?,
            _ => return Ok(column.clone()),
        };
        Ok(Arc::new(text))
    }
}

fn join_list<O: OffsetSizeTrait>(
    list: &GenericListArray<O>,
    display: &DisplayOptions<'_>,
    delimiter: &str,
) -> Result<StringArray> {
    let values = list.values();
    let formatter = ArrayFormatter::try_new(values.as_ref(), display)?;
    let offsets = list.value_offsets();
    Ok((0..list.len())
        .map(|i| {
            list.is_valid(i).then(|| {
                (offsets[i].as_usize()..offsets[i + 1].as_usize())
                    .map(|k| formatter.value(k).to_string())
                    .collect::<Vec<_>>()
                    .join(delimiter)
            })
        })
        .collect())
}

/// Timestamps with a time zone relabelled as UTC, so they print as UTC with a `Z` suffix.
fn utc_timestamps(batch: &RecordBatch) -> Result<RecordBatch> {
    let mut changed = false;
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let utc = utc_type(field.data_type());
        if &utc == field.data_type() {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        } else {
            changed = true;
            fields.push(field.as_ref().clone().with_data_type(utc.clone()));
            columns.push(cast_with_options(column, &utc, &Default::default())?);
        }
    }
    if !changed {
        return Ok(batch.clone());
    }
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

fn utc_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, Some("+00:00".into())),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| f.as_ref().clone().with_data_type(utc_type(f.data_type())))
                .collect(),
        ),
        DataType::List(element) => DataType::List(Arc::new(
            element
                .as_ref()
                .clone()
                .with_data_type(utc_type(element.data_type())),
        )),
        DataType::LargeList(element) => DataType::LargeList(Arc::new(
            element
                .as_ref()
                .clone()
                .with_data_type(utc_type(element.data_type())),
        )),
        other => other.clone(),
    }
}

/// Each value of `array` as JSON text (None for NULL): rows as objects, arrays as arrays,
/// maps as objects with their keys as text (JSON has no other kind of key).
pub fn json_texts(array: &ArrayRef) -> Result<Vec<Option<String>>> {
    let text_keys = text_map_keys(array.data_type());
    let array = if text_keys != *array.data_type() {
        arrow::compute::cast(array, &text_keys)?
    } else {
        array.clone()
    };
    let field = Arc::new(Field::new("", array.data_type().clone(), true));
    let options = arrow::json::writer::EncoderOptions::default().with_explicit_nulls(true);
    let mut encoder = arrow::json::writer::make_encoder(&field, array.as_ref(), &options)?;
    let mut out = Vec::with_capacity(array.len());
    let mut bytes = Vec::new();
    for row in 0..array.len() {
        if array.is_null(row) {
            out.push(None);
        } else {
            bytes.clear();
            encoder.encode(row, &mut bytes);
            out.push(Some(String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    Ok(out)
}

/// `batch` with the keys of its maps as text (JSON objects have no other kind of key).
fn with_text_map_keys(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let types: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| text_map_keys(f.data_type()))
        .collect();
    if types
        .iter()
        .zip(schema.fields())
        .all(|(new, f)| new == f.data_type())
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for ((field, column), data_type) in schema.fields().iter().zip(batch.columns()).zip(types) {
        columns.push(if data_type != *field.data_type() {
            arrow::compute::cast(column, &data_type)?
        } else {
            column.clone()
        });
        fields.push(field.as_ref().clone().with_data_type(data_type));
    }
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// `data_type` with the keys of every map, nested ones too, as text.
fn text_map_keys(data_type: &DataType) -> DataType {
    let field = |f: &Field| f.clone().with_data_type(text_map_keys(f.data_type()));
    match data_type {
        DataType::Map(entries, sorted) => match entries.data_type() {
            DataType::Struct(pair) if pair.len() == 2 => {
                let key = pair[0].as_ref().clone().with_data_type(DataType::Utf8);
                map_of(entries, *sorted, key, field(&pair[1]))
            }
            _ => data_type.clone(),
        },
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(|f| field(f)).collect()),
        DataType::List(element) => DataType::List(Arc::new(field(element))),
        DataType::LargeList(element) => DataType::LargeList(Arc::new(field(element))),
        other => other.clone(),
    }
}

/// One JSON object per row (no terminator), timestamps in Flink's SQL form; for Kafka sinks.
pub fn encode_json_rows(batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    RowEncoder::new(batch.schema(), FormatOptions::new(RowFormat::Json))?.encode_rows(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_json_keys_not_values() {
        use super::fold_json_keys;
        let record = br#"{"lastUpdated": "Mixed \"Case\"", "Nested": {"InnerKey": ["A", {"K": 1}]}, "e": "\\"}"#;
        assert_eq!(
            std::str::from_utf8(&fold_json_keys(record)).unwrap(),
            r#"{"lastupdated": "Mixed \"Case\"", "nested": {"innerkey": ["A", {"k": 1}]}, "e": "\\"}"#
        );
        assert!(matches!(
            fold_json_keys(b"{\"a\": 1}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn unescapes_option_values() {
        assert_eq!(unescape("\\t"), "\t");
        assert_eq!(unescape("\\u0001"), "\u{1}");
        assert_eq!(unescape("a\\b"), "a\\b");
        assert_eq!(unescape(";"), ";");
    }

    #[test]
    fn splits_lines_with_and_without_final_newline() {
        let lines: Vec<&[u8]> = split_lines(b"a\nb\n").collect();
        assert_eq!(lines, vec![b"a".as_slice(), b"b".as_slice()]);
        let lines: Vec<&[u8]> = split_lines(b"a\n\nb").collect();
        assert_eq!(
            lines,
            vec![b"a".as_slice(), b"".as_slice(), b"b".as_slice()]
        );
        assert_eq!(split_lines(b"").count(), 0);
    }
}
