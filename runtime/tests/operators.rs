//! Unit tests of individual operators: exact outputs for small change sequences, including
//! retractions. (The planner's property test checks them all against batch recomputation.)

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::min_max::min_udaf;
use datafusion::logical_expr::Operator as BinaryOperator;
use datafusion::physical_expr::aggregate::AggregateExprBuilder;
use datafusion::physical_expr::expressions::{binary, col, lit};
use sluice_runtime::operators::{AggregateCall, Filter, GroupAggregate, HashJoin, JoinKind};
use sluice_runtime::{ChangeBatch, Operator};
use sluice_storage::RowCodec;

fn schema(fields: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|(name, t)| Field::new(*name, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

fn changes(
    schema: &SchemaRef,
    ids: &[Option<i64>],
    names: &[Option<&str>],
    weights: &[i64],
) -> ChangeBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.to_vec())),
        Arc::new(StringArray::from(names.to_vec())),
    ];
    ChangeBatch::new(
        RecordBatch::try_new(schema.clone(), columns).unwrap(),
        Int64Array::from(weights.to_vec()),
    )
    .unwrap()
}

/// Consolidated output as sorted "cells -> weight" lines.
fn lines(batch: &ChangeBatch) -> Vec<String> {
    let codec = RowCodec::for_schema(&batch.schema()).unwrap();
    let batch = batch.consolidate(&codec).unwrap();
    let options = FormatOptions::default().with_null("NULL");
    let formatters: Vec<ArrayFormatter> = batch
        .data
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
        .collect();
    let mut out: Vec<String> = (0..batch.num_rows())
        .map(|row| {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            format!("{} -> {}", cells.join(","), batch.weights.value(row))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn filter_passes_retractions_like_insertions() {
    let input = schema(&[("id", DataType::Int64), ("name", DataType::Utf8)]);
    let predicate = binary(
        col("id", &input).unwrap(),
        BinaryOperator::Gt,
        lit(1i64),
        &input,
    )
    .unwrap();
    let mut filter = Filter::new(predicate, input.clone());
    let out = filter
        .process(
            0,
            changes(
                &input,
                &[Some(1), Some(2), None],
                &[Some("a"), Some("b"), Some("c")],
                &[1, -1, 1],
            ),
        )
        .unwrap();
    assert_eq!(lines(&out), vec!["2,b -> -1"]);
}

#[test]
fn left_join_moves_rows_between_padded_and_matched() {
    let left = schema(&[("id", DataType::Int64), ("name", DataType::Utf8)]);
    let right = schema(&[("rid", DataType::Int64), ("city", DataType::Utf8)]);
    let output = schema(&[
        ("id", DataType::Int64),
        ("name", DataType::Utf8),
        ("rid", DataType::Int64),
        ("city", DataType::Utf8),
    ]);
    let mut join = HashJoin::new(
        JoinKind::Left,
        left.clone(),
        right.clone(),
        vec![col("id", &left).unwrap()],
        vec![col("rid", &right).unwrap()],
        None,
        false,
        output,
    )
    .unwrap();
    // A left row without a match is padded with NULLs; a NULL key never matches.
    let out = join
        .process(
            0,
            changes(
                &left,
                &[Some(1), None],
                &[Some("ann"), Some("nul")],
                &[1, 1],
            ),
        )
        .unwrap();
    assert_eq!(
        lines(&out),
        vec!["1,ann,NULL,NULL -> 1", "NULL,nul,NULL,NULL -> 1"]
    );
    // Its first match retracts the padded row.
    let out = join
        .process(1, changes(&right, &[Some(1)], &[Some("paris")], &[1]))
        .unwrap();
    assert_eq!(
        lines(&out),
        vec!["1,ann,1,paris -> 1", "1,ann,NULL,NULL -> -1"]
    );
    // A second match adds a pair only.
    let out = join
        .process(1, changes(&right, &[Some(1)], &[Some("rome")], &[1]))
        .unwrap();
    assert_eq!(lines(&out), vec!["1,ann,1,rome -> 1"]);
    // Deleting both matches in one batch restores the padded row.
    let out = join
        .process(
            1,
            changes(
                &right,
                &[Some(1), Some(1)],
                &[Some("paris"), Some("rome")],
                &[-1, -1],
            ),
        )
        .unwrap();
    assert_eq!(
        lines(&out),
        vec![
            "1,ann,1,paris -> -1",
            "1,ann,1,rome -> -1",
            "1,ann,NULL,NULL -> 1"
        ]
    );
    // An update of the left row (delete + insert in one batch).
    let out = join
        .process(
            0,
            changes(
                &left,
                &[Some(1), Some(1)],
                &[Some("ann"), Some("anna")],
                &[-1, 1],
            ),
        )
        .unwrap();
    assert_eq!(
        lines(&out),
        vec!["1,ann,NULL,NULL -> -1", "1,anna,NULL,NULL -> 1"]
    );
}

#[test]
fn anti_join_emits_rows_losing_and_regaining_matches() {
    let left = schema(&[("id", DataType::Int64), ("name", DataType::Utf8)]);
    let right = schema(&[("rid", DataType::Int64), ("city", DataType::Utf8)]);
    let mut join = HashJoin::new(
        JoinKind::LeftAnti,
        left.clone(),
        right.clone(),
        vec![col("id", &left).unwrap()],
        vec![col("rid", &right).unwrap()],
        None,
        false,
        left.clone(),
    )
    .unwrap();
    let out = join
        .process(
            0,
            changes(&left, &[Some(1), Some(2)], &[Some("a"), Some("b")], &[1, 1]),
        )
        .unwrap();
    assert_eq!(lines(&out), vec!["1,a -> 1", "2,b -> 1"]);
    let out = join
        .process(1, changes(&right, &[Some(2)], &[Some("x")], &[1]))
        .unwrap();
    assert_eq!(lines(&out), vec!["2,b -> -1"]);
    let out = join
        .process(1, changes(&right, &[Some(2)], &[Some("x")], &[-1]))
        .unwrap();
    assert_eq!(lines(&out), vec!["2,b -> 1"]);
}

#[test]
fn min_retracts_to_the_next_value_and_groups_disappear() {
    let input = schema(&[("id", DataType::Int64), ("name", DataType::Utf8)]);
    let output = schema(&[
        ("name", DataType::Utf8),
        ("lo", DataType::Int64),
        ("n", DataType::Int64),
    ]);
    let id = col("id", &input).unwrap();
    let min = AggregateExprBuilder::new(min_udaf(), vec![id.clone()])
        .schema(input.clone())
        .alias("lo")
        .build()
        .unwrap();
    let count = AggregateExprBuilder::new(count_udaf(), vec![id])
        .schema(input.clone())
        .alias("n")
        .build()
        .unwrap();
    let mut aggregate = GroupAggregate::new(
        &input,
        vec![col("name", &input).unwrap()],
        vec![
            AggregateCall {
                function: Arc::new(min),
                filter: None,
            },
            AggregateCall {
                function: Arc::new(count),
                filter: None,
            },
        ],
        output,
    )
    .unwrap();
    assert!(
        aggregate.initial().unwrap().is_none(),
        "grouped aggregates start empty"
    );
    let out = aggregate
        .process(
            0,
            changes(
                &input,
                &[Some(5), Some(3), Some(9)],
                &[Some("a"), Some("a"), Some("b")],
                &[1, 1, 1],
            ),
        )
        .unwrap();
    assert_eq!(lines(&out), vec!["a,3,2 -> 1", "b,9,1 -> 1"]);
    // Deleting the minimum falls back to the next value.
    let out = aggregate
        .process(0, changes(&input, &[Some(3)], &[Some("a")], &[-1]))
        .unwrap();
    assert_eq!(lines(&out), vec!["a,3,2 -> -1", "a,5,1 -> 1"]);
    // Emptying a group removes its row.
    let out = aggregate
        .process(0, changes(&input, &[Some(9)], &[Some("b")], &[-1]))
        .unwrap();
    assert_eq!(lines(&out), vec!["b,9,1 -> -1"]);
    // A change that leaves the value as it was emits nothing.
    let out = aggregate
        .process(
            0,
            changes(
                &input,
                &[Some(7), Some(7)],
                &[Some("a"), Some("a")],
                &[1, -1],
            ),
        )
        .unwrap();
    assert!(lines(&out).is_empty());
}

#[test]
fn global_count_has_one_row_even_when_empty() {
    let input = schema(&[("id", DataType::Int64), ("name", DataType::Utf8)]);
    let output = schema(&[("n", DataType::Int64)]);
    let count = AggregateExprBuilder::new(count_udaf(), vec![col("id", &input).unwrap()])
        .schema(input.clone())
        .alias("n")
        .build()
        .unwrap();
    let mut aggregate = GroupAggregate::new(
        &input,
        vec![],
        vec![AggregateCall {
            function: Arc::new(count),
            filter: None,
        }],
        output,
    )
    .unwrap();
    assert_eq!(
        lines(&aggregate.initial().unwrap().unwrap()),
        vec!["0 -> 1"]
    );
    let out = aggregate
        .process(0, changes(&input, &[Some(1)], &[Some("a")], &[1]))
        .unwrap();
    assert_eq!(lines(&out), vec!["0 -> -1", "1 -> 1"]);
    let out = aggregate
        .process(0, changes(&input, &[Some(1)], &[Some("a")], &[-1]))
        .unwrap();
    assert_eq!(lines(&out), vec!["0 -> 1", "1 -> -1"]);
}
