//! DataSQRL's JSON function library (`com.datasqrl.flinkrunner.stdlib.json`), which the plans
//! DataSQRL compiles call: `to_jsonb`, `jsonb_to_string`, `jsonb_object`, `jsonb_array`,
//! `jsonb_extract`, `jsonb_query`, `jsonb_exists`, `jsonb_concat` and the aggregates
//! `jsonb_array_agg`, `jsonb_object_agg`.
//!
//! A JSON value is its compact text (`{"a":1}`) in a `Utf8` column whose field carries Arrow's
//! canonical JSON extension marker (`ARROW:extension:name = arrow.json`), as DataSQRL's
//! `FlinkJsonType` is a JSON tree and not a string. The marker is what lets
//! `jsonb_array(to_jsonb('{"a":1}'))` embed the object (`[{"a":1}]`) while
//! `jsonb_array('{"a":1}')` embeds a string (`["{\"a\":1}"]`): DataFusion carries field
//! metadata from a function's result through projections and views to the functions that
//! read it. Objects keep their keys in insertion order, as Jackson's do.
//!
//! Semantics follow DataSQRL's implementations: `to_jsonb` of a string parses it (NULL when
//! it is not JSON) and of any other value converts it (rows become objects, arrays arrays);
//! `jsonb_object` takes key/value pairs (an odd count is a planning error, a NULL key an
//! error); SQL NULL arguments of `jsonb_object`/`jsonb_array` become JSON `null`;
//! `jsonb_concat` of two objects is their union (the right one's value wins a shared key),
//! and is NULL when either side is NULL. Paths are JSONPath (RFC 9535, through
//! `serde_json_path`): `jsonb_extract` returns the first value the path selects as text (a
//! string without quotes; with a default, cast to the default's type and the default when
//! nothing or `null` is selected), `jsonb_query` the selected value as JSON text (several
//! values, for a path with wildcards, filters, slices or unions, as an array), and
//! `jsonb_exists` whether the path selects anything. The aggregates collect a group's
//! values (`null` included) into an array, and key/value pairs into an object (a later
//! value wins a repeated key; a NULL key is skipped); retractions recompute the group.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{exec_err, plan_err, DataFusionError, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use super::functions::{strings, utf8};

type DfResult<T> = datafusion::common::Result<T>;

/// The field metadata key of Arrow extension types.
const EXTENSION_KEY: &str = "ARROW:extension:name";
/// Arrow's canonical JSON extension type: UTF-8 text holding one JSON value.
const JSON_EXTENSION: &str = "arrow.json";

/// A nullable `Utf8` field named `name` marked as holding JSON.
pub fn json_field(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true).with_metadata(HashMap::from([(
        EXTENSION_KEY.to_string(),
        JSON_EXTENSION.to_string(),
    )]))
}

/// Whether `field` holds JSON values (see the module documentation).
pub fn is_json(field: &Field) -> bool {
    field.metadata().get(EXTENSION_KEY).map(String::as_str) == Some(JSON_EXTENSION)
}

/// Whether `data_type` is or holds a map. PostgreSQL has no map type: clients see such
/// values as `jsonb` (maps as objects keyed by the keys' text), as DataSQRL stores them.
pub fn contains_map(data_type: &DataType) -> bool {
    match data_type {
        DataType::Map(_, _) => true,
        DataType::Struct(fields) => fields.iter().any(|f| contains_map(f.data_type())),
        DataType::List(element)
        | DataType::LargeList(element)
        | DataType::FixedSizeList(element, _)
        | DataType::ListView(element)
        | DataType::LargeListView(element) => contains_map(element.data_type()),
        _ => false,
    }
}

/// Whether clients see `field` as `jsonb`: JSON text, or a value holding a map.
pub fn shown_as_jsonb(field: &Field) -> bool {
    is_json(field) || contains_map(field.data_type())
}

