//! PostgreSQL's catalog and session-information functions as DataFusion scalar UDFs:
//! `format_type`, `pg_get_expr`, `pg_get_indexdef`, `pg_get_constraintdef`,
//! `pg_get_viewdef`, `pg_table_is_visible`, `pg_get_userbyid`, `obj_description`,
//! `col_description`, `current_schema`, `current_schemas`, `current_database`, `version`,
//! `has_*_privilege`, `pg_encoding_to_char`, `to_regclass`, `to_regtype`, `current_setting`,
//! `set_config`, `json_build_object`, `array_upper`/`array_lower`, ... and the functions the
//! rewrite turns OID-alias casts into (`sluice_regclass`, `sluice_regclass_text`, ...) and the
//! aggregate `sluice_single_value` it wraps non-aggregating scalar subqueries in.
//!
//! Invariants: every function is evaluated row by row on [`ScalarValue`]s (catalog queries
//! are small), reads the catalog through a fresh [`CatalogSnapshot`] taken at most once per
//! batch, and returns NULL where PostgreSQL returns NULL for an unknown object; OID arguments
//! may be any integer or a numeric string (`'16385'`), as PostgreSQL's implicit casts allow.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::Array;
use arrow::array::{ArrayRef, UInt64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::scalar::ScalarStructBuilder;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::pg_catalog::{constraint_definition, index_definition, setting, view_definition};
use super::table::oid;
use super::types::{self, OID_ALIAS_KEY};
use super::{CatalogSnapshot, Derived, SystemCatalog, DATABASE_NAME, ROLE_NAME, ROLE_OID};

/// The body of a catalog function: one row's arguments to its result.
type Body = fn(&mut Context<'_>, &[ScalarValue]) -> DataFusionResult<ScalarValue>;

/// What a function body may read.
struct Context<'a> {
    catalog: &'a SystemCatalog,
    snapshot: Option<CatalogSnapshot>,
    /// The running statement's search path (after `pg_catalog`).
    search_path: Vec<String>,
}

impl Context<'_> {
    fn snapshot(&mut self) -> &CatalogSnapshot {
        self.snapshot.get_or_insert_with(|| self.catalog.snapshot())
    }
}

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Returns {
    Text,
    Boolean,
    Integer,
    /// An OID (`Int32` tagged so clients see type `oid`).
    Oid,
    TextArray,
}

impl Returns {
    fn data_type(self) -> DataType {
        match self {
            Returns::Text => DataType::Utf8,
            Returns::Boolean => DataType::Boolean,
            Returns::Integer | Returns::Oid => DataType::Int32,
            Returns::TextArray => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
            }
        }
    }
}

/// A catalog function.
struct CatalogFunction {
    name: &'static str,
    signature: Signature,
    returns: Returns,
    body: Body,
    catalog: Arc<SystemCatalog>,
}

impl std::fmt::Debug for CatalogFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogFunction")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CatalogFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.catalog, &other.catalog)
    }
}

impl Eq for CatalogFunction {}

