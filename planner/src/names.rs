//! Schemas and the catalog keys of the relations in them.
//!
//! A relation in schema `public` (PostgreSQL's default, which Flink calls
//! `default_catalog.default_database`) is keyed by its bare name, as it always was; a
//! relation in another schema (`CREATE SCHEMA s`, or Flink's `CREATE DATABASE s`) by
//! `s.name`. Everything that names relations internally (the catalog, dataflow scans,
//! dependencies, the catalog log) uses these keys; [`key`] makes one of a DataFusion
//! reference, [`crate::Database::reference`] the reference of a key.
//!
//! A session's current schema (Flink's `USE s`, PostgreSQL's `SET search_path TO s`) is
//! where unqualified names are created; unqualified names are looked up there first, then
//! in `public` (as a search path `s, public` does). The session makes names explicit
//! before planning ([`qualify_statement`]), so plans carry the schema of every relation.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::common::TableReference;
use datafusion::sql::sqlparser::ast::{
    self, visit_relations_mut, Ident, ObjectName, ObjectNamePart, ObjectType, Statement, Visit,
    VisitMut, Visitor, VisitorMut,
};

/// PostgreSQL's default schema, Sluice's default namespace.
pub const PUBLIC: &str = "public";
/// Flink's name of the default namespace (`default_catalog.default_database`).
pub const FLINK_DEFAULT_DATABASE: &str = "default_database";
/// Schemas that hold system catalogs, not user relations.
pub const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "pg_toast"];

/// Whether `schema` (folded) names the default namespace.
pub fn is_default(schema: &str) -> bool {
    schema == PUBLIC || schema == FLINK_DEFAULT_DATABASE
}

/// The catalog key of relation `table` in `schema` (`None`: the default namespace).
pub fn join(schema: Option<&str>, table: &str) -> String {
    match schema {
        Some(schema) if !is_default(schema) => format!("{schema}.{table}"),
        _ => table.to_string(),
    }
}

/// The catalog key a reference names (an unqualified reference: a relation of `public`, as
/// the session qualifies every other unqualified name before planning).
pub fn key(reference: &TableReference) -> String {
    join(reference.schema(), reference.table())
}

/// The DataFusion reference of catalog key `key`: `schema.table` when the part before the
/// first `.` is a user schema (`schema_exists`), else the bare name.
pub fn reference(key: &str, schema_exists: impl Fn(&str) -> bool) -> TableReference {
    match key.split_once('.') {
        Some((schema, table)) if schema_exists(schema) => TableReference::partial(schema, table),
        _ => TableReference::bare(key),
    }
}

/// Folded name of one identifier: unquoted names to lower case.
pub fn fold(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

/// The catalog key of an object name: `[catalog.][schema.]name`, the schema as written or
/// else `current`.
pub fn object_key(name: &ObjectName, current: &str) -> String {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => fold(ident),
            None => part.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [] => String::new(),
        [table] => join(Some(current), table),
        [.., schema, table] => join(Some(schema), table),
    }
}

/// Make the relation names of `statement` explicit for a session whose current schema is
/// `current`: an unqualified name that a relation of `current` has, and the name a
/// `CREATE TABLE`/`CREATE VIEW` creates, gets `current.` in front. Names of CTEs and of
/// relations found only in `public` stay as written; nothing is qualified when `current` is
/// the default namespace.
///
/// Window table functions get their table argument made explicit too
/// (`sluice_tumble('t', ..)`, what the Flink front end makes of `TUMBLE(TABLE t, ..)`, takes
/// a catalog key), and one naming a CTE of the statement becomes `EXISTS (SELECT * FROM
/// cte)`, which the SQL planner plans with the CTE in scope and the function takes its input
/// plan from (a CTE is not a catalog relation the function could look up by name).
pub fn qualify_statement(statement: &mut Statement, current: &str, exists: &dyn Fn(&str) -> bool) {
    let ctes = cte_names(statement);
    let qualifying = !is_default(current);
    // An unqualified name that reads as a relation of the current schema.
    let in_current =
        |table: &str| qualifying && !ctes.contains(table) && exists(&join(Some(current), table));
    if qualifying {
        let plain = current
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let schema = if plain {
            Ident::new(current)
        } else {
            Ident::with_quote('"', current)
        };
        let qualify = |name: &mut ObjectName| {
            if name.0.len() == 1 {
                name.0.insert(0, ObjectNamePart::Identifier(schema.clone()));
            }
        };
        let is_bare_relation = |name: &ObjectName| match name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => in_current(&fold(ident)),
            _ => false,
        };
        match statement {
            Statement::CreateTable(create) => qualify(&mut create.name),
            Statement::CreateView(view) => qualify(&mut view.name),
            Statement::Drop {
                names,
                object_type: ObjectType::Table | ObjectType::View | ObjectType::MaterializedView,
                ..
            } => {
                for name in names.iter_mut() {
                    if is_bare_relation(name) {
                        qualify(name);
                    }
                }
            }
            _ => {}
        }
        let _ = visit_relations_mut(statement, |name| {
            if is_bare_relation(name) {
                qualify(name);
            }
            ControlFlow::<()>::Continue(())
        });
    }
    let mut windows = WindowInputs {
        ctes: &ctes,
        current,
        in_current: &in_current,
    };
    let _ = statement.visit(&mut windows);
}

