//! Flink SQL data types and their spelling in the PostgreSQL-dialect DDL Sluice plans.
//!
//! [`FlinkType`] keeps the structure of a Flink type (`ROW<..>`, `ARRAY<..>`, `MAP<..>`,
//! `MULTISET<..>`, scalars); [`FlinkType::to_sql`] writes it so that our CREATE TABLE path
//! (sqlparser, then DataFusion's type conversion) produces the matching Arrow type.
//!
//! Conversions, and why:
//! - `ROW<a T, ..>` / `ROW(a T, ..)` -> `STRUCT<a T, ..>`; field names fold like identifiers.
//!   Field descriptions and nullability inside nested types are dropped (Arrow struct fields
//!   declared from SQL are nullable).
//! - `ARRAY<T>` and `T ARRAY` -> `T[]`.
//! - `STRING`, `VARCHAR(n)`, `CHAR(n)` -> `VARCHAR` (no length check, no blank padding).
//! - `BYTES`, `BINARY(n)`, `VARBINARY(n)` -> `BYTEA`.
//! - `TIMESTAMP(p)` -> `TIMESTAMP(q)` and `TIMESTAMP_LTZ(p)` / `TIMESTAMP(p) WITH LOCAL TIME
//!   ZONE` -> `TIMESTAMP(q) WITH TIME ZONE`, where q is p rounded up to 0, 3, 6 or 9 (the
//!   units Arrow has); without p, Flink's default precision 6 (microseconds).
//! - `TIME(p)` -> `TIME` (nanoseconds: DataFusion takes no precision for TIME).
//! - `TINYINT` stays `TINYINT` (Arrow Int8: our parser and DataFusion accept it).
//! - `FLOAT` -> `REAL` (Flink's FLOAT is 4 bytes), `DOUBLE` -> `DOUBLE PRECISION`.
//! - `DECIMAL` without precision -> `DECIMAL(10, 0)`, Flink's default.
//! - `INTERVAL <qualifier>` -> `INTERVAL` (Arrow month-day-nano interval).
//! - `VARCHAR(n) CHARACTER SET name`: the character set is dropped (Sluice strings are UTF-8).
//! - `MAP<K, V>`: DataFusion's SQL planner has no map type, so a column type
//!   ([`FlinkType::to_column_sql`]) is written as an array of `(__sluice_map_key K,
//!   __sluice_map_value V)` rows, which [`restore_maps`] turns into Arrow's `Map` (entries
//!   `key` NOT NULL and `value`) once DataFusion has converted the column list. Elsewhere (a
//!   CAST target) MAP is unsupported.
//! - `MULTISET<T>`: a column of Arrow's `Map` from each distinct element to its count (INT),
//!   Flink's own representation (`Map<T, Integer>`; a JSON object of counts in the json
//!   format); `m[x]` is x's count. Not a CAST target.
//! - `RAW('class', '..')`: DataSQRL's JSON type (`..FlinkJsonType`) -> `JSONB` (the JSON
//!   text in a column marked as JSON) and its vector type (`..FlinkVectorType`) -> `DOUBLE PRECISION[]`; other RAW
//!   classes are unsupported.
//! - Any other type name (e.g. PostgreSQL's `JSON`, `INT4`) is copied verbatim.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::lex::{render_identifier, syntax, Cursor, Lexed};
use crate::error::{PlanError, Result};

/// A Flink column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlinkType {
    /// A scalar type, already spelled as our PostgreSQL-dialect DDL accepts it
    /// (`BIGINT`, `VARCHAR`, `DECIMAL(23, 3)`, `TIMESTAMP(3) WITH TIME ZONE`, ...).
    Scalar(String),
    /// `ROW<..>`: named fields in order.
    Row(Vec<FlinkField>),
    /// `ARRAY<T>`.
    Array(Box<FlinkType>),
    /// `MAP<K, V>`.
    Map {
        key: Box<FlinkType>,
        value: Box<FlinkType>,
    },
    /// `MULTISET<T>`.
    Multiset(Box<FlinkType>),
    /// `RAW('class', 'serializer snapshot')`: a Java type Flink treats as opaque.
    Raw { class_name: String },
}

