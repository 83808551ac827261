//! Flink DDL: `CREATE TABLE` with computed and metadata columns, watermarks, `NOT ENFORCED`
//! keys and connector options; `CREATE FUNCTION .. AS 'class'`; the SQL client's
//! `SET 'key' = 'value'`.
//!
//! [`parse_create_table`] splits a Flink table definition into structure (columns by kind,
//! key, watermark, options) and [`FlinkCreateTable::physical_sql`], a plain PostgreSQL-dialect
//! `CREATE TABLE` of the stored columns that our existing DDL path plans. A table declared
//! `LIKE base` (DataSQRL declares its sinks so) is completed with
//! [`FlinkCreateTable::merge_like`] once the caller has the base table's definition.
//!
//! Invariants:
//! - Names are folded as Sluice folds identifiers (unquoted and backquoted names to lower
//!   case, double-quoted names as written); of a qualified table name only the last part
//!   is kept.
//! - Expressions (computed columns, watermark) are the statement's text with the Flink
//!   rewrites of [`super::rewrite_statement`] applied to their tokens, otherwise unchanged.
//! - `physical_sql` holds the physical and metadata columns in declaration order with
//!   converted types, their `NOT NULL`, any PostgreSQL column options this module does not
//!   model (`DEFAULT ..`, `CHECK (..)`, ..) verbatim, the primary key as a table constraint
//!   and other table constraints verbatim: never computed columns, watermarks, options,
//!   comments or `NOT ENFORCED`.
//! - Without LIKE, the key and watermark columns are checked to exist (the key on stored
//!   columns); with LIKE that check waits for [`FlinkCreateTable::merge_like`].
//! - Errors carry the 1-based character position in the statement text.

use std::collections::HashSet;

use datafusion::sql::sqlparser::tokenizer::Token;

use super::lex::{render_identifier, syntax, Cursor, Identifier, Lexed, Rendering};
use super::rewrite::expression_rendering;
use super::types::{parse_type_at, FlinkType};
use crate::error::{PlanError, Result};

/// A Flink `CREATE TABLE` with a column list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkCreateTable {
    /// The table's catalog key (see [`crate::names`]): the folded name, after its database
    /// and a `.` when a database other than the default one is named.
    pub name: String,
    /// The database (schema) named, folded; `None` when none or the default one is.
    pub schema: Option<String>,
    pub temporary: bool,
    pub if_not_exists: bool,
    /// All columns in declaration order.
    pub columns: Vec<FlinkColumn>,
    pub primary_key: Option<FlinkPrimaryKey>,
    pub watermark: Option<FlinkWatermark>,
    /// `WITH (..)` options in order, keys and values unescaped (`${VAR}` kept as written).
    pub options: Vec<(String, String)>,
    /// `PARTITIONED BY (..)` columns, folded.
    pub partitioned_by: Vec<String>,
    /// The table's `COMMENT '..'`.
    pub comment: Option<String>,
    /// Table constraints other than the primary key (`UNIQUE (..)`, `CHECK (..)`), verbatim.
    pub other_constraints: Vec<String>,
    /// `LIKE base [(options)]`: the definition extends another table's. Complete it with
    /// [`FlinkCreateTable::merge_like`].
    pub like: Option<FlinkLike>,
    /// A plain PostgreSQL-dialect `CREATE TABLE name (physical and metadata columns with
    /// converted types [, PRIMARY KEY (..)])` our existing path can plan: no computed
    /// columns, no watermark, no WITH, no NOT ENFORCED. Nested types use `STRUCT<..>`,
    /// which needs sqlparser's generic dialect (the session falls back to it).
    pub physical_sql: String,
}

/// A column of a Flink table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkColumn {
    /// The column name, folded.
    pub name: String,
    pub kind: FlinkColumnKind,
    pub comment: Option<String>,
    /// PostgreSQL column options this module does not model (`DEFAULT 0`, `CHECK (..)`),
    /// verbatim and space-separated; empty in Flink DDL.
    pub extra_sql: String,
}

/// What a column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlinkColumnKind {
    /// A stored column.
    Physical {
        data_type: FlinkType,
        /// `data_type` as PostgreSQL-dialect DDL text.
        sql_type: String,
        not_null: bool,
    },
    /// `name AS expr`: computed from the other columns of the row.
    Computed {
        /// The expression as rewritten SQL text.
        expr: String,
    },
    /// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`: provided by the connector.
    Metadata {
        data_type: FlinkType,
        sql_type: String,
        /// The connector's metadata key; defaults to the column name as written.
        key: String,
        /// A virtual column is read but never written by a sink.
        is_virtual: bool,
    },
}