/// The table arguments of window table functions (see [`qualify_statement`]).
struct WindowInputs<'a> {
    ctes: &'a BTreeSet<String>,
    current: &'a str,
    in_current: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for WindowInputs<'_> {
    type Break = ();
    fn pre_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<()> {
        let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(expr))) =
            window_table_argument(factor)
        else {
            return ControlFlow::Continue(());
        };
        let ast::Expr::Value(value) = &mut *expr else {
            return ControlFlow::Continue(());
        };
        let ast::Value::SingleQuotedString(table) = &mut value.value else {
            return ControlFlow::Continue(());
        };
        if self.ctes.contains(table.as_str()) {
            let sql = format!("SELECT * FROM {}", Ident::with_quote('"', table.as_str()));
            let parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
                &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
                &sql,
            );
            if let Ok(mut statements) = parsed {
                if let Some(Statement::Query(query)) = statements.pop() {
                    *expr = ast::Expr::Exists {
                        subquery: query,
                        negated: false,
                    };
                }
            }
        } else if !table.contains('.') && (self.in_current)(table) {
            *table = join(Some(self.current), table);
        }
        ControlFlow::Continue(())
    }
}

/// The first argument of a window table function call (`sluice_tumble(..)`, ..).
fn window_table_argument(factor: &mut ast::TableFactor) -> Option<&mut ast::FunctionArg> {
    let ast::TableFactor::Table {
        name,
        args: Some(args),
        ..
    } = factor
    else {
        return None;
    };
    let is_window = matches!(name.0.as_slice(), [ObjectNamePart::Identifier(ident)]
        if WINDOW_FUNCTIONS.contains(&fold(ident).as_str()));
    if is_window {
        args.args.first_mut()
    } else {
        None
    }
}

/// Names of the window table functions whose first argument names a relation.
pub const WINDOW_FUNCTIONS: &[&str] = &[
    "sluice_tumble",
    "sluice_hop",
    "sluice_cumulate",
    "sluice_session",
];

/// Names (folded) the statement's `WITH` clauses define.
fn cte_names(statement: &Statement) -> BTreeSet<String> {
    struct Ctes(BTreeSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &ast::Query) -> ControlFlow<()> {
            if let Some(with) = &query.with {
                for cte in &with.cte_tables {
                    self.0.insert(fold(&cte.alias.name));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(BTreeSet::new());
    let _ = statement.visit(&mut ctes);
    ctes.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn qualified(sql: &str, current: &str, relations: &[&str]) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        qualify_statement(&mut statement, current, &|key| relations.contains(&key));
        statement.to_string()
    }

    #[test]
    fn keys() {
        assert_eq!(join(None, "t"), "t");
        assert_eq!(join(Some("public"), "t"), "t");
        assert_eq!(join(Some("default_database"), "t"), "t");
        assert_eq!(join(Some("s"), "t"), "s.t");
        assert_eq!(key(&TableReference::partial("s", "t")), "s.t");
        assert_eq!(key(&TableReference::full("sluice", "public", "t")), "t");
        assert_eq!(key(&TableReference::bare("t")), "t");
        let name = ObjectName::from(vec![Ident::new("S"), Ident::with_quote('"', "T")]);
        assert_eq!(object_key(&name, "x"), "s.T");
        let name = ObjectName::from(vec![Ident::new("T")]);
        assert_eq!(object_key(&name, "x"), "x.t");
        assert_eq!(object_key(&name, "public"), "t");
    }

    #[test]
    fn names_of_the_current_schema_are_made_explicit() {
        // Created names always; read names when the current schema has them; CTE names and
        // names only `public` has never; nothing in `public`.
        assert_eq!(
            qualified("CREATE TABLE t (a INT)", "s", &[]),
            "CREATE TABLE s.t (a INT)"
        );
        assert_eq!(
            qualified(
                "CREATE VIEW v AS WITH c AS (SELECT 1) SELECT * FROM t, u, c, s.t",
                "s",
                &["s.t", "s.c"]
            ),
            "CREATE VIEW s.v AS WITH c AS (SELECT 1) SELECT * FROM s.t, u, c, s.t"
        );
        assert_eq!(
            qualified("INSERT INTO t SELECT * FROM u", "s", &["s.t", "s.u"]),
            "INSERT INTO s.t SELECT * FROM s.u"
        );
        assert_eq!(
            qualified("DROP TABLE t, u", "s", &["s.t"]),
            "DROP TABLE s.t, u"
        );
        assert_eq!(
            qualified("SELECT * FROM t", "public", &["t"]),
            "SELECT * FROM t"
        );
        assert_eq!(
            qualified(
                "SELECT * FROM sluice_tumble('t', 'ts', INTERVAL '1' SECOND), sluice_hop('u', 'ts')",
                "s",
                &["s.t"]
            ),
            "SELECT * FROM sluice_tumble('s.t', 'ts', INTERVAL '1' SECOND), sluice_hop('u', 'ts')"
        );
    }
}