/// The text stored in a JSON column of a table (`CREATE TABLE t (j JSONB)`): each value of
/// `array` parsed and written compactly, as the JSON functions write JSON (`{"a": 1}` is
/// stored as `{"a":1}`); text that is not JSON is refused with PostgreSQL's 22P02.
pub(crate) fn normalize_json_text(array: &ArrayRef, column: &str) -> crate::Result<ArrayRef> {
    let texts = utf8(array).map_err(|e| crate::PlanError::from_datafusion(e, ""))?;
    let mut normalized = Vec::with_capacity(texts.len());
    for text in texts.iter() {
        normalized.push(match text {
            None => None,
            Some(text) => {
                let value: Value = serde_json::from_str(text).map_err(|error| {
                    crate::PlanError::InvalidTextRepresentation(format!(
                        "invalid input syntax for type json (column \"{column}\"): {error}"
                    ))
                })?;
                Some(value.to_string())
            }
        });
    }
    Ok(Arc::new(StringArray::from(normalized)))
}

/// Each row of `array` as a JSON value: SQL NULL is `None`; a JSON-marked column is parsed;
/// any other column is converted as Arrow's JSON writer converts it (strings, numbers,
/// booleans, rows as objects, lists as arrays, timestamps as strings).
fn json_values(array: &ArrayRef, field: &Field) -> DfResult<Vec<Option<Value>>> {
    if array.data_type() == &DataType::Null {
        return Ok(vec![None; array.len()]);
    }
    if is_json(field) {
        return Ok(utf8(array)?
            .iter()
            .map(|t| t.and_then(|t| serde_json::from_str(t).ok()))
            .collect());
    }
    let column = Field::new("v", array.data_type().clone(), true);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(vec![column])), vec![Arc::clone(array)])?;
    let mut buffer = Vec::new();
    {
        let mut writer = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::LineDelimited>(&mut buffer);
        writer.write(&batch)?;
        writer.finish()?;
    }
    let text = std::str::from_utf8(&buffer)
        .map_err(|e| DataFusionError::Internal(format!("JSON writer output: {e}")))?;
    let mut values = Vec::with_capacity(array.len());
    for (row, line) in text.lines().enumerate() {
        if array.is_null(row) {
            values.push(None);
            continue;
        }
        let mut object: Map<String, Value> = serde_json::from_str(line)
            .map_err(|e| DataFusionError::Internal(format!("JSON writer output: {e}")))?;
        values.push(object.remove("v"));
    }
    if values.len() != array.len() {
        return exec_err!(
            "JSON conversion produced {} rows for {}",
            values.len(),
            array.len()
        );
    }
    Ok(values)
}

/// Argument `index` of a call as JSON values (see [`json_values`]).
fn argument(args: &ScalarFunctionArgs, index: usize) -> DfResult<Vec<Option<Value>>> {
    let (Some(value), Some(field)) = (args.args.get(index), args.arg_fields.get(index)) else {
        return exec_err!("missing argument {}", index + 1);
    };
    json_values(&value.to_array(args.number_rows)?, field)
}