/// `PRIMARY KEY (..) [NOT ENFORCED]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkPrimaryKey {
    /// Key columns, folded, in key order.
    pub columns: Vec<String>,
    /// False when declared `NOT ENFORCED` (always so in Flink).
    pub enforced: bool,
}

/// `WATERMARK FOR column AS expr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkWatermark {
    /// The event-time column, folded.
    pub column: String,
    /// The watermark expression as rewritten SQL text.
    pub expr: String,
    /// 1-based character position of `WATERMARK` in the statement.
    pub position: usize,
}

/// `LIKE base [(like options)]` of a CREATE TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkLike {
    /// The base table's name, folded (last part of a qualified name).
    pub table: String,
    /// The like options in order, e.g. `[(Excluding, All), (Including, Generated)]`.
    pub options: Vec<(LikeStrategy, LikeFeature)>,
}

/// How a LIKE feature of the base table is merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeStrategy {
    /// Take the base table's, fail on duplicates.
    Including,
    /// Leave the base table's out.
    Excluding,
    /// Take the base table's, this table's win on duplicates.
    Overwriting,
}

/// A feature of a table definition that LIKE options control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeFeature {
    All,
    Constraints,
    Generated,
    Metadata,
    Options,
    Partitions,
    Watermarks,
}

/// A Flink `CREATE FUNCTION name AS 'class'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlinkCreateFunction {
    /// The function name, folded; catalog and database prefixes are dropped.
    pub name: String,
    /// The implementing class (`'com.example.MyFunction'`).
    pub class_name: String,
    pub temporary: bool,
    pub if_not_exists: bool,
    /// `LANGUAGE JAVA|SCALA|PYTHON`, upper case, if given.
    pub language: Option<String>,
}

/// Parse a Flink `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (..) [COMMENT '..']
/// [PARTITIONED BY (..)] [WITH (..)] [LIKE base [(..)]]`.
///
/// Returns `Ok(None)` for statements that are not a CREATE TABLE with a column list or a
/// LIKE clause (other statements, `CREATE TABLE .. AS ..`).
pub fn parse_create_table(sql: &str) -> Result<Option<FlinkCreateTable>> {
    let lexed = Lexed::new(sql)?;
    let mut cursor = lexed.cursor_all();
    if !cursor.eat_keywords(&["CREATE"]) {
        return Ok(None);
    }
    let temporary = cursor.eat_keywords(&["TEMPORARY"]);
    if !cursor.eat_keywords(&["TABLE"]) {
        return Ok(None);
    }
    let if_not_exists = cursor.eat_keywords(&["IF", "NOT", "EXISTS"]);
    let (schema, name) = schema_and_key(cursor.qualified_name("a table name")?);
    let rendering = expression_rendering(&lexed)?;
    let mut table = TableBuilder {
        lexed: &lexed,
        rendering: &rendering,
        columns: Vec::new(),
        primary_key: None,
        watermark: None,
        constraints: Vec::new(),
    };
    let tail_start = if cursor.at_token(&Token::LParen) {
        let open = cursor.index();
        let Some(close) = lexed.matching_close(open) else {
            return Err(syntax(
                "expected \")\" closing the column list, found end of input",
                lexed.position_of(lexed.tokens.len()),
            ));
        };
        table.elements(lexed.cursor(open + 1, close))?;
        close + 1
    } else {
        // Without a column list only a LIKE clause makes this a table definition.
        let mut rest = cursor.clone();
        let mut has_like = false;
        while !rest.is_done() {
            has_like |= rest.at_keywords(&["LIKE"]);
            rest.skip_item();
        }
        if !has_like {
            return Ok(None);
        }
        cursor.index()
    };

    let mut tail = lexed.cursor(tail_start, lexed.tokens.len());
    let mut comment = None;
    let mut partitioned_by = Vec::new();
    let mut options = Vec::new();
    let mut like = None;
    let mut seen = HashSet::new();
    while !tail.is_done() {
        let clause = tail
            .peek()
            .and_then(|lexeme| lexeme.bare_word())
            .map(str::to_ascii_uppercase)
            .unwrap_or_default();
        if matches!(clause.as_str(), "COMMENT" | "PARTITIONED" | "WITH" | "LIKE")
            && !seen.insert(clause.clone())
        {
            return Err(syntax(
                format!("{clause} is given more than once"),
                tail.position(),
            ));
        }
        match clause.as_str() {
            "COMMENT" => {
                tail.next();
                comment = Some(tail.string("a comment string")?);
            }
            "PARTITIONED" => {
                tail.next();
                tail.expect_keywords(&["BY"], "BY after PARTITIONED")?;
                partitioned_by = identifier_list(&mut tail, "a partition column")?;
            }
            "WITH" => {
                tail.next();
                options = with_options(&mut tail)?;
            }
            "LIKE" => {
                tail.next();
                like = Some(like_clause(&mut tail)?);
            }
            "AS" => {
                return Err(PlanError::Unsupported(
                    "CREATE TABLE with both a column list and AS query".into(),
                ))
            }
            _ if tail.at_token(&Token::SemiColon) => {
                tail.next();
                if !tail.is_done() {
                    return Err(tail.unexpected("end of the statement"));
                }
            }
            _ => {
                return Err(tail
                    .unexpected("COMMENT, PARTITIONED BY, WITH, LIKE or the end of the statement"))
            }
        }
    }

    let mut definition = FlinkCreateTable {
        name,
        schema,
        temporary,
        if_not_exists,
        columns: table.columns,
        primary_key: table.primary_key,
        watermark: table.watermark,
        options,
        partitioned_by,
        comment,
        other_constraints: table.constraints,
        like,
        physical_sql: String::new(),
    };
    if definition.like.is_none() {
        definition.validate()?;
    }
    definition.physical_sql = definition.build_physical_sql();
    Ok(Some(definition))
}