impl Hash for CatalogFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for CatalogFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DataFusionResult<DataType> {
        Ok(self.returns.data_type())
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> DataFusionResult<FieldRef> {
        let field = Field::new(self.name, self.returns.data_type(), true);
        Ok(Arc::new(if self.returns == Returns::Oid {
            field.with_metadata([(OID_ALIAS_KEY.to_string(), "oid".to_string())].into())
        } else {
            field
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DataFusionResult<ColumnarValue> {
        let mut context = Context {
            catalog: &self.catalog,
            snapshot: None,
            search_path: super::search_path(&args.config_options),
        };
        let target = self.returns.data_type();
        let all_scalars = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalars { 1 } else { args.number_rows };
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<DataFusionResult<Vec<_>>>()?;
        let mut results = Vec::with_capacity(rows);
        for row in 0..rows {
            let values = arrays
                .iter()
                .map(|array| ScalarValue::try_from_array(array, row))
                .collect::<DataFusionResult<Vec<_>>>()?;
            let result = (self.body)(&mut context, &values)?;
            results.push(conform(result, &target)?);
        }
        if all_scalars {
            match results.pop() {
                Some(value) => Ok(ColumnarValue::Scalar(value)),
                None => Ok(ColumnarValue::Scalar(ScalarValue::try_from(&target)?)),
            }
        } else if results.is_empty() {
            Ok(ColumnarValue::Array(arrow::array::new_empty_array(&target)))
        } else {
            Ok(ColumnarValue::Array(ScalarValue::iter_to_array(results)?))
        }
    }
}

/// `value` as `target` (a typed NULL for NULL).
fn conform(value: ScalarValue, target: &DataType) -> DataFusionResult<ScalarValue> {
    if value.is_null() {
        ScalarValue::try_from(target)
    } else if value.data_type() == *target {
        Ok(value)
    } else {
        value.cast_to(target)
    }
}

/// The catalog functions, bound to one database's catalog.
pub(crate) fn catalog_functions(catalog: &Arc<SystemCatalog>) -> Vec<ScalarUDF> {
    use Returns::*;
    let definitions: &[(&str, &[usize], Returns, Body)] = &[
        ("format_type", &[2], Text, format_type),
        ("pg_get_expr", &[2, 3], Text, pg_get_expr),
        ("pg_get_indexdef", &[1, 3], Text, pg_get_indexdef),
        ("pg_get_constraintdef", &[1, 2], Text, pg_get_constraintdef),
        ("pg_get_viewdef", &[1, 2], Text, pg_get_viewdef),
        ("pg_get_ruledef", &[1, 2], Text, pg_get_ruledef),
        ("pg_table_is_visible", &[1], Boolean, pg_table_is_visible),
        ("pg_type_is_visible", &[1], Boolean, pg_type_is_visible),
        ("pg_function_is_visible", &[1], Boolean, always_true),
        ("pg_collation_is_visible", &[1], Boolean, always_true),
        ("pg_get_userbyid", &[1], Text, pg_get_userbyid),
        ("obj_description", &[1, 2], Text, always_null),
        ("col_description", &[2], Text, always_null),
        ("shobj_description", &[2], Text, always_null),
        ("current_schema", &[0], Text, current_schema),
        ("current_schemas", &[1], TextArray, current_schemas),
        ("current_database", &[0], Text, current_database),
        ("current_user", &[0], Text, current_user),
        ("session_user", &[0], Text, current_user),
        ("version", &[0], Text, version),
        ("has_table_privilege", &[2, 3], Boolean, always_true),
        ("has_schema_privilege", &[2, 3], Boolean, always_true),
        ("has_database_privilege", &[2, 3], Boolean, always_true),
        ("has_column_privilege", &[3, 4], Boolean, always_true),
        ("has_any_column_privilege", &[2, 3], Boolean, always_true),
        ("has_function_privilege", &[2, 3], Boolean, always_true),
        ("pg_encoding_to_char", &[1], Text, pg_encoding_to_char),
        ("to_regclass", &[1], Oid, to_regclass),
        ("to_regtype", &[1], Oid, to_regtype),
        ("to_regnamespace", &[1], Oid, to_regnamespace),
        ("pg_get_serial_sequence", &[2], Text, always_null),
        ("pg_relation_is_publishable", &[1], Boolean, always_false),
        ("pg_get_statisticsobjdef_columns", &[1], Text, always_null),
        ("pg_get_function_arguments", &[1], Text, always_null),
        (
            "pg_get_function_identity_arguments",
            &[1],
            Text,
            always_null,
        ),
        ("pg_get_function_result", &[1], Text, always_null),
        ("current_setting", &[1, 2], Text, current_setting),
        ("set_config", &[3], Text, set_config),
        ("pg_advisory_unlock_all", &[0], Text, always_null),
        (
            "json_build_object",
            &[0, 2, 4, 6, 8, 10, 12, 14, 16],
            Text,
            json_build_object,
        ),
        ("array_upper", &[2], Integer, array_upper),
        ("array_lower", &[2], Integer, array_lower),
        ("sluice_regclass", &[1], Oid, regclass),
        ("sluice_regclass_text", &[1], Text, regclass_text),
        ("sluice_regtype", &[1], Oid, regtype),
        ("sluice_regtype_text", &[1], Text, regtype_text),
        ("sluice_regnamespace", &[1], Oid, regnamespace),
        ("sluice_regnamespace_text", &[1], Text, regnamespace_text),
        ("sluice_regrole", &[1], Oid, regrole),
        ("sluice_regrole_text", &[1], Text, regrole_text),
        ("sluice_oid", &[1], Oid, oid_value),
    ];
    definitions
        .iter()
        .map(|(name, arities, returns, body)| {
            let signatures = arities
                .iter()
                .map(|&n| {
                    if n == 0 {
                        TypeSignature::Nullary
                    } else {
                        TypeSignature::Any(n)
                    }
                })
                .collect();
            ScalarUDF::new_from_impl(CatalogFunction {
                name,
                signature: Signature::one_of(signatures, Volatility::Stable),
                returns: *returns,
                body: *body,
                catalog: catalog.clone(),
            })
        })
        .collect()
}

// ---- argument conversions ----

/// An OID argument: any integer, or a string holding one.
fn as_oid(value: &ScalarValue) -> Option<u32> {
    as_integer(value).and_then(|v| u32::try_from(v).ok())
}

fn as_integer(value: &ScalarValue) -> Option<i64> {
    if value.is_null() {
        return None;
    }
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.trim().parse().ok(),
        other => match other.cast_to(&DataType::Int64) {
            Ok(ScalarValue::Int64(v)) => v,
            _ => None,
        },
    }
}

fn as_text(value: &ScalarValue) -> Option<String> {
    if value.is_null() {
        return None;
    }
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn as_bool(value: &ScalarValue) -> Option<bool> {
    match value {
        ScalarValue::Boolean(v) => *v,
        other => as_text(other).map(|t| matches!(t.as_str(), "t" | "true" | "on" | "1" | "yes")),
    }
}

fn text(value: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(value.into()))
}

fn boolean(value: bool) -> ScalarValue {
    ScalarValue::Boolean(Some(value))
}

/// A relation named by a (possibly qualified, possibly quoted) name, as `regclass` input.
fn parse_qualified_name(name: &str) -> (Option<String>, String) {
    let mut parts = vec![];
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = name.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c if quoted => current.push(c),
            c => current.push(c.to_ascii_lowercase()),
        }
    }
    parts.push(current);
    let name = parts.pop().unwrap_or_default();
    (parts.pop(), name)
}

// ---- bodies ----

fn format_type(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(type_oid) = args.first().and_then(as_oid) else {
        return Ok(ScalarValue::Null);
    };
    let modifier = args
        .get(1)
        .and_then(as_integer)
        .and_then(|m| i32::try_from(m).ok());
    Ok(text(types::format_type(type_oid, modifier)))
}

/// Sluice stores expressions as SQL text, so the "node tree" is its own deparsed form.
fn pg_get_expr(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(args
        .first()
        .and_then(as_text)
        .map(text)
        .unwrap_or(ScalarValue::Null))
}

fn pg_get_indexdef(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    let column = args.get(1).and_then(as_integer).unwrap_or(0);
    let Some(oid) = args.first().and_then(as_oid) else {
        return Ok(ScalarValue::Null);
    };
    let snapshot = context.snapshot();
    let Some(index) = snapshot.relation(oid) else {
        return Ok(ScalarValue::Null);
    };
    let Some(table) = index.index_of.and_then(|t| snapshot.relation(t)) else {
        return Ok(ScalarValue::Null);
    };
    if column > 0 {
        return Ok(usize::try_from(column - 1)
            .ok()
            .and_then(|i| index.columns.get(i))
            .map(|c| text(super::quote_identifier(&c.name)))
            .unwrap_or(ScalarValue::Null));
    }
    Ok(text(index_definition(table, index)))
}

fn pg_get_constraintdef(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    let Some(oid) = args.first().and_then(as_oid) else {
        return Ok(ScalarValue::Null);
    };
    let snapshot = context.snapshot();
    let definition = snapshot
        .relations
        .iter()
        .filter_map(|index| {
            let table = snapshot.relation(index.index_of?)?;
            (table.derived_oid(Derived::PrimaryKeyConstraint) == oid)
                .then(|| constraint_definition(index))
        })
        .next();
    Ok(definition.map(text).unwrap_or(ScalarValue::Null))
}

/// `pg_get_viewdef(oid | name [, pretty])`.
fn pg_get_viewdef(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    let Some(argument) = args.first() else {
        return Ok(ScalarValue::Null);
    };
    let path = context.search_path.clone();
    let snapshot = context.snapshot();
    let relation = match as_oid(argument) {
        Some(oid) => snapshot.relation(oid),
        None => as_text(argument).and_then(|name| {
            let (schema, name) = parse_qualified_name(&name);
            snapshot.resolve(&path, schema.as_deref(), &name)
        }),
    };
    Ok(relation.map(view_definition).unwrap_or(ScalarValue::Null))
}

fn pg_get_ruledef(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    let Some(oid) = args.first().and_then(as_oid) else {
        return Ok(ScalarValue::Null);
    };
    let snapshot = context.snapshot();
    let rule = snapshot
        .relations
        .iter()
        .find(|r| r.number.is_some() && r.derived_oid(Derived::ViewRule) == oid);
    Ok(match rule {
        Some(relation) => text(format!(
            "CREATE RULE \"_RETURN\" AS\n    ON SELECT TO {}.{} DO INSTEAD {};",
            super::quote_identifier(relation.namespace_name()),
            super::quote_identifier(&relation.name),
            relation
                .definition
                .as_deref()
                .unwrap_or("")
                .trim_end_matches(';')
        )),
        None => ScalarValue::Null,
    })
}

fn pg_table_is_visible(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    let Some(value) = args.first() else {
        return Ok(ScalarValue::Null);
    };
    let Some(oid) = as_oid(value) else {
        return Ok(ScalarValue::Null);
    };
    let path = context.search_path.clone();
    let snapshot = context.snapshot();
    Ok(match snapshot.relation(oid) {
        Some(relation) => boolean(snapshot.is_visible(&path, relation)),
        None => ScalarValue::Null,
    })
}

fn pg_type_is_visible(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(
        match args.first().and_then(as_oid).and_then(types::by_oid) {
            Some(_) => boolean(true),
            None => ScalarValue::Null,
        },
    )
}

fn always_true(_: &mut Context<'_>, _: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(boolean(true))
}

fn always_false(_: &mut Context<'_>, _: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(boolean(false))
}

fn always_null(_: &mut Context<'_>, _: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(ScalarValue::Null)
}

fn pg_get_userbyid(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(match args.first().and_then(as_oid) {
        Some(ROLE_OID) => text(ROLE_NAME),
        Some(other) => text(format!("unknown (OID={other})")),
        None => ScalarValue::Null,
    })
}

fn current_schema(context: &mut Context<'_>, _: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(context
        .search_path
        .first()
        .map(|schema| text(schema.as_str()))
        .unwrap_or_else(|| text("public")))
}

