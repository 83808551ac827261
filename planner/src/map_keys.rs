//! `m[key]` on a map column with a key of another type than the map's keys.
//!
//! DataFusion plans `m[key]` as `get_field(m, key)` and compares the map's keys with the
//! literal `key` as it is, without coercion: `m[7]` on a `MAP<INT, ..>` (an `Int64` literal
//! against `Int32` keys) or `m[CAST(.. AS TEXT)]` (a `Utf8View` literal against `Utf8` keys)
//! fail at run time with "Invalid comparison operation". The analyzer rule
//! [`CoerceMapKeys`] (after type coercion) casts such a key to the map's key type, as Flink
//! coerces a subscript: a literal at once, a constant expression by a CAST the optimizer
//! folds; a literal that does not cast is left for DataFusion to report.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// Casts the literal key of `m[key]` to the key type of map `m` (see the module
/// documentation).
#[derive(Debug, Default)]
pub struct CoerceMapKeys;

impl AnalyzerRule for CoerceMapKeys {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let schema = input_schema(&node);
            node.map_expressions(|expr| coerce_map_keys(expr, &schema))
        })
        .data()
    }

    fn name(&self) -> &str {
        "sluice_coerce_map_keys"
    }
}

/// The columns a node's expressions may name: its inputs' (its own for a leaf).
fn input_schema(node: &LogicalPlan) -> DFSchema {
    let inputs = node.inputs();
    let Some(first) = inputs.first() else {
        return node.schema().as_ref().clone();
    };
    let mut schema = first.schema().as_ref().clone();
    for input in &inputs[1..] {
        schema.merge(input.schema());
    }
    schema
}

/// `expr` with the key literal of every `get_field(map, key)` in it cast to the map's key
/// type.
pub(crate) fn coerce_map_keys(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    expr.transform_up(|expr| {
        let Expr::ScalarFunction(call) = &expr else {
            return Ok(Transformed::no(expr));
        };
        if call.func.name() != "get_field" || call.args.len() != 2 {
            return Ok(Transformed::no(expr));
        }
        let Ok(DataType::Map(entries, _)) = call.args[0].get_type(schema) else {
            return Ok(Transformed::no(expr));
        };
        let DataType::Struct(pair) = entries.data_type() else {
            return Ok(Transformed::no(expr));
        };
        let Some(key_type) = pair.first().map(|f| f.data_type().clone()) else {
            return Ok(Transformed::no(expr));
        };
        let key = match &call.args[1] {
            Expr::Literal(value, _) if value.data_type() == key_type => {
                return Ok(Transformed::no(expr))
            }
            Expr::Literal(value, metadata) => match value.cast_to(&key_type) {
                Ok(cast) => Expr::Literal(cast, metadata.clone()),
                Err(_) => return Ok(Transformed::no(expr)),
            },
            // A constant expression (`CAST('a' AS TEXT)`): the optimizer folds the cast.
            other => match other.get_type(schema) {
                Ok(data_type) if data_type != key_type => {
                    Expr::Cast(Cast::new(Box::new(other.clone()), key_type))
                }
                _ => return Ok(Transformed::no(expr)),
            },
        };
        let mut call = call.clone();
        call.args[1] = key;
        Ok(Transformed::yes(Expr::ScalarFunction(call)))
    })
}

/// Registration of the rule with a session's analyzer rules.
pub(crate) fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(CoerceMapKeys)
}
