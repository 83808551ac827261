//! The rows of schema `information_schema` (SQL standard views), computed from a
//! [`CatalogSnapshot`] as PostgreSQL 15 defines them for a superuser.
//!
//! As in PostgreSQL: `tables` and `columns` list tables and views but not materialized views
//! or indexes; NOT NULL columns of tables appear in `table_constraints` and
//! `check_constraints` as CHECK constraints named `<namespace oid>_<table oid>_<attnum>_not_null`.
//! Unlike PostgreSQL, views are reported as neither updatable nor insertable (Sluice views
//! are read-only).

use super::pg_catalog::{key_attnums, view_definition};
use super::table::{Rows, RowsFunction};
use super::types::{self, oids};
use super::{CatalogSnapshot, Column, Relation, RelationKind, DATABASE_NAME, ROLE_NAME};

/// The rows function of an `information_schema` relation; `None` for relations that stay
/// empty.
pub(crate) fn rows_function(name: &str) -> Option<RowsFunction> {
    let function: RowsFunction = match name {
        "schemata" => schemata,
        "tables" => tables,
        "columns" => columns,
        "views" => views,
        "table_constraints" => table_constraints,
        "key_column_usage" => key_column_usage,
        "check_constraints" => check_constraints,
        "constraint_column_usage" => constraint_column_usage,
        _ => return None,
    };
    Some(function)
}

/// Tables and views, the relations the standard views describe.
fn described(snapshot: &CatalogSnapshot) -> impl Iterator<Item = &Relation> {
    snapshot
        .relations
        .iter()
        .filter(|r| matches!(r.kind, RelationKind::Table | RelationKind::View))
        .map(|r| r.as_ref())
}

fn tables_with_primary_key(snapshot: &CatalogSnapshot) -> impl Iterator<Item = &Relation> {
    described(snapshot).filter(|r| r.kind == RelationKind::Table && !r.primary_key.is_empty())
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "YES"
    } else {
        "NO"
    }
}

fn schemata(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for (_, name) in &snapshot.namespaces {
        rows.push()
            .set("catalog_name", DATABASE_NAME)
            .set("schema_name", name.as_str())
            .set("schema_owner", ROLE_NAME);
    }
}

fn tables(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in described(snapshot) {
        let table = relation.kind == RelationKind::Table;
        rows.push()
            .set("table_catalog", DATABASE_NAME)
            .set("table_schema", relation.namespace_name())
            .set("table_name", relation.name.as_str())
            .set("table_type", if table { "BASE TABLE" } else { "VIEW" })
            .set("is_insertable_into", yes_no(table))
            .set("is_typed", "NO");
    }
}

fn columns(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in described(snapshot) {
        for (index, column) in relation.columns.iter().enumerate() {
            let position = index as i64 + 1;
            let mut row = rows.push();
            row.set("table_catalog", DATABASE_NAME)
                .set("table_schema", relation.namespace_name())
                .set("table_name", relation.name.as_str())
                .set("column_name", column.name.as_str())
                .set("ordinal_position", position)
                .set("column_default", column.default.as_deref())
                .set("is_nullable", yes_no(!column.not_null))
                .set("data_type", data_type(column))
                .set("udt_catalog", DATABASE_NAME)
                .set("udt_schema", "pg_catalog")
                .set(
                    "udt_name",
                    types::by_oid(column.type_oid)
                        .map(|t| t.name)
                        .unwrap_or("unknown"),
                )
                .set("dtd_identifier", position.to_string())
                .set("is_self_referencing", "NO")
                .set("is_identity", "NO")
                .set("identity_cycle", "NO")
                .set("is_generated", "NEVER")
                .set("is_updatable", yes_no(relation.kind == RelationKind::Table));
            numeric_and_length(column, &mut row);
        }
    }
}

/// `data_type`: the type's SQL name without modifier, `ARRAY` for arrays.
fn data_type(column: &Column) -> String {
    match types::by_oid(column.type_oid) {
        Some(t) if t.is_array() => "ARRAY".to_string(),
        Some(t) if t.kind == 'b' || t.kind == 'p' => types::format_type(t.oid, None),
        _ => "USER-DEFINED".to_string(),
    }
}