/// A field of a `ROW` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkField {
    /// The field name, folded like an identifier.
    pub name: String,
    pub data_type: FlinkType,
    /// The field's description string, if one was given (`ROW<a INT 'the a'>`).
    pub description: Option<String>,
}

impl FlinkType {
    /// The type as PostgreSQL-dialect text, for a CAST target: MAP and MULTISET are not
    /// supported.
    pub fn to_sql(&self) -> Result<String> {
        self.render(false)
    }

    /// The type of a table column as PostgreSQL-dialect DDL text for our CREATE TABLE path:
    /// MAP written as the array of entry rows [`restore_maps`] recognizes.
    pub fn to_column_sql(&self) -> Result<String> {
        self.render(true)
    }

    fn render(&self, maps: bool) -> Result<String> {
        Ok(match self {
            FlinkType::Scalar(text) => text.clone(),
            FlinkType::Row(fields) => {
                let fields = fields
                    .iter()
                    .map(|field| {
                        Ok(format!(
                            "{} {}",
                            render_identifier(&field.name),
                            field.data_type.render(maps)?
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                format!("STRUCT<{}>", fields.join(", "))
            }
            FlinkType::Array(element) => format!("{}[]", element.render(maps)?),
            FlinkType::Map { key, value } if maps => format!(
                "STRUCT<{MAP_KEY} {}, {MAP_VALUE} {}>[]",
                key.render(maps)?,
                value.render(maps)?
            ),
            FlinkType::Map { .. } => {
                return Err(PlanError::Unsupported(
                    "MAP as a CAST target (MAP is a column type only)".into(),
                ))
            }
            // A bag: each distinct element with its count, as Flink represents a MULTISET
            // (`Map<T, Integer>`, a JSON object of counts in the json format).
            FlinkType::Multiset(element) if maps => format!(
                "STRUCT<{MAP_KEY} {}, {MAP_VALUE} INT>[]",
                element.render(maps)?
            ),
            FlinkType::Multiset(_) => {
                return Err(PlanError::Unsupported(
                    "MULTISET as a CAST target (MULTISET is a column type only)".into(),
                ))
            }
            // DataSQRL's JSON type holds a JSON document: Sluice keeps its text in a column
            // marked as JSON (`jsonb` to clients, as in DataSQRL's PostgreSQL).
            FlinkType::Raw { class_name } if class_name.ends_with(".FlinkJsonType") => {
                "JSONB".to_string()
            }
            // DataSQRL's vector type wraps a `double[]`.
            FlinkType::Raw { class_name } if class_name.ends_with(".FlinkVectorType") => {
                "DOUBLE PRECISION[]".to_string()
            }
            FlinkType::Raw { class_name } => {
                return Err(PlanError::Unsupported(format!(
                    "the RAW data type of class '{class_name}'"
                )))
            }
        })
    }
}

/// The field names of the entry rows a MAP column type is written as (see
/// [`FlinkType::to_column_sql`]).
const MAP_KEY: &str = "__sluice_map_key";
const MAP_VALUE: &str = "__sluice_map_value";

/// `data_type` with every list of `(__sluice_map_key, __sluice_map_value)` rows, a MAP
/// column type as [`FlinkType::to_column_sql`] writes it, turned into Arrow's `Map` (as
/// DataFusion's `MAP[..]` builds it: entries `key` NOT NULL and `value`), nested ones too.
pub fn restore_maps(data_type: &DataType) -> DataType {
    match data_type {
        DataType::List(element) => match element.data_type() {
            DataType::Struct(entry)
                if entry.len() == 2
                    && entry[0].name() == MAP_KEY
                    && entry[1].name() == MAP_VALUE =>
            {
                // Keys as `MAP[..]` builds them (Utf8): DataFusion's `m[key]` does not
                // coerce the key it looks up to the map's key type.
                let key_type = match restore_maps(entry[0].data_type()) {
                    DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                    other => other,
                };
                let key = Field::new("key", key_type, false);
                let value = Field::new("value", restore_maps(entry[1].data_type()), true);
                let entries = Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![key, value])),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            _ => DataType::List(Arc::new(restore_field(element))),
        },
        DataType::Struct(fields) => {
            DataType::Struct(fields.iter().map(|f| restore_field(f)).collect())
        }
        other => other.clone(),
    }
}

fn restore_field(field: &Field) -> Field {
    field
        .clone()
        .with_data_type(restore_maps(field.data_type()))
}

/// `schema` with MAP column types restored (see [`restore_maps`]).
pub fn restore_map_columns(schema: SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema.fields().iter().map(|f| restore_field(f)).collect();
    if fields
        .iter()
        .zip(schema.fields())
        .all(|(new, old)| new == old.as_ref())
    {
        return schema;
    }
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Parse a whole text as one Flink type (positions in errors are 1-based characters of
/// `text`).
pub fn parse_type(text: &str) -> Result<FlinkType> {
    let lexed = Lexed::new(text)?;
    let mut cursor = lexed.cursor_all();
    let data_type = parse_type_at(&mut cursor)?;
    if !cursor.is_done() {
        return Err(cursor.unexpected("end of the data type"));
    }
    Ok(data_type)
}

/// Parse one type at the cursor; stops at the first token that cannot continue the type.
pub(crate) fn parse_type_at(cursor: &mut Cursor) -> Result<FlinkType> {
    let mut parser = TypeParser {
        cursor,
        pending_close: 0,
    };
    let data_type = parser.data_type()?;
    if parser.pending_close > 0 {
        return Err(syntax(
            "unexpected \">\" after the data type",
            parser.cursor.lexed.position_of(
                parser
                    .cursor
                    .previous_index()
                    .unwrap_or(parser.cursor.index()),
            ),
        ));
    }
    Ok(data_type)
}

struct TypeParser<'c, 'l, 'a> {
    cursor: &'c mut Cursor<'l, 'a>,
    /// `>` already consumed as the second half of a `>>` token.
    pending_close: usize,
}

impl TypeParser<'_, '_, '_> {
    fn data_type(&mut self) -> Result<FlinkType> {
        let mut data_type = self.base_type()?;
        // Postfix collection forms: `T ARRAY`, `T MULTISET`, `T[]`; the element may carry
        // its nullability first (`ROW(..) NOT NULL ARRAY`).
        while self.pending_close == 0 {
            for nullability in [&["NOT", "NULL"][..], &["NULL"][..]] {
                let mut ahead = self.cursor.clone();
                if ahead.eat_keywords(nullability)
                    && (ahead.at_keywords(&["ARRAY"]) || ahead.at_keywords(&["MULTISET"]))
                {
                    *self.cursor = ahead;
                }
            }
            if self.cursor.eat_keywords(&["ARRAY"]) {
                data_type = FlinkType::Array(Box::new(data_type));
            } else if self.cursor.eat_keywords(&["MULTISET"]) {
                data_type = FlinkType::Multiset(Box::new(data_type));
            } else if self.cursor.at_token(&Token::LBracket) {
                self.cursor.next();
                if let Some(Token::Number(_, _)) = self.cursor.peek().map(|l| &l.token) {
                    self.cursor.next();
                }
                self.cursor.expect(&Token::RBracket, "\"]\"")?;
                data_type = FlinkType::Array(Box::new(data_type));
            } else {
                break;
            }
        }
        Ok(data_type)
    }

    fn base_type(&mut self) -> Result<FlinkType> {
        let position = self.cursor.position();
        let Some(name) = self.cursor.peek().and_then(|lexeme| lexeme.bare_word()) else {
            return Err(self.cursor.unexpected("a data type"));
        };
        let name = name.to_ascii_uppercase();
        let first = self.cursor.index();
        self.cursor.next();
        let scalar = |text: &str| Ok(FlinkType::Scalar(text.to_string()));
        match name.as_str() {
            "ROW" | "STRUCT" => self.row(),
            "ARRAY" => {
                self.open_angle()?;
                let element = self.nested_element()?;
                self.close_angle()?;
                Ok(FlinkType::Array(Box::new(element)))
            }
            "MULTISET" => {
                self.open_angle()?;
                let element = self.nested_element()?;
                self.close_angle()?;
                Ok(FlinkType::Multiset(Box::new(element)))
            }
            "MAP" => {
                self.open_angle()?;
                let key = self.nested_element()?;
                self.cursor
                    .expect(&Token::Comma, "\",\" between MAP key and value types")?;
                let value = self.nested_element()?;
                self.close_angle()?;
                Ok(FlinkType::Map {
                    key: Box::new(key),
                    value: Box::new(value),
                })
            }
            "STRING" | "TEXT" => {
                self.character_set()?;
                scalar("VARCHAR")
            }
            "VARCHAR" => {
                self.optional_arguments(1)?;
                self.character_set()?;
                scalar("VARCHAR")
            }
            "CHAR" | "CHARACTER" => {
                self.cursor.eat_keywords(&["VARYING"]);
                self.optional_arguments(1)?;
                self.character_set()?;
                scalar("VARCHAR")
            }
            "BYTES" | "BYTEA" => scalar("BYTEA"),
            "BINARY" | "VARBINARY" => {
                self.optional_arguments(1)?;
                scalar("BYTEA")
            }
            "BOOLEAN" | "BOOL" => scalar("BOOLEAN"),
            "TINYINT" => scalar("TINYINT"),
            "SMALLINT" | "INT2" => scalar("SMALLINT"),
            "INT" | "INTEGER" | "INT4" => scalar("INT"),
            "BIGINT" | "INT8" => scalar("BIGINT"),
            "FLOAT" | "REAL" | "FLOAT4" => {
                self.optional_arguments(1)?;
                scalar("REAL")
            }
            "DOUBLE" => {
                self.cursor.eat_keywords(&["PRECISION"]);
                scalar("DOUBLE PRECISION")
            }
            "FLOAT8" => scalar("DOUBLE PRECISION"),
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let arguments = self.optional_arguments(2)?;
                let precision = arguments.first().copied().unwrap_or(10);
                let scale = arguments.get(1).copied().unwrap_or(0);
                Ok(FlinkType::Scalar(format!("DECIMAL({precision}, {scale})")))
            }
            "DATE" => scalar("DATE"),
            "TIME" => {
                self.optional_arguments(1)?;
                if self.cursor.at_keywords(&["WITH"]) {
                    return Err(PlanError::Unsupported("TIME WITH TIME ZONE".into()));
                }
                self.cursor.eat_keywords(&["WITHOUT", "TIME", "ZONE"]);
                scalar("TIME")
            }
            "TIMESTAMP" => {
                let precision = self.precision()?;
                let with_zone = if self.cursor.eat_keywords(&["WITH", "LOCAL", "TIME", "ZONE"])
                    || self.cursor.eat_keywords(&["WITH", "TIME", "ZONE"])
                {
                    true
                } else {
                    self.cursor.eat_keywords(&["WITHOUT", "TIME", "ZONE"]);
                    false
                };
                Ok(timestamp(precision, with_zone))
            }
            "TIMESTAMP_LTZ" => {
                let precision = self.precision()?;
                Ok(timestamp(precision, true))
            }
            "TIMESTAMPTZ" => Ok(timestamp(6, true)),
            "INTERVAL" => {
                // The qualifier (`DAY TO SECOND(3)`, `YEAR(2) TO MONTH`, ...) only constrains
                // the literal syntax in Flink; Arrow has one interval type for all of them.
                while let Some(word) = self.cursor.peek().and_then(|lexeme| lexeme.bare_word()) {
                    let unit = word.to_ascii_uppercase();
                    if !matches!(
                        unit.as_str(),
                        "YEAR" | "MONTH" | "DAY" | "HOUR" | "MINUTE" | "SECOND" | "TO"
                    ) {
                        break;
                    }
                    self.cursor.next();
                    self.optional_arguments(1)?;
                }
                scalar("INTERVAL")
            }
            "RAW" => {
                self.cursor.expect(&Token::LParen, "\"(\" after RAW")?;
                let class_name = self.cursor.string("the class name of the RAW type")?;
                if self.cursor.eat(&Token::Comma) {
                    self.cursor
                        .string("the serializer snapshot of the RAW type")?;
                }
                self.cursor.expect(&Token::RParen, "\")\" closing RAW(")?;
                Ok(FlinkType::Raw { class_name })
            }
            "NOT" | "NULL" | "PRIMARY" | "METADATA" | "AS" | "COMMENT" | "CONSTRAINT"
            | "WATERMARK" => Err(syntax(
                format!("expected a data type, found \"{name}\""),
                position,
            )),
            _ => {
                // Another type name: copy it (and its arguments) verbatim.
                let mut end = first + 1;
                if self.cursor.at_token(&Token::LParen) {
                    end = self.cursor.skip_item();
                }
                Ok(FlinkType::Scalar(
                    self.cursor.lexed.source(first, end).to_string(),
                ))
            }
        }
    }

    /// `ROW<name T, ..>` or `ROW(name T, ..)`, after the word ROW.
    fn row(&mut self) -> Result<FlinkType> {
        let angle = if self.cursor.at_token(&Token::LParen) {
            self.cursor.next();
            false
        } else {
            self.open_angle()?;
            true
        };
        let mut fields = Vec::new();
        loop {
            let closed = if angle {
                self.at_close_angle()
            } else {
                self.cursor.at_token(&Token::RParen)
            };
            if closed {
                break;
            }
            let name = self.cursor.identifier("a ROW field name")?;
            let data_type = self.nested_element()?;
            let description = match self.cursor.peek().map(|lexeme| &lexeme.token) {
                Some(Token::SingleQuotedString(text)) if self.pending_close == 0 => {
                    let text = text.clone();
                    self.cursor.next();
                    Some(text)
                }
                _ => None,
            };
            fields.push(FlinkField {
                name: name.folded,
                data_type,
                description,
            });
            if self.pending_close > 0 || !self.cursor.eat(&Token::Comma) {
                break;
            }
        }
        if angle {
            self.close_angle()?;
        } else {
            self.cursor.expect(&Token::RParen, "\")\" closing ROW(")?;
        }
        if fields.is_empty() {
            return Err(syntax(
                "a ROW type needs at least one field",
                self.cursor.position(),
            ));
        }
        Ok(FlinkType::Row(fields))
    }

    /// A type nested in a collection or row, with its optional `NOT NULL` / `NULL`.
    fn nested_element(&mut self) -> Result<FlinkType> {
        let data_type = self.data_type()?;
        if self.pending_close == 0 && !self.cursor.eat_keywords(&["NOT", "NULL"]) {
            self.cursor.eat_keywords(&["NULL"]);
        }
        Ok(data_type)
    }

    /// Flink's `CHARACTER SET name` after a character type (always UTF-16 in Flink; Sluice
    /// strings are UTF-8 whatever it says).
    fn character_set(&mut self) -> Result<()> {
        if self.pending_close == 0 && self.cursor.eat_keywords(&["CHARACTER", "SET"]) {
            self.cursor.identifier("a character set name")?;
        }
        Ok(())
    }

    fn open_angle(&mut self) -> Result<()> {
        self.cursor.expect(&Token::Lt, "\"<\"").map(|_| ())
    }

    fn at_close_angle(&self) -> bool {
        self.pending_close > 0
            || self.cursor.at_token(&Token::Gt)
            || self.cursor.at_token(&Token::ShiftRight)
    }

    fn close_angle(&mut self) -> Result<()> {
        if self.pending_close > 0 {
            self.pending_close -= 1;
            return Ok(());
        }
        if self.cursor.eat(&Token::Gt) {
            return Ok(());
        }
        if self.cursor.eat(&Token::ShiftRight) {
            self.pending_close += 1;
            return Ok(());
        }
        Err(self.cursor.unexpected("\">\""))
    }

    /// `(n [, m ...])` with at most `max` integers, if present.
    fn optional_arguments(&mut self, max: usize) -> Result<Vec<u64>> {
        if self.pending_close > 0 || !self.cursor.at_token(&Token::LParen) {
            return Ok(Vec::new());
        }
        self.cursor.next();
        let mut arguments = Vec::new();
        loop {
            let position = self.cursor.position();
            let value = match self.cursor.peek().map(|lexeme| &lexeme.token) {
                Some(Token::Number(text, _)) => text
                    .parse::<u64>()
                    .map_err(|_| syntax(format!("invalid type argument \"{text}\""), position))?,
                _ => return Err(self.cursor.unexpected("an integer type argument")),
            };
            self.cursor.next();
            arguments.push(value);
            if arguments.len() > max {
                return Err(syntax("too many type arguments", position));
            }
            if !self.cursor.eat(&Token::Comma) {
                break;
            }
        }
        self.cursor.expect(&Token::RParen, "\")\"")?;
        Ok(arguments)
    }

    /// The optional `(p)` of a timestamp; Flink's default is 6.
    fn precision(&mut self) -> Result<u64> {
        let position = self.cursor.position();
        let precision = self.optional_arguments(1)?.first().copied().unwrap_or(6);
        if precision > 9 {
            return Err(syntax(
                format!("timestamp precision {precision} must be between 0 and 9"),
                position,
            ));
        }
        Ok(precision)
    }
}

/// A timestamp with the precision rounded up to the next Arrow unit.
fn timestamp(precision: u64, with_zone: bool) -> FlinkType {
    let precision = match precision {
        0 => 0,
        1..=3 => 3,
        4..=6 => 6,
        _ => 9,
    };
    let zone = if with_zone { " WITH TIME ZONE" } else { "" };
    FlinkType::Scalar(format!("TIMESTAMP({precision}){zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str) -> String {
        parse_type(text)
            .and_then(|data_type| data_type.to_sql())
            .unwrap_or_else(|error| format!("error: {error}"))
    }

    #[test]
    fn scalar_types_convert_to_postgres_spelling() {
        assert_eq!(sql("STRING"), "VARCHAR");
        assert_eq!(sql("VARCHAR(20)"), "VARCHAR");
        assert_eq!(sql("CHAR(3)"), "VARCHAR");
        assert_eq!(sql("BYTES"), "BYTEA");
        assert_eq!(sql("VARBINARY(10)"), "BYTEA");
        assert_eq!(sql("DECIMAL(23, 3)"), "DECIMAL(23, 3)");
        assert_eq!(sql("DECIMAL"), "DECIMAL(10, 0)");
        assert_eq!(sql("TINYINT"), "TINYINT");
        assert_eq!(sql("DOUBLE"), "DOUBLE PRECISION");
        assert_eq!(sql("FLOAT"), "REAL");
        assert_eq!(sql("TIMESTAMP(3)"), "TIMESTAMP(3)");
        assert_eq!(sql("TIMESTAMP"), "TIMESTAMP(6)");
        assert_eq!(sql("TIMESTAMP(2) WITHOUT TIME ZONE"), "TIMESTAMP(3)");
        assert_eq!(sql("TIMESTAMP_LTZ(3)"), "TIMESTAMP(3) WITH TIME ZONE");
        assert_eq!(
            sql("TIMESTAMP(9) WITH LOCAL TIME ZONE"),
            "TIMESTAMP(9) WITH TIME ZONE"
        );
        assert_eq!(sql("TIME(3)"), "TIME");
        assert_eq!(sql("INTERVAL DAY(2) TO SECOND(3)"), "INTERVAL");
        assert_eq!(sql("jsonb"), "jsonb");
        assert_eq!(
            sql("VARCHAR(2147483647) CHARACTER SET `UTF-16LE`"),
            "VARCHAR"
        );
        assert_eq!(sql("CHAR(32) CHARACTER SET \"UTF-16LE\""), "VARCHAR");
        assert_eq!(
            sql("RAW('com.datasqrl.flinkrunner.stdlib.json.FlinkJsonType', 'AERjb20=')"),
            "JSONB"
        );
        assert_eq!(
            sql("RAW('com.datasqrl.flinkrunner.stdlib.vector.FlinkVectorType', 'AEhj')"),
            "DOUBLE PRECISION[]"
        );
        assert!(sql("RAW('java.util.UUID', 'x')").starts_with("error: feature not supported"));
    }

    #[test]
    fn nested_types_convert_recursively() {
        assert_eq!(
            sql("ROW<a INT, `dateTime` TIMESTAMP(3), `my f` STRING 'desc'>"),
            "STRUCT<a INT, datetime TIMESTAMP(3), \"my f\" VARCHAR>"
        );
        assert_eq!(
            sql("ROW(a INT NOT NULL, b VARCHAR)"),
            "STRUCT<a INT, b VARCHAR>"
        );
        assert_eq!(sql("ARRAY<ROW<x INT>>"), "STRUCT<x INT>[]");
        assert_eq!(sql("ARRAY<ARRAY<STRING>>"), "VARCHAR[][]");
        assert_eq!(sql("ROW<a ARRAY<ROW<b INT>>>"), "STRUCT<a STRUCT<b INT>[]>");
        assert_eq!(sql("INT ARRAY"), "INT[]");
        assert_eq!(
            sql("ROW(`productid` BIGINT NOT NULL, `discount` DOUBLE) NOT NULL ARRAY"),
            "STRUCT<productid BIGINT, discount DOUBLE PRECISION>[]"
        );
        assert_eq!(
            sql("ARRAY< ROW< `quantity` BIGINT NOT NULL, `unit_price` DOUBLE > NOT NULL >"),
            "STRUCT<quantity BIGINT, unit_price DOUBLE PRECISION>[]"
        );
        assert_eq!(sql("BIGINT[]"), "BIGINT[]");
        assert!(matches!(
            parse_type("MAP<STRING, ARRAY<INT>>"),
            Ok(FlinkType::Map { .. })
        ));
        assert!(sql("MAP<STRING, INT>").starts_with("error: feature not supported: MAP"));
        let column = |text: &str| parse_type(text).and_then(|t| t.to_column_sql()).unwrap();
        assert_eq!(
            column("MAP<STRING, ARRAY<INT>>"),
            "STRUCT<__sluice_map_key VARCHAR, __sluice_map_value INT[]>[]"
        );
        assert_eq!(
            column("ROW<m MAP<INT, MAP<STRING, DOUBLE>>>"),
            "STRUCT<m STRUCT<__sluice_map_key INT, __sluice_map_value \
             STRUCT<__sluice_map_key VARCHAR, __sluice_map_value DOUBLE PRECISION>[]>[]>"
        );
        assert!(sql("MULTISET<INT>").starts_with("error: feature not supported: MULTISET"));
    }

    #[test]
    fn map_entry_lists_become_maps() {
        let entries = |key: DataType, value: DataType| {
            let pair = vec![
                Field::new(MAP_KEY, key, true),
                Field::new(MAP_VALUE, value, true),
            ];
            DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(pair.into()),
                true,
            )))
        };
        let map = |key: DataType, value: DataType| {
            let pair = vec![
                Field::new("key", key, false),
                Field::new("value", value, true),
            ];
            let entries = Field::new("entries", DataType::Struct(pair.into()), false);
            DataType::Map(Arc::new(entries), false)
        };
        // Text keys become Utf8 (as `MAP[..]` builds them); nested maps are restored too.
        let nested = entries(
            DataType::Utf8View,
            entries(DataType::Int32, DataType::Float64),
        );
        assert_eq!(
            restore_maps(&nested),
            map(DataType::Utf8, map(DataType::Int32, DataType::Float64))
        );
        let in_row = DataType::Struct(vec![Field::new("m", nested.clone(), true)].into());
        let DataType::Struct(fields) = restore_maps(&in_row) else {
            panic!("a struct stays a struct");
        };
        assert!(matches!(fields[0].data_type(), DataType::Map(_, _)));
        // Lists of other rows stay lists.
        let plain = DataType::List(Arc::new(Field::new_list_field(
            DataType::Struct(vec![Field::new("a", DataType::Int32, true)].into()),
            true,
        )));
        assert_eq!(restore_maps(&plain), plain);
    }

    #[test]
    fn malformed_types_report_positions() {
        let error = parse_type("ROW<a INT").expect_err("unclosed");
        assert_eq!(error.position(), Some(10), "{error}");
        let error = parse_type("ARRAY<INT>>").expect_err("extra >");
        assert!(error.position().is_some(), "{error}");
        let error = parse_type("TIMESTAMP(12)").expect_err("precision");
        assert_eq!(error.position(), Some(10), "{error}");
        let error = parse_type("DECIMAL(a)").expect_err("argument");
        assert_eq!(error.position(), Some(9), "{error}");
    }
}