fn current_schemas(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    let implicit = args.first().and_then(as_bool).unwrap_or(false);
    let mut schemas: Vec<&str> = Vec::new();
    if implicit {
        schemas.push("pg_catalog");
    }
    schemas.extend(context.search_path.iter().map(String::as_str));
    Ok(super::table::text_array(&schemas))
}

fn current_database(_: &mut Context<'_>, _: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(text(DATABASE_NAME))
}

fn current_user(_: &mut Context<'_>, _: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(text(ROLE_NAME))
}

/// The version string: clients parse `PostgreSQL X.Y` from it.
pub(crate) fn version_string() -> String {
    format!(
        "PostgreSQL 15.0 (Sluice {}) on {}-{}, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn version(_: &mut Context<'_>, _: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(text(version_string()))
}

fn pg_encoding_to_char(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(match args.first().and_then(as_integer) {
        Some(0) => text("SQL_ASCII"),
        Some(6) => text("UTF8"),
        Some(8) => text("LATIN1"),
        Some(_) => text(""),
        None => ScalarValue::Null,
    })
}

fn to_regclass(context: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(name) = args.first().and_then(as_text) else {
        return Ok(ScalarValue::Null);
    };
    let (schema, name) = parse_qualified_name(&name);
    let path = context.search_path.clone();
    Ok(context
        .snapshot()
        .resolve(&path, schema.as_deref(), &name)
        .map(|r| oid(r.oid))
        .unwrap_or(ScalarValue::Null))
}

/// A type name as `regtype` input accepts it: `int4`, `integer`, `character varying`,
/// `text[]`, `_text`, `pg_catalog.int8`.
fn type_oid_by_name(name: &str) -> Option<u32> {
    let (_, name) = parse_qualified_name(name);
    let name = name.trim();
    if let Some(element) = name.strip_suffix("[]") {
        let element = type_oid_by_name(element)?;
        return types::by_oid(element).map(|t| t.array).filter(|a| *a != 0);
    }
    let alias = match name {
        "integer" | "int" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" | "float" => "float8",
        "boolean" => "bool",
        "character varying" => "varchar",
        "character" => "bpchar",
        "decimal" => "numeric",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" => "time",
        "time with time zone" => "timetz",
        "\"char\"" => "char",
        other => other,
    };
    types::by_name(alias).map(|t| t.oid)
}

fn to_regtype(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(args
        .first()
        .and_then(as_text)
        .and_then(|name| type_oid_by_name(&name))
        .map(oid)
        .unwrap_or(ScalarValue::Null))
}

fn to_regnamespace(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    let Some(name) = args.first().and_then(as_text) else {
        return Ok(ScalarValue::Null);
    };
    let (_, name) = parse_qualified_name(&name);
    Ok(context
        .snapshot()
        .namespace_oid(&name)
        .map(oid)
        .unwrap_or(ScalarValue::Null))
}

fn current_setting(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(name) = args.first().and_then(as_text) else {
        return Ok(ScalarValue::Null);
    };
    let missing_ok = args.get(1).and_then(as_bool).unwrap_or(false);
    match setting(&name) {
        Some(value) => Ok(text(value)),
        None if missing_ok => Ok(ScalarValue::Null),
        None => Err(DataFusionError::Execution(format!(
            "unrecognized configuration parameter \"{name}\""
        ))),
    }
}

/// Returns the new value; session settings are not changed (see `SET`).
fn set_config(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    Ok(args
        .get(1)
        .and_then(as_text)
        .map(text)
        .unwrap_or(ScalarValue::Null))
}

/// `json_build_object(key, value, ...)` as JSON text.
fn json_build_object(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let mut members = vec![];
    for pair in args.chunks(2) {
        let [key, value] = pair else {
            return Err(DataFusionError::Execution(
                "argument list must have even number of elements".into(),
            ));
        };
        let Some(key) = as_text(key) else {
            return Err(DataFusionError::Execution(
                "null value not allowed for object key".into(),
            ));
        };
        members.push(format!("\"{}\" : {}", json_escape(&key), json_value(value)));
    }
    Ok(text(format!("{{{}}}", members.join(", "))))
}

fn json_value(value: &ScalarValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    match value {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt8(_)
        | ScalarValue::UInt16(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Float32(_)
        | ScalarValue::Float64(_)
        | ScalarValue::Decimal128(..) => value.to_string(),
        other => format!("\"{}\"", json_escape(&as_text(other).unwrap_or_default())),
    }
}

fn json_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if (c as u32) < 0x20 => escaped.push_str(&format!("\\u{:04x}", c as u32)),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The length of a one-dimensional array (Sluice arrays start at 1); NULL when empty.
fn array_upper(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let length = array_length(args.first());
    let dimension = args.get(1).and_then(as_integer);
    Ok(match (length, dimension) {
        (Some(length), Some(1)) if length > 0 => ScalarValue::Int32(Some(length)),
        _ => ScalarValue::Null,
    })
}

fn array_lower(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let length = array_length(args.first());
    let dimension = args.get(1).and_then(as_integer);
    Ok(match (length, dimension) {
        (Some(length), Some(1)) if length > 0 => ScalarValue::Int32(Some(1)),
        _ => ScalarValue::Null,
    })
}

fn array_length(value: Option<&ScalarValue>) -> Option<i32> {
    use arrow::array::Array;
    let length = match value? {
        ScalarValue::List(list) if !list.is_null(0) => list.value_length(0),
        ScalarValue::LargeList(list) if !list.is_null(0) => {
            i32::try_from(list.value_length(0)).ok()?
        }
        ScalarValue::FixedSizeList(list) if !list.is_null(0) => list.value_length(),
        _ => return None,
    };
    Some(length)
}

/// `x::regclass`: a number is the OID itself, a string is a relation name that must exist.
fn regclass(context: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(value) = args.first() else {
        return Ok(ScalarValue::Null);
    };
    if value.is_null() {
        return Ok(ScalarValue::Null);
    }
    if let Some(number) = as_oid(value) {
        return Ok(oid(number));
    }
    let name = as_text(value).unwrap_or_default();
    let (schema, relation) = parse_qualified_name(&name);
    let path = context.search_path.clone();
    match context
        .snapshot()
        .resolve(&path, schema.as_deref(), &relation)
    {
        Some(found) => Ok(oid(found.oid)),
        None => Err(DataFusionError::Plan(format!("table '{name}' not found"))),
    }
}

/// `x::regclass::text`: the relation's name (qualified unless visible), or the number.
fn regclass_text(context: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let number = match args.first().and_then(as_oid) {
        Some(number) => number,
        None => match regclass(context, args)? {
            ScalarValue::Int32(Some(number)) => number as u32,
            _ => return Ok(ScalarValue::Null),
        },
    };
    if number == 0 {
        return Ok(text("-"));
    }
    let path = context.search_path.clone();
    Ok(text(
        context
            .snapshot()
            .regclass_name(&path, number)
            .unwrap_or_else(|| number.to_string()),
    ))
}

fn regtype(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(value) = args.first().filter(|v| !v.is_null()) else {
        return Ok(ScalarValue::Null);
    };
    if let Some(number) = as_oid(value) {
        return Ok(oid(number));
    }
    let name = as_text(value).unwrap_or_default();
    match type_oid_by_name(&name) {
        Some(found) => Ok(oid(found)),
        None => Err(DataFusionError::Execution(format!(
            "type \"{name}\" does not exist"
        ))),
    }
}

fn regtype_text(context: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    match regtype(context, args)? {
        ScalarValue::Int32(Some(number)) => {
            let number = number as u32;
            Ok(text(if number == 0 {
                "-".to_string()
            } else if types::by_oid(number).is_some() {
                types::format_type(number, None)
            } else {
                number.to_string()
            }))
        }
        _ => Ok(ScalarValue::Null),
    }
}

fn regnamespace(context: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(value) = args.first().filter(|v| !v.is_null()) else {
        return Ok(ScalarValue::Null);
    };
    if let Some(number) = as_oid(value) {
        return Ok(oid(number));
    }
    match to_regnamespace(context, args)? {
        ScalarValue::Null => Err(DataFusionError::Execution(format!(
            "schema \"{}\" does not exist",
            as_text(value).unwrap_or_default()
        ))),
        found => Ok(found),
    }
}

fn regnamespace_text(
    context: &mut Context<'_>,
    args: &[ScalarValue],
) -> DataFusionResult<ScalarValue> {
    match regnamespace(context, args)? {
        ScalarValue::Int32(Some(number)) => {
            let number = number as u32;
            Ok(text(
                context
                    .snapshot()
                    .namespace_name(number)
                    .map(str::to_string)
                    .unwrap_or_else(|| number.to_string()),
            ))
        }
        _ => Ok(ScalarValue::Null),
    }
}

fn regrole(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(value) = args.first().filter(|v| !v.is_null()) else {
        return Ok(ScalarValue::Null);
    };
    if let Some(number) = as_oid(value) {
        return Ok(oid(number));
    }
    let name = as_text(value).unwrap_or_default();
    if parse_qualified_name(&name).1 == ROLE_NAME {
        Ok(oid(ROLE_OID))
    } else {
        Err(DataFusionError::Execution(format!(
            "role \"{name}\" does not exist"
        )))
    }
}

fn regrole_text(context: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    match regrole(context, args)? {
        ScalarValue::Int32(Some(number)) if number as u32 == ROLE_OID => Ok(text(ROLE_NAME)),
        ScalarValue::Int32(Some(number)) => Ok(text(number.to_string())),
        _ => Ok(ScalarValue::Null),
    }
}

/// `x::oid`.
fn oid_value(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(value) = args.first().filter(|v| !v.is_null()) else {
        return Ok(ScalarValue::Null);
    };
    match as_oid(value) {
        Some(number) => Ok(oid(number)),
        None => Err(DataFusionError::Execution(format!(
            "invalid input syntax for type oid: \"{}\"",
            as_text(value).unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_are_split_and_case_folded() {
        assert_eq!(parse_qualified_name("T"), (None, "t".to_string()));
        assert_eq!(
            parse_qualified_name("pg_catalog.pg_class"),
            (Some("pg_catalog".to_string()), "pg_class".to_string())
        );
        assert_eq!(
            parse_qualified_name("\"My.Table\""),
            (None, "My.Table".to_string())
        );
    }

    #[test]
    fn type_names_resolve_like_regtype() {
        assert_eq!(type_oid_by_name("integer"), Some(23));
        assert_eq!(type_oid_by_name("pg_catalog.int8"), Some(20));
        assert_eq!(type_oid_by_name("text[]"), Some(1009));
        assert_eq!(type_oid_by_name("character varying"), Some(1043));
        assert_eq!(type_oid_by_name("hstore"), None);
    }

    #[test]
    fn json_objects_quote_strings_and_keep_numbers() {
        let mut context = Context {
            catalog: &SystemCatalog::new(std::sync::Weak::new()),
            snapshot: None,
            search_path: vec!["public".to_string()],
        };
        let result = json_build_object(
            &mut context,
            &[
                text("a"),
                ScalarValue::Int64(Some(1)),
                text("b\""),
                text("x"),
                text("c"),
                ScalarValue::Null,
            ],
        );
        assert_eq!(
            result.ok(),
            Some(text("{\"a\" : 1, \"b\\\"\" : \"x\", \"c\" : null}"))
        );
    }
}

/// `sluice_single_value(x)`: the aggregate the rewrite wraps around the select item of a
/// scalar subquery that does not aggregate (DataFusion plans correlated scalar subqueries
/// only when they aggregate). It returns `{value, rows}`: the value of the group's only row
/// and how many rows the group had (NULL for none). [`single_value_check`] then fails like
/// PostgreSQL when an outer row actually uses a group of several rows: a decorrelated plan
/// aggregates every group of the inner relation, including groups no outer row reads.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleValue {
    signature: Signature,
}

/// The name of [`SingleValue`].
pub(crate) const SINGLE_VALUE: &str = "sluice_single_value";
/// The name of the function that takes the value out of a [`SingleValue`] result.
pub(crate) const SINGLE_VALUE_CHECK: &str = "sluice_single_value_check";

const MORE_THAN_ONE_ROW: &str = "more than one row returned by a subquery used as an expression";

/// The fields of a [`SingleValue`] result for values of `value`.
fn single_value_fields(value: &Field) -> Fields {
    Fields::from(vec![
        value.clone().with_name("value").with_nullable(true),
        Field::new("rows", DataType::UInt64, false),
    ])
}

impl AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        SINGLE_VALUE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DataFusionResult<DataType> {
        let value = Field::new(
            "value",
            arg_types.first().cloned().unwrap_or(DataType::Null),
            true,
        );
        Ok(DataType::Struct(single_value_fields(&value)))
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> DataFusionResult<FieldRef> {
        let value = match arg_fields.first() {
            Some(field) => field.as_ref().clone(),
            None => Field::new("value", DataType::Null, true),
        };
        Ok(Arc::new(Field::new(
            SINGLE_VALUE,
            DataType::Struct(single_value_fields(&value)),
            true,
        )))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DataFusionResult<Vec<FieldRef>> {
        let value_type = match args.input_fields.first() {
            Some(field) => field.data_type().clone(),
            None => DataType::Null,
        };
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                value_type,
                true,
            )),
            Arc::new(Field::new(
                format!("{}[rows]", args.name),
                DataType::UInt64,
                false,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DataFusionResult<Box<dyn Accumulator>> {
        let DataType::Struct(fields) = args.return_field.data_type() else {
            return Err(DataFusionError::Internal(format!(
                "{SINGLE_VALUE} returns a struct"
            )));
        };
        let value_type = match fields.first() {
            Some(field) => field.data_type().clone(),
            None => DataType::Null,
        };
        Ok(Box::new(SingleValueAccumulator {
            value: ScalarValue::try_from(&value_type)?,
            rows: 0,
            fields: fields.clone(),
        }))
    }
}

#[derive(Debug)]
struct SingleValueAccumulator {
    value: ScalarValue,
    rows: u64,
    fields: Fields,
}

impl SingleValueAccumulator {
    fn add(
        &mut self,
        rows: u64,
        value: impl FnOnce() -> DataFusionResult<ScalarValue>,
    ) -> DataFusionResult<()> {
        if rows == 0 {
            return Ok(());
        }
        if self.rows == 0 {
            self.value = value()?;
        }
        self.rows = self.rows.saturating_add(rows);
        Ok(())
    }
}

impl Accumulator for SingleValueAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DataFusionResult<()> {
        let Some(values) = values.first() else {
            return Ok(());
        };
        self.add(values.len() as u64, || {
            ScalarValue::try_from_array(values, 0)
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DataFusionResult<()> {
        let [values, rows] = states else {
            return Err(DataFusionError::Internal(format!(
                "{SINGLE_VALUE}: expected 2 state columns, got {}",
                states.len()
            )));
        };
        let rows = rows
            .as_any()
            .downcast_ref::<UInt64Array>()
            .ok_or_else(|| DataFusionError::Internal(format!("{SINGLE_VALUE}: row counts")))?;
        for index in 0..rows.len() {
            self.add(rows.value(index), || {
                ScalarValue::try_from_array(values, index)
            })?;
        }
        Ok(())
    }

    fn state(&mut self) -> DataFusionResult<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::UInt64(Some(self.rows)),
        ])
    }

    fn evaluate(&mut self) -> DataFusionResult<ScalarValue> {
        if self.rows == 0 {
            return Ok(ScalarStructBuilder::new_null(self.fields.clone()));
        }
        let mut builder = ScalarStructBuilder::new();
        for (field, value) in self
            .fields
            .iter()
            .zip([self.value.clone(), ScalarValue::UInt64(Some(self.rows))])
        {
            builder = builder.with_scalar(field.clone(), value);
        }
        builder.build()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size()
    }
}

/// `sluice_single_value_check(result)`: the value of a [`SingleValue`] result; NULL for no
/// row; an error for more than one.
fn single_value_check(_: &mut Context<'_>, args: &[ScalarValue]) -> DataFusionResult<ScalarValue> {
    let Some(ScalarValue::Struct(result)) = args.first() else {
        return Ok(args.first().cloned().unwrap_or(ScalarValue::Null));
    };
    if result.is_null(0) {
        return Ok(ScalarValue::Null);
    }
    let rows = result
        .column(1)
        .as_any()
        .downcast_ref::<UInt64Array>()
        .map(|rows| rows.value(0))
        .unwrap_or(0);
    if rows > 1 {
        return Err(DataFusionError::Execution(MORE_THAN_ONE_ROW.into()));
    }
    ScalarValue::try_from_array(result.column(0), 0)
}

/// [`single_value_check`] as a UDF: its result type is the value's.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SingleValueCheck {
    signature: Signature,
}

impl ScalarUDFImpl for SingleValueCheck {
    fn name(&self) -> &str {
        SINGLE_VALUE_CHECK
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DataFusionResult<DataType> {
        Ok(match arg_types.first() {
            Some(DataType::Struct(fields)) => fields
                .first()
                .map(|f| f.data_type().clone())
                .unwrap_or(DataType::Null),
            Some(other) => other.clone(),
            None => DataType::Null,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DataFusionResult<FieldRef> {
        Ok(match args.arg_fields.first().map(|f| f.data_type()) {
            Some(DataType::Struct(fields)) => match fields.first() {
                Some(value) => Arc::new(value.as_ref().clone().with_name(SINGLE_VALUE_CHECK)),
                None => Arc::new(Field::new(SINGLE_VALUE_CHECK, DataType::Null, true)),
            },
            Some(other) => Arc::new(Field::new(SINGLE_VALUE_CHECK, other.clone(), true)),
            None => Arc::new(Field::new(SINGLE_VALUE_CHECK, DataType::Null, true)),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DataFusionResult<ColumnarValue> {
        let target = args.return_field.data_type().clone();
        let mut context = Context {
            catalog: &SystemCatalog::new(std::sync::Weak::new()),
            snapshot: None,
            search_path: super::search_path(&args.config_options),
        };
        let Some(argument) = args.args.first() else {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(&target)?));
        };
        match argument {
            ColumnarValue::Scalar(value) => Ok(ColumnarValue::Scalar(conform(
                single_value_check(&mut context, std::slice::from_ref(value))?,
                &target,
            )?)),
            ColumnarValue::Array(array) => {
                let values = (0..array.len())
                    .map(|row| {
                        let value = ScalarValue::try_from_array(array, row)?;
                        conform(single_value_check(&mut context, &[value])?, &target)
                    })
                    .collect::<DataFusionResult<Vec<_>>>()?;
                if values.is_empty() {
                    Ok(ColumnarValue::Array(arrow::array::new_empty_array(&target)))
                } else {
                    Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
                }
            }
        }
    }
}

/// The aggregate functions of the catalog (see [`SingleValue`]).
pub(crate) fn catalog_aggregates() -> Vec<AggregateUDF> {
    vec![AggregateUDF::new_from_impl(SingleValue {
        signature: Signature::any(1, Volatility::Immutable),
    })]
}

/// The functions the rewrite needs beyond the catalog's (see [`SingleValueCheck`]).
pub(crate) fn rewrite_functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(SingleValueCheck {
        signature: Signature::any(1, Volatility::Immutable),
    })]
}
