//! The Flink SQL front end at the text level: turns the Flink SQL that DataSQRL (and Flink
//! users) write into (a) plain SQL our PostgreSQL-dialect path parses and (b) structured
//! data for what that SQL cannot say (watermarks, computed and metadata columns, connector
//! options, window TVFs, temporal joins, statement sets).
//!
//! Everything here is a pure function of the text, built on sqlparser's tokenizer (with a
//! Flink configuration: backquoted identifiers, `--` and `/* */` comments, `''` escapes);
//! nothing is planned. Entry points:
//!
//! - [`split_script`]: a script into statements, statement sets flattened and tagged.
//! - [`parse_create_table`]: `CREATE TABLE` with Flink column kinds, `WATERMARK`,
//!   `PRIMARY KEY .. NOT ENFORCED`, `WITH (..)`, `LIKE`, into [`FlinkCreateTable`], whose
//!   `physical_sql` our existing CREATE TABLE path plans; [`FlinkCreateTable::merge_like`]
//!   completes a LIKE definition.
//! - [`parse_create_function`], [`parse_set`]: `CREATE FUNCTION .. AS 'class'` and
//!   `SET 'key' = 'value'`.
//! - [`parse_namespace_statement`]: `CREATE DATABASE`, `CREATE CATALOG`, `USE [CATALOG]`,
//!   which the session runs (a database of the default catalog is a schema).
//! - [`rewrite_statement`] / [`extract_temporal_joins`]: any other statement into
//!   PostgreSQL-dialect text (backquotes, window TVFs -> `sluice_tumble(..)` etc., cast type
//!   names, `CREATE TEMPORARY VIEW`, default catalog prefixes, `VALUES ROW(..)`), the second
//!   also cutting out `FOR SYSTEM_TIME AS OF` and reporting it.
//! - [`rewrite_backquotes`], [`rewrite_window_tvfs`]: single rewrites.
//! - [`parse_type`] / [`FlinkType`]: Flink data types and their PostgreSQL spelling.
//!
//! Conventions shared by all of them:
//! - Identifiers: Flink is case-sensitive and quotes with backquotes; Sluice folds unquoted
//!   identifiers to lower case. A backquoted identifier becomes the folded name, written
//!   plain when that is safe and double-quoted otherwise (`` `dateTime` `` ->
//!   `"datetime"`, `` `Price` `` -> `price`, `` `my col` `` -> `"my col"`), so DDL and
//!   queries that mix `` `dateTime` `` and `dateTime` agree. Names returned in structures
//!   are folded the same way.
//! - Text outside the rewritten tokens is copied byte for byte (whitespace, comments,
//!   `${VAR}` placeholders), so positions stay meaningful.
//! - Malformed input is a [`crate::PlanError::Syntax`] with the 1-based character position
//!   in the text given to the function; things Sluice cannot do yet are
//!   [`crate::PlanError::Unsupported`].

mod ddl;
mod group_window;
mod lex;
mod namespace;
mod rewrite;
mod script;
mod tvf;
pub(crate) mod types;

pub use ddl::{
    parse_create_function, parse_create_table, parse_set, FlinkColumn, FlinkColumnKind,
    FlinkCreateFunction, FlinkCreateTable, FlinkLike, FlinkPrimaryKey, FlinkWatermark, LikeFeature,
    LikeStrategy,
};
pub use lex::render_identifier;
pub use namespace::{parse_namespace_statement, FlinkNamespace, DEFAULT_CATALOG, DEFAULT_DATABASE};
pub use rewrite::{extract_temporal_joins, rewrite_backquotes, rewrite_statement, TemporalJoin};
pub use script::{split_script, ScriptStatement};
pub use tvf::rewrite_window_tvfs;
pub use types::{parse_type, FlinkField, FlinkType};

#[cfg(test)]
mod corpus_tests;