/// Every argument of a call as JSON values.
fn arguments(args: &ScalarFunctionArgs) -> DfResult<Vec<Vec<Option<Value>>>> {
    (0..args.args.len())
        .map(|index| argument(args, index))
        .collect()
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

/// JSON values as a column of their text (NULL stays NULL).
fn json_column(values: &[Option<Value>]) -> StringArray {
    values.iter().map(|v| v.as_ref().map(json_text)).collect()
}

/// A JSON object key from a key argument: a string as it is, any other value as its JSON
/// text.
fn object_key(key: Value) -> String {
    match key {
        Value::String(key) => key,
        other => json_text(&other),
    }
}

/// Compiled JSONPath expressions, by text (a batch usually repeats one path).
#[derive(Default)]
struct Paths {
    last: Option<(String, JsonPath, bool)>,
}

impl Paths {
    /// The compiled `path` and whether it is definite (selects at most one value).
    fn get(&mut self, path: &str) -> DfResult<(&JsonPath, bool)> {
        if self.last.as_ref().is_none_or(|(text, _, _)| text != path) {
            let compiled = JsonPath::parse(path).map_err(|e| {
                DataFusionError::Execution(format!(
                    "invalid JSON path {path:?} at position {}: {}",
                    e.position(),
                    e.message()
                ))
            })?;
            // Wildcards, descendant segments, filters, slices and unions select sets.
            let definite = !path.contains(['*', '?', ':', ',']) && !path.contains("..");
            self.last = Some((path.to_string(), compiled, definite));
        }
        match &self.last {
            Some((_, compiled, definite)) => Ok((compiled, *definite)),
            None => Err(DataFusionError::Internal("JSON path cache".into())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    ToJson,
    ToString,
    Object,
    Array,
    Extract,
    Query,
    Exists,
    Concat,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonFunction {
    kind: Kind,
    signature: Signature,
}

impl JsonFunction {
    fn udf(kind: Kind) -> ScalarUDF {
        let signature = match kind {
            Kind::ToJson | Kind::ToString => Signature::any(1, Volatility::Immutable),
            Kind::Object | Kind::Array => Signature::variadic_any(Volatility::Immutable),
            Kind::Extract => Signature::one_of(
                vec![
                    datafusion::logical_expr::TypeSignature::Any(2),
                    datafusion::logical_expr::TypeSignature::Any(3),
                ],
                Volatility::Immutable,
            ),
            Kind::Query | Kind::Exists | Kind::Concat => Signature::any(2, Volatility::Immutable),
        };
        ScalarUDF::new_from_impl(Self { kind, signature })
    }
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::ToJson => "to_jsonb",
            Kind::ToString => "jsonb_to_string",
            Kind::Object => "jsonb_object",
            Kind::Array => "jsonb_array",
            Kind::Extract => "jsonb_extract",
            Kind::Query => "jsonb_query",
            Kind::Exists => "jsonb_exists",
            Kind::Concat => "jsonb_concat",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            Kind::Exists => DataType::Boolean,
            Kind::Extract => match arg_types.get(2) {
                Some(DataType::Null) | None => DataType::Utf8,
                Some(default) => default.clone(),
            },
            _ => DataType::Utf8,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        if self.kind == Kind::Object && !args.arg_fields.len().is_multiple_of(2) {
            return plan_err!(
                "jsonb_object takes key/value pairs, found {} arguments",
                args.arg_fields.len()
            );
        }
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let data_type = self.return_type(&types)?;
        Ok(Arc::new(match self.kind {
            Kind::ToJson | Kind::Object | Kind::Array | Kind::Concat => json_field(self.name()),
            _ => Field::new(self.name(), data_type, true),
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let result: ArrayRef = match self.kind {
            Kind::ToJson => {
                let field = &args.arg_fields[0];
                let array = args.args[0].to_array(rows)?;
                if matches!(
                    array.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) && !is_json(field)
                {
                    // A string is parsed; text that is not JSON gives NULL.
                    let text = utf8(&array)?;
                    Arc::new(
                        text.iter()
                            .map(|t| {
                                t.and_then(|t| serde_json::from_str::<Value>(t).ok())
                                    .map(|v| json_text(&v))
                            })
                            .collect::<StringArray>(),
                    )
                } else {
                    Arc::new(json_column(&json_values(&array, field)?))
                }
            }
            Kind::ToString => Arc::new(json_column(&argument(&args, 0)?)),
            Kind::Array => {
                let columns = arguments(&args)?;
                Arc::new(
                    (0..rows)
                        .map(|r| {
                            let items = columns
                                .iter()
                                .map(|c| c[r].clone().unwrap_or(Value::Null))
                                .collect();
                            Some(json_text(&Value::Array(items)))
                        })
                        .collect::<StringArray>(),
                )
            }
            Kind::Object => {
                let columns = arguments(&args)?;
                let mut out = Vec::with_capacity(rows);
                for r in 0..rows {
                    let mut object = Map::new();
                    for pair in columns.chunks(2) {
                        let Some(key) = pair[0][r].clone().map(object_key) else {
                            return exec_err!("jsonb_object: a key is NULL");
                        };
                        let value = pair.get(1).and_then(|column| column[r].clone());
                        object.insert(key, value.unwrap_or(Value::Null));
                    }
                    out.push(Some(json_text(&Value::Object(object))));
                }
                Arc::new(StringArray::from(out))
            }
            Kind::Concat => {
                let left = argument(&args, 0)?;
                let right = argument(&args, 1)?;
                Arc::new(
                    left.into_iter()
                        .zip(right)
                        .map(|(l, r)| Some(json_text(&concat(l?, r?))))
                        .collect::<StringArray>(),
                )
            }
            Kind::Extract | Kind::Query | Kind::Exists => {
                let documents = argument(&args, 0)?;
                let paths = strings(&args.args[1], rows)?;
                let mut cache = Paths::default();
                let mut selected = Vec::with_capacity(rows);
                for (r, document) in documents.iter().enumerate() {
                    let (Some(document), false) = (document, paths.is_null(r)) else {
                        selected.push(None);
                        continue;
                    };
                    let (path, definite) = cache.get(paths.value(r))?;
                    let nodes = path.query(document).all();
                    selected.push(Some((
                        nodes.into_iter().cloned().collect::<Vec<_>>(),
                        definite,
                    )));
                }
                match self.kind {
                    Kind::Exists => Arc::new(
                        selected
                            .iter()
                            .map(|s| s.as_ref().map(|(nodes, _)| !nodes.is_empty()))
                            .collect::<BooleanArray>(),
                    ),
                    Kind::Query => Arc::new(
                        selected
                            .into_iter()
                            .map(|s| {
                                let (mut nodes, definite) = s?;
                                match (nodes.len(), definite) {
                                    (0, _) => None,
                                    (1, true) => nodes.pop().map(|v| json_text(&v)),
                                    _ => Some(json_text(&Value::Array(nodes))),
                                }
                            })
                            .collect::<StringArray>(),
                    ),
                    _ => extract(selected, &args, rows)?,
                }
            }
        };
        if result.len() != rows {
            return exec_err!("{} produced {} rows for {rows}", self.name(), result.len());
        }
        Ok(ColumnarValue::Array(result))
    }
}

/// `jsonb_concat`: the union of two objects (the right value wins a shared key), the
/// concatenation of two arrays, and otherwise an array of both (a non-array side as one
/// element), as PostgreSQL's `jsonb || jsonb`.
fn concat(left: Value, right: Value) -> Value {
    match (left, right) {
        (Value::Object(mut left), Value::Object(right)) => {
            left.extend(right);
            Value::Object(left)
        }
        (left, right) => {
            let mut items = match left {
                Value::Array(items) => items,
                other => vec![other],
            };
            match right {
                Value::Array(more) => items.extend(more),
                other => items.push(other),
            }
            Value::Array(items)
        }
    }
}

/// `jsonb_extract`'s results: the first selected value as text, or with a default (third
/// argument) as the default's type, the default when nothing (or `null`) is selected or the
/// value does not convert.
fn extract(
    selected: Vec<Option<(Vec<Value>, bool)>>,
    args: &ScalarFunctionArgs,
    rows: usize,
) -> DfResult<ArrayRef> {
    let first = |s: &Option<(Vec<Value>, bool)>| -> Option<Value> {
        s.as_ref()
            .and_then(|(nodes, _)| nodes.first().cloned())
            .filter(|v| !v.is_null())
    };
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => json_text(other),
    };
    let Some(default) = args.args.get(2) else {
        return Ok(Arc::new(
            selected
                .iter()
                .map(|s| first(s).map(|v| as_text(&v)))
                .collect::<StringArray>(),
        ));
    };
    let defaults = default.to_array(rows)?;
    let target = args.return_field.data_type().clone();
    let mut out = Vec::with_capacity(rows);
    for (r, s) in selected.iter().enumerate() {
        let fallback = ScalarValue::try_from_array(&defaults, r)?;
        // A NULL document is NULL, as DataSQRL's function returns for a null input.
        if s.is_none() {
            out.push(ScalarValue::try_from(&target)?);
            continue;
        }
        let value = match first(s) {
            None => fallback,
            Some(value) => ScalarValue::Utf8(Some(as_text(&value)))
                .cast_to(&target)
                .unwrap_or(fallback),
        };
        out.push(value);
    }
    if out.is_empty() {
        return Ok(arrow::array::new_empty_array(&target));
    }
    ScalarValue::iter_to_array(out)
}

/// The JSON aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AggregateKind {
    Array,
    Object,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonAggregate {
    kind: AggregateKind,
    signature: Signature,
}

impl AggregateUDFImpl for JsonAggregate {
    fn name(&self) -> &str {
        match self.kind {
            AggregateKind::Array => "jsonb_array_agg",
            AggregateKind::Object => "jsonb_object_agg",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field(&self, _arg_fields: &[FieldRef]) -> DfResult<FieldRef> {
        Ok(Arc::new(json_field(self.name())))
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        // The partial result: the array, or the object's entries as [key, value] pairs.
        Ok(vec![Arc::new(Field::new(
            format!("{}[partial]", args.name),
            DataType::Utf8,
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(JsonAccumulator {
            kind: self.kind,
            fields: args.expr_fields.to_vec(),
            items: Vec::new(),
            bytes: 0,
        }))
    }
}

/// Collects values (array) or `[key, value]` pairs (object) in arrival order.
#[derive(Debug)]
struct JsonAccumulator {
    kind: AggregateKind,
    fields: Vec<FieldRef>,
    items: Vec<Value>,
    /// The items' text length, an estimate of their heap size.
    bytes: usize,
}

impl JsonAccumulator {
    fn push(&mut self, item: Value) {
        self.bytes += json_text(&item).len();
        self.items.push(item);
    }
}

impl Accumulator for JsonAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DfResult<()> {
        let columns = values
            .iter()
            .zip(&self.fields)
            .map(|(array, field)| json_values(array, field))
            .collect::<DfResult<Vec<_>>>()?;
        let rows = values.first().map_or(0, |a| a.len());
        for r in 0..rows {
            match self.kind {
                AggregateKind::Array => {
                    let value = columns.first().and_then(|c| c[r].clone());
                    self.push(value.unwrap_or(Value::Null));
                }
                AggregateKind::Object => {
                    // A NULL key is skipped.
                    let Some(key) = columns.first().and_then(|c| c[r].clone()).map(object_key)
                    else {
                        continue;
                    };
                    let value = columns.get(1).and_then(|c| c[r].clone());
                    self.push(Value::Array(vec![
                        Value::String(key),
                        value.unwrap_or(Value::Null),
                    ]));
                }
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DfResult<()> {
        let Some(partials) = states.first() else {
            return Ok(());
        };
        for partial in utf8(partials)?.iter().flatten() {
            match serde_json::from_str(partial) {
                Ok(Value::Array(items)) => items.into_iter().for_each(|item| self.push(item)),
                _ => return exec_err!("{partial:?} is not a JSON aggregate state"),
            }
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(json_text(&Value::Array(
            self.items.clone(),
        ))))])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        let value = match self.kind {
            AggregateKind::Array => Value::Array(self.items.clone()),
            AggregateKind::Object => {
                let mut object = Map::new();
                for pair in &self.items {
                    if let Value::Array(pair) = pair {
                        if let [Value::String(key), value] = pair.as_slice() {
                            object.insert(key.clone(), value.clone());
                        }
                    }
                }
                Value::Object(object)
            }
        };
        Ok(ScalarValue::Utf8(Some(json_text(&value))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.bytes
            + self.items.capacity() * std::mem::size_of::<Value>()
    }
}

/// Register the functions in `context`.
pub fn register(context: &SessionContext) {
    for kind in [
        Kind::ToJson,
        Kind::ToString,
        Kind::Object,
        Kind::Array,
        Kind::Extract,
        Kind::Query,
        Kind::Exists,
        Kind::Concat,
    ] {
        context.register_udf(JsonFunction::udf(kind));
    }
    for (kind, arguments) in [(AggregateKind::Array, 1), (AggregateKind::Object, 2)] {
        context.register_udaf(AggregateUDF::new_from_impl(JsonAggregate {
            kind,
            signature: Signature::any(arguments, Volatility::Immutable),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::concat;
    use serde_json::json;

    #[test]
    fn concat_merges_objects_and_appends_arrays() {
        assert_eq!(
            concat(json!({"a": true, "b": 1}), json!({"a": false})),
            json!({"a": false, "b": 1})
        );
        assert_eq!(concat(json!([1]), json!([2, 3])), json!([1, 2, 3]));
        assert_eq!(concat(json!(1), json!({"a": 1})), json!([1, {"a": 1}]));
    }
}