impl FlinkCreateTable {
    /// Place a table whose name named no database in `schema` (the session's current one).
    pub fn place_in(&mut self, schema: &str) {
        if self.schema.is_some() || crate::names::is_default(schema) {
            return;
        }
        self.name = crate::names::join(Some(schema), &self.name);
        self.schema = Some(schema.to_string());
        self.physical_sql = self.build_physical_sql();
    }

    /// The name as SQL: `schema.table` or `table`, each part quoted as needed.
    fn rendered_name(&self) -> String {
        match &self.schema {
            Some(schema) => {
                let table = self
                    .name
                    .strip_prefix(schema.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .unwrap_or(&self.name);
                format!("{}.{}", render_identifier(schema), render_identifier(table))
            }
            None => render_identifier(&self.name),
        }
    }

    /// Complete a `CREATE TABLE .. LIKE base` with the base table's definition, following
    /// Flink's merging rules: the base's physical columns come first and are always
    /// included; computed columns (GENERATED), metadata columns (METADATA), the key
    /// (CONSTRAINTS), the watermark (WATERMARKS), options (OPTIONS) and partitions
    /// (PARTITIONS) are included, excluded or overwritten as the like options say (default
    /// `INCLUDING ALL OVERWRITING OPTIONS`). Returns the table without LIKE, checked, with
    /// its `physical_sql`.
    pub fn merge_like(&self, base: &FlinkCreateTable) -> Result<FlinkCreateTable> {
        let Some(like) = &self.like else {
            return Ok(self.clone());
        };
        if base.name != like.table {
            return Err(PlanError::Internal(format!(
                "LIKE {} was given the definition of {}",
                like.table, base.name
            )));
        }
        let strategy = LikeStrategies::new(&like.options)?;
        let mut columns: Vec<FlinkColumn> = Vec::new();
        for column in &base.columns {
            let feature = match column.kind {
                FlinkColumnKind::Physical { .. } => None,
                FlinkColumnKind::Computed { .. } => Some(strategy.generated),
                FlinkColumnKind::Metadata { .. } => Some(strategy.metadata),
            };
            if feature != Some(LikeStrategy::Excluding) {
                columns.push(column.clone());
            }
        }
        for column in &self.columns {
            let existing = columns.iter().position(|other| other.name == column.name);
            match existing {
                None => columns.push(column.clone()),
                Some(at) => {
                    let overwritable = match (&columns[at].kind, &column.kind) {
                        (FlinkColumnKind::Computed { .. }, FlinkColumnKind::Computed { .. }) => {
                            strategy.generated == LikeStrategy::Overwriting
                        }
                        (FlinkColumnKind::Metadata { .. }, FlinkColumnKind::Metadata { .. }) => {
                            strategy.metadata == LikeStrategy::Overwriting
                        }
                        _ => false,
                    };
                    if !overwritable {
                        return Err(PlanError::Plan(format!(
                            "column \"{}\" is defined both in {} and in the table it is LIKE",
                            column.name, self.name
                        )));
                    }
                    columns[at] = column.clone();
                }
            }
        }
        let primary_key = match (&self.primary_key, &base.primary_key, strategy.constraints) {
            (Some(_), Some(_), LikeStrategy::Including) => {
                return Err(PlanError::Plan(format!(
                    "{} and the table it is LIKE both declare a primary key",
                    self.name
                )))
            }
            (Some(own), _, _) => Some(own.clone()),
            (None, _, LikeStrategy::Excluding) => None,
            (None, inherited, _) => inherited.clone(),
        };
        let watermark = match (&self.watermark, &base.watermark, strategy.watermarks) {
            (Some(_), Some(_), LikeStrategy::Including) => {
                return Err(PlanError::Plan(format!(
                    "{} and the table it is LIKE both declare a watermark",
                    self.name
                )))
            }
            (Some(own), _, _) => Some(own.clone()),
            (None, _, LikeStrategy::Excluding) => None,
            (None, inherited, _) => inherited.clone(),
        };
        let mut options = match strategy.options {
            LikeStrategy::Excluding => Vec::new(),
            _ => base.options.clone(),
        };
        for (key, value) in &self.options {
            match options.iter().position(|(other, _)| other == key) {
                Some(_) if strategy.options == LikeStrategy::Including => {
                    return Err(PlanError::Plan(format!(
                        "option '{key}' is set both in {} and in the table it is LIKE",
                        self.name
                    )))
                }
                Some(at) => options[at].1 = value.clone(),
                None => options.push((key.clone(), value.clone())),
            }
        }
        let partitioned_by = match strategy.partitions {
            LikeStrategy::Excluding => self.partitioned_by.clone(),
            _ if self.partitioned_by.is_empty() => base.partitioned_by.clone(),
            _ if base.partitioned_by.is_empty() || base.partitioned_by == self.partitioned_by => {
                self.partitioned_by.clone()
            }
            _ => {
                return Err(PlanError::Plan(format!(
                    "{} and the table it is LIKE are partitioned differently",
                    self.name
                )))
            }
        };
        let mut other_constraints = self.other_constraints.clone();
        if strategy.constraints != LikeStrategy::Excluding {
            other_constraints.extend(base.other_constraints.iter().cloned());
        }
        let mut merged = FlinkCreateTable {
            name: self.name.clone(),
            schema: self.schema.clone(),
            temporary: self.temporary,
            if_not_exists: self.if_not_exists,
            columns,
            primary_key,
            watermark,
            options,
            partitioned_by,
            comment: self.comment.clone().or_else(|| base.comment.clone()),
            other_constraints,
            like: None,
            physical_sql: String::new(),
        };
        merged.validate()?;
        merged.physical_sql = merged.build_physical_sql();
        Ok(merged)
    }

    /// The key must name stored columns and the watermark an existing column.
    fn validate(&self) -> Result<()> {
        let find = |column: &str| {
            self.columns
                .iter()
                .find(|candidate| candidate.name == column)
        };
        if let Some(key) = &self.primary_key {
            for column in &key.columns {
                match find(column).map(|column| &column.kind) {
                    None => {
                        return Err(PlanError::UndefinedColumn(format!(
                            "column \"{column}\" named in key does not exist"
                        )))
                    }
                    Some(FlinkColumnKind::Computed { .. }) => {
                        return Err(PlanError::Unsupported(format!(
                            "a primary key on computed column \"{column}\""
                        )))
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(watermark) = &self.watermark {
            let top = watermark.column.split('.').next().unwrap_or_default();
            if find(top).is_none() {
                return Err(PlanError::UndefinedColumn(format!(
                    "column \"{}\" named in WATERMARK FOR does not exist",
                    watermark.column
                )));
            }
        }
        Ok(())
    }

    /// The PostgreSQL-dialect DDL of the stored columns (see [`Self::physical_sql`]).
    fn build_physical_sql(&self) -> String {
        let mut elements = Vec::new();
        for column in &self.columns {
            let (sql_type, not_null) = match &column.kind {
                FlinkColumnKind::Physical {
                    sql_type, not_null, ..
                } => (sql_type, *not_null),
                FlinkColumnKind::Metadata { sql_type, .. } => (sql_type, false),
                FlinkColumnKind::Computed { .. } => continue,
            };
            let mut element = format!("{} {sql_type}", render_identifier(&column.name));
            if not_null {
                element.push_str(" NOT NULL");
            }
            if !column.extra_sql.is_empty() {
                element.push(' ');
                element.push_str(&column.extra_sql);
            }
            elements.push(element);
        }
        if let Some(key) = &self.primary_key {
            let columns: Vec<String> = key
                .columns
                .iter()
                .map(|column| render_identifier(column))
                .collect();
            elements.push(format!("PRIMARY KEY ({})", columns.join(", ")));
        }
        elements.extend(self.other_constraints.iter().cloned());
        let if_not_exists = if self.if_not_exists {
            "IF NOT EXISTS "
        } else {
            ""
        };
        format!(
            "CREATE TABLE {if_not_exists}{} ({})",
            self.rendered_name(),
            elements.join(", ")
        )
    }
}

/// The effective strategy per feature after applying like options in order.
struct LikeStrategies {
    constraints: LikeStrategy,
    generated: LikeStrategy,
    metadata: LikeStrategy,
    options: LikeStrategy,
    partitions: LikeStrategy,
    watermarks: LikeStrategy,
}

impl LikeStrategies {
    fn new(options: &[(LikeStrategy, LikeFeature)]) -> Result<Self> {
        let mut strategies = LikeStrategies {
            constraints: LikeStrategy::Including,
            generated: LikeStrategy::Including,
            metadata: LikeStrategy::Including,
            options: LikeStrategy::Overwriting,
            partitions: LikeStrategy::Including,
            watermarks: LikeStrategy::Including,
        };
        for &(strategy, feature) in options {
            let overwriting = strategy == LikeStrategy::Overwriting;
            match feature {
                LikeFeature::All if overwriting => {
                    return Err(PlanError::Plan("OVERWRITING ALL is not allowed".into()))
                }
                LikeFeature::All => {
                    strategies = LikeStrategies {
                        constraints: strategy,
                        generated: strategy,
                        metadata: strategy,
                        options: strategy,
                        partitions: strategy,
                        watermarks: strategy,
                    }
                }
                LikeFeature::Constraints | LikeFeature::Partitions if overwriting => {
                    return Err(PlanError::Plan(format!(
                        "OVERWRITING is not allowed for {feature:?}"
                    )))
                }
                LikeFeature::Constraints => strategies.constraints = strategy,
                LikeFeature::Partitions => strategies.partitions = strategy,
                LikeFeature::Generated => strategies.generated = strategy,
                LikeFeature::Metadata => strategies.metadata = strategy,
                LikeFeature::Options => strategies.options = strategy,
                LikeFeature::Watermarks => strategies.watermarks = strategy,
            }
        }
        Ok(strategies)
    }
}

/// `base [( {INCLUDING|EXCLUDING|OVERWRITING} feature .. )]` after LIKE.
fn like_clause(cursor: &mut Cursor) -> Result<FlinkLike> {
    let (_, table) = schema_and_key(cursor.qualified_name("the LIKE table name")?);
    let mut options = Vec::new();
    if cursor.eat(&Token::LParen) {
        loop {
            let strategy = match cursor.peek().and_then(|lexeme| lexeme.bare_word()) {
                Some(word) if word.eq_ignore_ascii_case("INCLUDING") => LikeStrategy::Including,
                Some(word) if word.eq_ignore_ascii_case("EXCLUDING") => LikeStrategy::Excluding,
                Some(word) if word.eq_ignore_ascii_case("OVERWRITING") => LikeStrategy::Overwriting,
                _ => return Err(cursor.unexpected("INCLUDING, EXCLUDING or OVERWRITING")),
            };
            cursor.next();
            let feature = match cursor
                .peek()
                .and_then(|lexeme| lexeme.bare_word())
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("ALL") => LikeFeature::All,
                Some("CONSTRAINTS") => LikeFeature::Constraints,
                Some("GENERATED") => LikeFeature::Generated,
                Some("METADATA") => LikeFeature::Metadata,
                Some("OPTIONS") => LikeFeature::Options,
                Some("PARTITIONS") => LikeFeature::Partitions,
                Some("WATERMARKS") => LikeFeature::Watermarks,
                _ => return Err(cursor.unexpected("a LIKE feature (ALL, CONSTRAINTS, ..)")),
            };
            cursor.next();
            options.push((strategy, feature));
            if cursor.eat(&Token::RParen) {
                break;
            }
            cursor.eat(&Token::Comma);
        }
    }
    Ok(FlinkLike { table, options })
}

/// Parse a Flink `CREATE [TEMPORARY] [SYSTEM] FUNCTION [IF NOT EXISTS] name AS 'class'
/// [LANGUAGE lang] [USING JAR '..', ..]`. Returns `Ok(None)` for anything else (including
/// PostgreSQL's `CREATE FUNCTION f(..) ..`).
pub fn parse_create_function(sql: &str) -> Result<Option<FlinkCreateFunction>> {
    let lexed = Lexed::new(sql)?;
    let mut cursor = lexed.cursor_all();
    if !cursor.eat_keywords(&["CREATE"]) {
        return Ok(None);
    }
    let temporary = cursor.eat_keywords(&["TEMPORARY"]);
    cursor.eat_keywords(&["SYSTEM"]);
    if !cursor.eat_keywords(&["FUNCTION"]) {
        return Ok(None);
    }
    let if_not_exists = cursor.eat_keywords(&["IF", "NOT", "EXISTS"]);
    let name = last_part(cursor.qualified_name("a function name")?);
    if !cursor.eat_keywords(&["AS"]) {
        return Ok(None);
    }
    let Some(Token::SingleQuotedString(class_name)) = cursor.peek().map(|lexeme| &lexeme.token)
    else {
        return Ok(None);
    };
    let class_name = class_name.clone();
    cursor.next();
    let mut language = None;
    if cursor.eat_keywords(&["LANGUAGE"]) {
        let word = cursor.identifier("a language name")?;
        language = Some(word.value.to_ascii_uppercase());
    }
    if cursor.eat_keywords(&["USING"]) {
        loop {
            cursor.expect_keywords(&["JAR"], "JAR")?;
            cursor.string("a jar path")?;
            if !cursor.eat(&Token::Comma) {
                break;
            }
        }
    }
    cursor.eat(&Token::SemiColon);
    if !cursor.is_done() {
        return Err(cursor.unexpected("end of the statement"));
    }
    Ok(Some(FlinkCreateFunction {
        name,
        class_name,
        temporary,
        if_not_exists,
        language,
    }))
}

/// Parse the Flink SQL client's `SET 'key' = 'value'` into the key and value (unescaped).
/// Returns `Ok(None)` for other statements, including PostgreSQL's `SET name = value`.
pub fn parse_set(sql: &str) -> Result<Option<(String, String)>> {
    let lexed = Lexed::new(sql)?;
    let mut cursor = lexed.cursor_all();
    if !cursor.eat_keywords(&["SET"]) {
        return Ok(None);
    }
    let Some(Token::SingleQuotedString(key)) = cursor.peek().map(|lexeme| &lexeme.token) else {
        return Ok(None);
    };
    let key = key.clone();
    cursor.next();
    cursor.expect(&Token::Eq, "\"=\"")?;
    let value = cursor.string("a quoted value")?;
    cursor.eat(&Token::SemiColon);
    if !cursor.is_done() {
        return Err(cursor.unexpected("end of the statement"));
    }
    Ok(Some((key, value)))
}

fn last_part(mut parts: Vec<Identifier>) -> String {
    parts.pop().map(|part| part.folded).unwrap_or_default()
}

/// The database named (unless the default one) and the catalog key of
/// `[catalog.][database.]name`.
pub(super) fn schema_and_key(mut parts: Vec<Identifier>) -> (Option<String>, String) {
    let table = parts.pop().map(|part| part.folded).unwrap_or_default();
    let schema = parts
        .pop()
        .map(|part| part.folded)
        .filter(|schema| !crate::names::is_default(schema));
    let key = crate::names::join(schema.as_deref(), &table);
    (schema, key)
}

/// `( name, .. )`, folded.
fn identifier_list(cursor: &mut Cursor, what: &str) -> Result<Vec<String>> {
    cursor.expect(&Token::LParen, "\"(\"")?;
    let mut names = Vec::new();
    loop {
        names.push(cursor.identifier(what)?.folded);
        if !cursor.eat(&Token::Comma) {
            break;
        }
    }
    cursor.expect(&Token::RParen, "\",\" or \")\"")?;
    Ok(names)
}

/// `( 'key' = 'value', .. )` after WITH. Keys may also be unquoted dotted words; values
/// may also be numbers or words (`true`).
fn with_options(cursor: &mut Cursor) -> Result<Vec<(String, String)>> {
    cursor.expect(&Token::LParen, "\"(\" after WITH")?;
    let mut options = Vec::new();
    if cursor.eat(&Token::RParen) {
        return Ok(options);
    }
    loop {
        let key = match cursor.peek().map(|lexeme| &lexeme.token) {
            Some(Token::SingleQuotedString(key)) => {
                let key = key.clone();
                cursor.next();
                key
            }
            Some(Token::Word(_)) => cursor
                .qualified_name("an option key")?
                .into_iter()
                .map(|part| part.value)
                .collect::<Vec<_>>()
                .join("."),
            _ => return Err(cursor.unexpected("an option key")),
        };
        cursor.expect(&Token::Eq, "\"=\" after the option key")?;
        let negative = cursor.eat(&Token::Minus);
        let value = match cursor.peek().map(|lexeme| &lexeme.token) {
            Some(Token::SingleQuotedString(value)) if !negative => value.clone(),
            Some(Token::Number(number, _)) if negative => format!("-{number}"),
            Some(Token::Number(number, _)) => number.clone(),
            Some(Token::Word(word)) if !negative => word.value.clone(),
            _ => return Err(cursor.unexpected("an option value")),
        };
        cursor.next();
        options.push((key, value));
        if cursor.eat(&Token::Comma) {
            continue;
        }
        cursor.expect(&Token::RParen, "\",\" or \")\" closing WITH options")?;
        return Ok(options);
    }
}

/// Collects the elements of a column list.
struct TableBuilder<'r, 'l, 'a> {
    lexed: &'l Lexed<'a>,
    rendering: &'r Rendering,
    columns: Vec<FlinkColumn>,
    primary_key: Option<FlinkPrimaryKey>,
    watermark: Option<FlinkWatermark>,
    /// Other table constraints, verbatim.
    constraints: Vec<String>,
}

impl TableBuilder<'_, '_, '_> {
    fn elements(&mut self, mut cursor: Cursor) -> Result<()> {
        while !cursor.is_done() {
            self.element(&mut cursor)?;
            if cursor.is_done() {
                break;
            }
            cursor.expect(&Token::Comma, "\",\" or \")\"")?;
        }
        Ok(())
    }

    fn element(&mut self, cursor: &mut Cursor) -> Result<()> {
        let position = cursor.position();
        if cursor.at_keywords(&["WATERMARK", "FOR"]) {
            return self.watermark(cursor);
        }
        if cursor.at_keywords(&["PRIMARY", "KEY"]) {
            return self.table_primary_key(cursor, position);
        }
        if cursor.at_keywords(&["CONSTRAINT"]) {
            let start = cursor.index();
            cursor.next();
            cursor.identifier("a constraint name")?;
            if cursor.at_keywords(&["PRIMARY", "KEY"]) {
                return self.table_primary_key(cursor, position);
            }
            let (_, end) = cursor.skip_to_comma();
            self.constraints.push(self.verbatim(start, end));
            return Ok(());
        }
        let followed_by_parenthesis = cursor
            .peek_ahead(1)
            .is_some_and(|lexeme| lexeme.token == Token::LParen);
        let table_constraint = (cursor.at_keywords(&["UNIQUE"]) || cursor.at_keywords(&["CHECK"]))
            && followed_by_parenthesis
            || cursor.at_keywords(&["FOREIGN", "KEY"]);
        if table_constraint {
            let (start, end) = cursor.skip_to_comma();
            self.constraints.push(self.verbatim(start, end));
            return Ok(());
        }
        self.column(cursor, position)
    }

    /// Tokens `start..end` with the expression rewrites, trimmed.
    fn verbatim(&self, start: usize, end: usize) -> String {
        self.rendering
            .render(self.lexed, start, end)
            .trim()
            .to_string()
    }

    fn watermark(&mut self, cursor: &mut Cursor) -> Result<()> {
        let position = cursor.position();
        if self.watermark.is_some() {
            return Err(syntax("a table can have only one WATERMARK", position));
        }
        cursor.next();
        cursor.next();
        let column = cursor
            .qualified_name("the event-time column")?
            .into_iter()
            .map(|part| part.folded)
            .collect::<Vec<_>>()
            .join(".");
        if !cursor.eat_keywords(&["AS"]) {
            return Err(cursor.unexpected("AS and the watermark expression"));
        }
        let expression_position = cursor.position();
        let (first, end) = cursor.skip_to_comma();
        if first >= end {
            return Err(syntax(
                "expected the watermark expression",
                expression_position,
            ));
        }
        self.watermark = Some(FlinkWatermark {
            column,
            expr: self.verbatim(first, end),
            position,
        });
        Ok(())
    }

    fn table_primary_key(&mut self, cursor: &mut Cursor, position: usize) -> Result<()> {
        cursor.next();
        cursor.next();
        let columns = identifier_list(cursor, "a key column")?;
        let enforced = !cursor.eat_keywords(&["NOT", "ENFORCED"]);
        self.set_primary_key(FlinkPrimaryKey { columns, enforced }, position)
    }

    fn set_primary_key(&mut self, key: FlinkPrimaryKey, position: usize) -> Result<()> {
        if self.primary_key.is_some() {
            return Err(syntax("multiple primary keys are not allowed", position));
        }
        self.primary_key = Some(key);
        Ok(())
    }

    fn column(&mut self, cursor: &mut Cursor, position: usize) -> Result<()> {
        let name = cursor.identifier("a column name")?;
        if self.columns.iter().any(|column| column.name == name.folded) {
            return Err(syntax(
                format!("column \"{}\" specified more than once", name.folded),
                position,
            ));
        }
        if cursor.eat_keywords(&["AS"]) {
            return self.computed_column(cursor, name);
        }
        let data_type = parse_type_at(cursor)?;
        let mut not_null = false;
        let mut comment = None;
        let mut metadata: Option<(String, bool)> = None;
        let mut extras = Vec::new();
        while !cursor.is_done() && !cursor.at_token(&Token::Comma) {
            let option_position = cursor.position();
            if cursor.eat_keywords(&["NOT", "NULL"]) {
                not_null = true;
            } else if cursor.eat_keywords(&["NULL"]) {
                not_null = false;
            } else if cursor.eat_keywords(&["PRIMARY", "KEY"]) {
                let enforced = !cursor.eat_keywords(&["NOT", "ENFORCED"]);
                let key = FlinkPrimaryKey {
                    columns: vec![name.folded.clone()],
                    enforced,
                };
                self.set_primary_key(key, option_position)?;
            } else if cursor.eat_keywords(&["COMMENT"]) {
                comment = Some(cursor.string("a comment string")?);
            } else if cursor.eat_keywords(&["METADATA"]) {
                let key = if cursor.eat_keywords(&["FROM"]) {
                    cursor.string("a metadata key string")?
                } else {
                    name.value.clone()
                };
                let is_virtual = cursor.eat_keywords(&["VIRTUAL"]);
                metadata = Some((key, is_virtual));
            } else {
                let start = cursor.index();
                let end = cursor.skip_item();
                extras.push(self.verbatim(start, end));
            }
        }
        let sql_type = data_type.to_column_sql().map_err(|error| match error {
            PlanError::Unsupported(message) => {
                PlanError::Unsupported(format!("{message}, in column \"{}\"", name.folded))
            }
            other => other,
        })?;
        let kind = match metadata {
            Some((key, is_virtual)) => FlinkColumnKind::Metadata {
                data_type,
                sql_type,
                key,
                is_virtual,
            },
            None => FlinkColumnKind::Physical {
                data_type,
                sql_type,
                not_null,
            },
        };
        self.columns.push(FlinkColumn {
            name: name.folded,
            kind,
            comment,
            extra_sql: extras.join(" "),
        });
        Ok(())
    }

    fn computed_column(&mut self, cursor: &mut Cursor, name: Identifier) -> Result<()> {
        let expression_position = cursor.position();
        let (first, end) = cursor.skip_to_comma();
        // A trailing `COMMENT '..'` belongs to the column, not to the expression.
        let significant: Vec<usize> = self
            .lexed
            .significant
            .iter()
            .copied()
            .filter(|&index| index >= first && index < end)
            .collect();
        let mut expression_end = end;
        let mut comment = None;
        if let [.., keyword, text] = significant.as_slice() {
            if self.lexed.tokens[*keyword].is_keyword("COMMENT") {
                if let Token::SingleQuotedString(value) = &self.lexed.tokens[*text].token {
                    comment = Some(value.clone());
                    expression_end = *keyword;
                }
            }
        }
        let expr = self.verbatim(first, expression_end);
        if expr.is_empty() {
            return Err(syntax(
                format!(
                    "expected an expression for computed column \"{}\"",
                    name.folded
                ),
                expression_position,
            ));
        }
        self.columns.push(FlinkColumn {
            name: name.folded,
            kind: FlinkColumnKind::Computed { expr },
            comment,
            extra_sql: String::new(),
        });
        Ok(())
    }
}