/// The precision, scale and length columns, as PostgreSQL's `_pg_numeric_precision` and
/// friends compute them from the type and modifier.
fn numeric_and_length(column: &Column, row: &mut super::table::Row<'_>) {
    let modifier = (column.typmod >= 0).then_some(column.typmod);
    let binary = |row: &mut super::table::Row<'_>, precision: i32| {
        row.set("numeric_precision", precision)
            .set("numeric_precision_radix", 2i32);
    };
    match column.type_oid {
        oids::INT2 => binary(row, 16),
        oids::INT4 => binary(row, 32),
        oids::INT8 => binary(row, 64),
        oids::FLOAT4 => binary(row, 24),
        oids::FLOAT8 => binary(row, 53),
        oids::NUMERIC => {
            row.set("numeric_precision_radix", 10i32);
            if let Some(modifier) = modifier {
                let packed = modifier - 4;
                row.set("numeric_precision", (packed >> 16) & 0xffff)
                    .set("numeric_scale", packed & 0xffff);
            }
        }
        oids::DATE => {
            row.set("datetime_precision", 0i32);
        }
        oids::TIME | oids::TIMETZ | oids::TIMESTAMP | oids::TIMESTAMPTZ | oids::INTERVAL => {
            row.set("datetime_precision", modifier.unwrap_or(6));
        }
        oids::VARCHAR | oids::BPCHAR => {
            if let Some(modifier) = modifier {
                row.set("character_maximum_length", modifier - 4)
                    .set("character_octet_length", (modifier - 4) * 4);
            } else {
                row.set("character_octet_length", 1_073_741_824i32);
            }
        }
        oids::TEXT => {
            row.set("character_octet_length", 1_073_741_824i32);
        }
        _ => {}
    }
    if matches!(column.type_oid, oids::INT2 | oids::INT4 | oids::INT8) {
        row.set("numeric_scale", 0i32);
    }
}

fn views(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in described(snapshot).filter(|r| r.kind == RelationKind::View) {
        rows.push()
            .set("table_catalog", DATABASE_NAME)
            .set("table_schema", relation.namespace_name())
            .set("table_name", relation.name.as_str())
            .set("view_definition", view_definition(relation))
            .set("check_option", "NONE")
            .set("is_updatable", "NO")
            .set("is_insertable_into", "NO")
            .set("is_trigger_updatable", "NO")
            .set("is_trigger_deletable", "NO")
            .set("is_trigger_insertable_into", "NO");
    }
}

/// The NOT NULL pseudo-constraints PostgreSQL 15 reports: (name, column).
fn not_null_constraints(relation: &Relation) -> Vec<(String, &Column)> {
    if relation.kind != RelationKind::Table {
        return vec![];
    }
    relation
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.not_null)
        .map(|(i, c)| {
            let name = format!("{}_{}_{}_not_null", relation.namespace, relation.oid, i + 1);
            (name, c)
        })
        .collect()
}

fn constraint_row<'a>(
    rows: &'a mut Rows,
    relation: &Relation,
    name: &str,
) -> super::table::Row<'a> {
    let mut row = rows.push();
    row.set("constraint_catalog", DATABASE_NAME)
        .set("constraint_schema", relation.namespace_name())
        .set("constraint_name", name)
        .set("table_catalog", DATABASE_NAME)
        .set("table_schema", relation.namespace_name())
        .set("table_name", relation.name.as_str());
    row
}

fn table_constraints(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in described(snapshot).filter(|r| r.number.is_some()) {
        if !relation.primary_key.is_empty() && relation.kind == RelationKind::Table {
            constraint_row(rows, relation, &relation.primary_key_name())
                .set("constraint_type", "PRIMARY KEY")
                .set("is_deferrable", "NO")
                .set("initially_deferred", "NO")
                .set("enforced", "YES");
        }
        for (name, _) in not_null_constraints(relation) {
            constraint_row(rows, relation, &name)
                .set("constraint_type", "CHECK")
                .set("is_deferrable", "NO")
                .set("initially_deferred", "NO")
                .set("enforced", "YES");
        }
    }
}

fn key_column_usage(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for table in tables_with_primary_key(snapshot) {
        for (position, attnum) in key_attnums(table).into_iter().enumerate() {
            let Some(column) = table.columns.get((attnum - 1) as usize) else {
                continue;
            };
            constraint_row(rows, table, &table.primary_key_name())
                .set("column_name", column.name.as_str())
                .set("ordinal_position", position as i64 + 1);
        }
    }
}

fn check_constraints(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in described(snapshot).filter(|r| r.number.is_some()) {
        for (name, column) in not_null_constraints(relation) {
            rows.push()
                .set("constraint_catalog", DATABASE_NAME)
                .set("constraint_schema", relation.namespace_name())
                .set("constraint_name", name.as_str())
                .set(
                    "check_clause",
                    format!("{} IS NOT NULL", super::quote_identifier(&column.name)),
                );
        }
    }
}

fn constraint_column_usage(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for table in tables_with_primary_key(snapshot) {
        for attnum in key_attnums(table) {
            let Some(column) = table.columns.get((attnum - 1) as usize) else {
                continue;
            };
            constraint_row(rows, table, &table.primary_key_name())
                .set("column_name", column.name.as_str());
        }
    }
}
