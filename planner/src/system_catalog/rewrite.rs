//! Rewrites of parsed statements so the catalog queries PostgreSQL clients send plan in
//! DataFusion. Applied to every statement right after parsing; a statement that uses none
//! of these forms is left unchanged.
//!
//! The rules, each semantics-preserving for Sluice's catalog:
//! 1. An unqualified table name that is a `pg_catalog` relation and no CTE in scope is
//!    qualified with `pg_catalog` (PostgreSQL searches `pg_catalog` first implicitly;
//!    DataFusion only searches `public`). `pg_catalog.f(...)` calls lose the qualifier.
//! 2. Casts to OID alias types become functions of the catalog: `x::regclass` is
//!    `sluice_regclass(x)` (a name is looked up; a number stays), `x::regclass::text` is
//!    `sluice_regclass_text(x)` (the name), likewise for `regtype`, `regnamespace`, `regrole`.
//!    Casts to PostgreSQL type names DataFusion lacks (`oid`, `name`, `int2vector`,
//!    `pg_catalog.int4`, `"char"`, ...) use the matching DataFusion type. A regclass value
//!    is its OID number, so `SELECT c.oid::regclass` prints a number, not a name.
//! 3. `OPERATOR(pg_catalog.~)` is the operator `~`; `COLLATE` clauses are dropped
//!    (Sluice compares strings bytewise, as collation "C").
//! 4. `ARRAY(SELECT e FROM unnest(a) x)` is `array_transform(a, x -> e)`; any other
//!    `ARRAY(SELECT e FROM ...)` is `(SELECT array_agg(e ORDER BY ...) FROM ...)` (NULL rather
//!    than `{}` when the subquery returns no rows). `generate_subscripts(a, d)` is
//!    `unnest(generate_series(1, cardinality(a)))`.
//! 5. Repeated unnamed select items (`SELECT NULL, NULL`) get distinct names, which
//!    DataFusion requires.
//! 6. Sluice's catalog has no domain, composite, range or enum types, so in
//!    `CASE WHEN t.typtype = 'd' THEN (subquery)` such a branch is never taken and its
//!    subquery (which DataFusion may not plan, e.g. a correlated recursive CTE) becomes NULL.
//!    Likewise a query block that inner-joins a catalog Sluice always leaves empty
//!    (publications, policies, statistics objects, inheritance, ...) returns no rows, so the
//!    select items holding subqueries (some are LATERAL function calls) become NULL, and a
//!    scalar subquery that does not aggregate and inner-joins such a catalog is NULL.
//! 7. A scalar subquery that does not aggregate, `(SELECT e FROM ... WHERE ...)`, is
//!    `sluice_single_value_check((SELECT sluice_single_value(e) FROM ... WHERE ...))`: the
//!    aggregate keeps the value and the row count, and the check returns the value (NULL for
//!    no row) or fails for more than one row, as PostgreSQL does, for the outer rows that
//!    use it. DataFusion plans correlated scalar subqueries only when they aggregate.
//!    Subqueries with ORDER BY, LIMIT, DISTINCT, GROUP BY or set operations are left alone.
//!    So that DataFusion can decorrelate it, a WHERE condition of the subquery that reads
//!    only outer columns moves out: `(SELECT e FROM d WHERE d.k = a.k AND a.flag)` is
//!    `CASE WHEN a.flag THEN (SELECT e FROM d WHERE d.k = a.k) END`; and an outer column
//!    equated to an inner one (`c.oid = a.attcollation`) is replaced by the inner one in the
//!    other conditions (`a.attcollation <> t.typcollation` becomes `c.oid <> t.typcollation`).
//!    A scalar subquery select item keeps the name PostgreSQL gives it (`pg_get_expr`).
//!
//! Column references are classified by their qualifier only: an unqualified column in a
//! subquery is never moved or substituted.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, BinaryOperator, CaseWhen, DataType, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList, FunctionArguments, Ident,
    LambdaFunction, LambdaFunctionParameter, LambdaSyntax, ObjectName, ObjectNamePart,
    OneOrManyWithParens, OrderBy, OrderByExpr, OrderByKind, Query, Select, SelectItem, SetExpr,
    TableFactor, TableWithJoins, Value, VisitMut, VisitorMut,
};

use super::pg_catalog;
use super::specs::PG_CATALOG_RELATIONS;

/// Rewrite one parsed statement (see the module documentation).
#[cfg(test)]
pub(crate) fn rewrite_statement(statement: DFStatement) -> DFStatement {
    rewrite_noting_parameters(statement).0
}

/// [`rewrite_statement`], also returning the PostgreSQL type of each parameter the
/// statement casts to `oid` or `oid[]` (`$1::oid[]`), by parameter number (1-based).
/// The cast becomes one to `INT`/`INT[]`, so the inferred type of the parameter alone would
/// describe it as `int4`/`int4[]`; clients encode what the server describes, and asyncpg
/// knows `oid[]` (its type introspection query's parameter) but not `int4[]` without
/// introspecting it first.
pub(crate) fn rewrite_noting_parameters(
    statement: DFStatement,
) -> (DFStatement, std::collections::BTreeMap<usize, u32>) {
    match statement {
        DFStatement::Statement(mut inner) => {
            let mut rewriter = CatalogRewriter::default();
            let _ = inner.visit(&mut rewriter);
            (DFStatement::Statement(inner), rewriter.oid_parameters)
        }
        DFStatement::Explain(mut explain) => {
            let inner = explain.statement.as_ref().clone();
            let (rewritten, parameters) = rewrite_noting_parameters(inner);
            *explain.statement = rewritten;
            (DFStatement::Explain(explain), parameters)
        }
        other => (other, Default::default()),
    }
}

/// The PostgreSQL type of a parameter cast to `data_type`, when that is `oid` or `oid[]`.
fn oid_parameter_type(data_type: &DataType) -> Option<u32> {
    let is_oid = |data_type: &DataType| match data_type {
        DataType::Custom(name, _) => pg_catalog_type_name(name).is_some_and(|t| t == "oid"),
        _ => false,
    };
    match data_type {
        DataType::Array(ArrayElemTypeDef::SquareBracket(element, _)) if is_oid(element) => {
            Some(super::types::oids::OID_ARRAY)
        }
        other if is_oid(other) => Some(super::types::oids::OID),
        _ => None,
    }
}

/// PostgreSQL's reserved key words: identifiers that must be quoted.
pub(crate) fn is_reserved_keyword(word: &str) -> bool {
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ];
    RESERVED.contains(&word)
}

fn is_pg_catalog_relation(name: &str) -> bool {
    PG_CATALOG_RELATIONS.iter().any(|r| r.name == name)
}

/// Catalogs whose rows Sluice never has (their rows function is `None`).
fn is_always_empty(name: &str) -> bool {
    is_pg_catalog_relation(name) && pg_catalog::rows_function(name).is_none()
}

/// The normalized (case-folded unless quoted) value of an identifier part.
fn part_name(part: &ObjectNamePart) -> Option<String> {
    let ident = part.as_ident()?;
    Some(if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    })
}

fn names(name: &ObjectName) -> Vec<String> {
    name.0.iter().filter_map(part_name).collect()
}

#[derive(Default)]
struct CatalogRewriter {
    /// CTE names of the enclosing queries, innermost last.
    cte_scopes: Vec<Vec<String>>,
    /// Parameters cast to `oid` or `oid[]`, with that type (see
    /// [`rewrite_noting_parameters`]).
    oid_parameters: std::collections::BTreeMap<usize, u32>,
}

impl CatalogRewriter {
    fn is_cte(&self, name: &str) -> bool {
        self.cte_scopes
            .iter()
            .any(|scope| scope.iter().any(|n| n == name))
    }

    /// The `pg_catalog` relation a FROM-clause table names, if it names one.
    fn catalog_relation(&self, name: &ObjectName) -> Option<String> {
        match names(name).as_slice() {
            [table] if !self.is_cte(table) && is_pg_catalog_relation(table) => Some(table.clone()),
            [schema, table] if schema == "pg_catalog" => Some(table.clone()),
            _ => None,
        }
    }

    /// Whether a scalar subquery returns no rows because it inner-joins an always-empty
    /// catalog (and does not aggregate, which would make one row).
    fn reads_always_empty(&self, query: &Query) -> bool {
        let SetExpr::Select(select) = query.body.as_ref() else {
            return false;
        };
        let aggregates = select.projection.iter().any(|item| match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                calls_aggregate(expr)
            }
            _ => true,
        });
        let grouped = !matches!(&select.group_by, datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty());
        !aggregates && !grouped && self.joins_always_empty(select)
    }

    /// Whether a block inner-joins a catalog Sluice always leaves empty.
    fn joins_always_empty(&self, select: &Select) -> bool {
        let mut inner_relations = select.from.iter().flat_map(|from: &TableWithJoins| {
            std::iter::once(&from.relation).chain(from.joins.iter().filter_map(|join| {
                use datafusion::sql::sqlparser::ast::JoinOperator as J;
                matches!(
                    join.join_operator,
                    J::Join(_) | J::Inner(_) | J::CrossJoin(_)
                )
                .then_some(&join.relation)
            }))
        });
        inner_relations.any(|relation| match relation {
            TableFactor::Table {
                name, args: None, ..
            } => self
                .catalog_relation(name)
                .is_some_and(|table| is_always_empty(&table)),
            _ => false,
        })
    }

    /// Rule 6, second part: blocks that inner-join an always-empty catalog.
    fn blank_subqueries_of_empty_block(&self, select: &mut Select) {
        if !self.joins_always_empty(select) {
            return;
        }
        for item in select.projection.iter_mut() {
            let (expr, alias) = match item {
                SelectItem::UnnamedExpr(expr) => (expr, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
                _ => continue,
            };
            if !contains_subquery(expr) {
                continue;
            }
            let alias = alias.unwrap_or_else(|| Ident::with_quote('"', expr.to_string()));
            *item = SelectItem::ExprWithAlias {
                expr: null_expr(),
                alias,
            };
        }
    }
}

impl VisitorMut for CatalogRewriter {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        let names = query
            .with
            .as_ref()
            .map(|with| {
                with.cte_tables
                    .iter()
                    .map(|cte| {
                        if cte.alias.name.quote_style.is_some() {
                            cte.alias.name.value.clone()
                        } else {
                            cte.alias.name.value.to_ascii_lowercase()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.cte_scopes.push(names);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.cte_scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        self.blank_subqueries_of_empty_block(select);
        name_repeated_items(&mut select.projection);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, args, .. } = factor {
            match args {
                // Rule 1: pg_class -> pg_catalog.pg_class.
                None => {
                    if name.0.len() == 1 {
                        if let Some(table) = self.catalog_relation(name) {
                            *name =
                                ObjectName::from(vec![Ident::new("pg_catalog"), Ident::new(table)]);
                        }
                    }
                }
                // pg_catalog.unnest(...) -> unnest(...).
                Some(_) => strip_pg_catalog(name),
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let replacement = match expr {
            Expr::Cast {
                expr: inner,
                data_type,
                ..
            } => {
                if let Expr::Value(value) = inner.as_ref() {
                    if let Value::Placeholder(name) = &value.value {
                        let number = name.strip_prefix('$').and_then(|n| n.parse().ok());
                        if let (Some(number), Some(pg_type)) =
                            (number, oid_parameter_type(data_type))
                        {
                            self.oid_parameters.insert(number, pg_type);
                        }
                    }
                }
                rewrite_cast(inner, data_type)
            }
            Expr::BinaryOp { op, .. } => {
                if let BinaryOperator::PGCustomBinaryOperator(parts) = op {
                    if let Some(standard) = parts.last().and_then(|o| standard_operator(o)) {
                        *op = standard;
                    }
                }
                None
            }
            Expr::Collate { expr: inner, .. } => Some(inner.as_ref().clone()),
            Expr::Function(function) => rewrite_function(function),
            Expr::Subquery(query) if self.reads_always_empty(query) => Some(null_expr()),
            Expr::Subquery(query) => {
                let outer_only = hoist_outer_conditions(query);
                let value = if aggregate_scalar_subquery(query) {
                    call(
                        super::functions::SINGLE_VALUE_CHECK,
                        vec![Expr::Subquery(query.clone())],
                    )
                } else {
                    Expr::Subquery(query.clone())
                };
                match outer_only {
                    Some(condition) => Some(Expr::Case {
                        case_token: AttachedToken::empty(),
                        end_token: AttachedToken::empty(),
                        operand: None,
                        conditions: vec![CaseWhen {
                            condition,
                            result: value,
                        }],
                        else_result: None,
                    }),
                    None => Some(value),
                }
            }
            Expr::Case { conditions, .. } => {
                blank_impossible_type_branches(conditions);
                None
            }
            _ => None,
        };
        if let Some(replacement) = replacement {
            *expr = replacement;
        }
        ControlFlow::Continue(())
    }
}

fn strip_pg_catalog(name: &mut ObjectName) {
    if name.0.len() == 2 && part_name(&name.0[0]).as_deref() == Some("pg_catalog") {
        name.0.remove(0);
    }
}

/// A call `name(args...)`.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn null_expr() -> Expr {
    Expr::value(Value::Null)
}

/// The single argument of a call to `name`, if `expr` is one.
fn sole_argument_of<'a>(expr: &'a Expr, name: &str) -> Option<&'a Expr> {
    let Expr::Function(function) = expr else {
        return None;
    };
    if names(&function.name) != [name] {
        return None;
    }
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))] => Some(argument),
        _ => None,
    }
}

/// How a cast target is handled.
enum CastTarget {
    /// An OID alias type: `regclass`, `regtype`, `regnamespace`, `regrole`.
    Alias(&'static str),
    /// A type DataFusion understands, standing for a PostgreSQL one.
    Replace(DataType),
    /// A text type (the name of an OID alias cast to text is that object's name).
    Text(Option<DataType>),
    Keep,
}

/// The name of a type written unqualified or qualified with `pg_catalog` (`oid`,
/// `pg_catalog.int4`); `None` for a type of another schema.
fn pg_catalog_type_name(name: &ObjectName) -> Option<String> {
    let mut parts = names(name);
    let qualified_ok = parts.len() == 1 || parts.first().is_some_and(|s| s == "pg_catalog");
    parts.pop().filter(|_| qualified_ok)
}

fn cast_target(data_type: &DataType) -> CastTarget {
    match data_type {
        DataType::Regclass => CastTarget::Alias("regclass"),
        DataType::Text | DataType::Varchar(_) | DataType::CharacterVarying(_) => {
            CastTarget::Text(None)
        }
        DataType::Custom(name, _) => {
            let Some(type_name) = pg_catalog_type_name(name) else {
                return CastTarget::Keep;
            };
            match type_name.as_str() {
                "regclass" => CastTarget::Alias("regclass"),
                "regtype" => CastTarget::Alias("regtype"),
                "regnamespace" => CastTarget::Alias("regnamespace"),
                "regrole" => CastTarget::Alias("regrole"),
                "text" | "name" | "varchar" | "bpchar" | "char" | "pg_node_tree" | "regproc"
                | "regprocedure" => CastTarget::Text(Some(DataType::Text)),
                "oid" | "int4" | "xid" | "cid" => CastTarget::Replace(DataType::Int(None)),
                "int2" => CastTarget::Replace(DataType::SmallInt(None)),
                "int8" => CastTarget::Replace(DataType::BigInt(None)),
                "float4" => CastTarget::Replace(DataType::Real),
                "float8" => CastTarget::Replace(DataType::Float8),
                "bool" => CastTarget::Replace(DataType::Boolean),
                "int2vector" => CastTarget::Replace(array_of(DataType::SmallInt(None))),
                "oidvector" => CastTarget::Replace(array_of(DataType::Int(None))),
                _ => CastTarget::Keep,
            }
        }
        DataType::Array(ArrayElemTypeDef::SquareBracket(element, size)) => {
            let element = match cast_target(element) {
                CastTarget::Alias(_) => DataType::Int(None),
                CastTarget::Replace(t) | CastTarget::Text(Some(t)) => t,
                CastTarget::Text(None) | CastTarget::Keep => return CastTarget::Keep,
            };
            CastTarget::Replace(DataType::Array(ArrayElemTypeDef::SquareBracket(
                Box::new(element),
                *size,
            )))
        }
        _ => CastTarget::Keep,
    }
}

fn array_of(element: DataType) -> DataType {
    DataType::Array(ArrayElemTypeDef::SquareBracket(Box::new(element), None))
}

/// Rule 2.
fn rewrite_cast(inner: &mut Expr, data_type: &mut DataType) -> Option<Expr> {
    match cast_target(data_type) {
        CastTarget::Alias(kind) => Some(call(&format!("sluice_{kind}"), vec![inner.clone()])),
        CastTarget::Text(replacement) => {
            for kind in ["regclass", "regtype", "regnamespace", "regrole"] {
                if let Some(argument) = sole_argument_of(inner, &format!("sluice_{kind}")) {
                    return Some(call(&format!("sluice_{kind}_text"), vec![argument.clone()]));
                }
            }
            if let Some(replacement) = replacement {
                *data_type = replacement;
            }
            None
        }
        CastTarget::Replace(replacement) => {
            *data_type = replacement;
            None
        }
        CastTarget::Keep => None,
    }
}

/// `OPERATOR(pg_catalog.op)` as the plain operator.
fn standard_operator(operator: &str) -> Option<BinaryOperator> {
    Some(match operator {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "~~" => BinaryOperator::PGLikeMatch,
        "~~*" => BinaryOperator::PGILikeMatch,
        "!~~" => BinaryOperator::PGNotLikeMatch,
        "!~~*" => BinaryOperator::PGNotILikeMatch,
        "=" => BinaryOperator::Eq,
        "<>" | "!=" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        ">" => BinaryOperator::Gt,
        "<=" => BinaryOperator::LtEq,
        ">=" => BinaryOperator::GtEq,
        "||" => BinaryOperator::StringConcat,
        "+" => BinaryOperator::Plus,
        "-" => BinaryOperator::Minus,
        "*" => BinaryOperator::Multiply,
        "/" => BinaryOperator::Divide,
        "%" => BinaryOperator::Modulo,
        "@>" => BinaryOperator::AtArrow,
        "<@" => BinaryOperator::ArrowAt,
        "&&" => BinaryOperator::PGOverlap,
        _ => return None,
    })
}

/// Rules 1 (qualified calls) and 4.
fn rewrite_function(function: &mut Function) -> Option<Expr> {
    strip_pg_catalog(&mut function.name);
    let name = names(&function.name);
    match (name.as_slice(), &function.args) {
        ([array], FunctionArguments::Subquery(query)) if array == "array" => array_subquery(query),
        ([subscripts], FunctionArguments::List(list)) if subscripts == "generate_subscripts" => {
            let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(array))) = list.args.first() else {
                return None;
            };
            let length = call("cardinality", vec![array.clone()]);
            let series = call(
                "generate_series",
                vec![Expr::value(Value::Number("1".into(), false)), length],
            );
            Some(call("unnest", vec![series]))
        }
        _ => None,
    }
}

/// Rule 4: `ARRAY(subquery)`.
fn array_subquery(query: &Query) -> Option<Expr> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if query.with.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
        || select.distinct.is_some()
        || select.having.is_some()
        || !matches!(&select.group_by, datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty())
    {
        return None;
    }
    let [item] = select.projection.as_slice() else {
        return None;
    };
    let element = match item {
        SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr.clone(),
        _ => return None,
    };
    // ARRAY(SELECT e FROM unnest(a) x) -> array_transform(a, x -> e)
    if let ([from], None, None) = (
        select.from.as_slice(),
        select.selection.as_ref(),
        query.order_by.as_ref(),
    ) {
        if let (
            TableFactor::Table {
                name,
                args: Some(args),
                alias: Some(alias),
                ..
            },
            true,
        ) = (&from.relation, from.joins.is_empty())
        {
            if names(name) == ["unnest"] && args.args.len() == 1 {
                let parameter = alias
                    .columns
                    .first()
                    .map(|c| c.name.clone())
                    .unwrap_or_else(|| alias.name.clone());
                if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(array))) = args.args.first()
                {
                    let lambda = Expr::Lambda(LambdaFunction {
                        params: OneOrManyWithParens::One(LambdaFunctionParameter {
                            name: parameter,
                            data_type: None,
                        }),
                        body: Box::new(element),
                        syntax: LambdaSyntax::Arrow,
                    });
                    return Some(call("array_transform", vec![array.clone(), lambda]));
                }
            }
        }
    }
    // ARRAY(SELECT e FROM ... [ORDER BY ...]) -> (SELECT array_agg(e ORDER BY ...) FROM ...)
    let order: Vec<OrderByExpr> = match &query.order_by {
        None => vec![],
        Some(OrderBy {
            kind: OrderByKind::Expressions(items),
            ..
        }) => items
            .iter()
            .map(|item| {
                let positional = matches!(&item.expr, Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if n == "1"));
                OrderByExpr {
                    expr: if positional {
                        element.clone()
                    } else {
                        item.expr.clone()
                    },
                    ..item.clone()
                }
            })
            .collect(),
        Some(_) => return None,
    };
    let mut aggregate = call("array_agg", vec![element]);
    if let Expr::Function(Function {
        args: FunctionArguments::List(list),
        ..
    }) = &mut aggregate
    {
        if !order.is_empty() {
            list.clauses.push(FunctionArgumentClause::OrderBy(order));
        }
    }
    let mut select = select.clone();
    select.projection = vec![SelectItem::UnnamedExpr(aggregate)];
    let mut query = query.clone();
    query.order_by = None;
    query.body = Box::new(SetExpr::Select(select));
    Some(Expr::Subquery(Box::new(query)))
}

/// Aggregate functions a select item may already call (rule 7 leaves those alone).
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "first_value",
    "last_value",
    "stddev",
    "variance",
    "bit_and",
    "bit_or",
    "median",
    "approx_distinct",
];

/// Rule 7: wrap the select item of a non-aggregating scalar subquery in
/// `sluice_single_value`; true when it did (the caller then checks the result with
/// `sluice_single_value_check`).
fn aggregate_scalar_subquery(query: &mut Query) -> bool {
    if query.order_by.is_some() || query.limit_clause.is_some() || query.fetch.is_some() {
        return false;
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let grouped = !matches!(&select.group_by, datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty());
    if grouped || select.having.is_some() || select.distinct.is_some() {
        return false;
    }
    let [item] = select.projection.as_mut_slice() else {
        return false;
    };
    let (expr, alias) = match item {
        SelectItem::UnnamedExpr(expr) => (expr.clone(), None),
        SelectItem::ExprWithAlias { expr, alias } => (expr.clone(), Some(alias.clone())),
        _ => return false,
    };
    if calls_aggregate(&expr) {
        return false;
    }
    let alias = alias.unwrap_or_else(|| Ident::with_quote('"', column_name(&expr)));
    *item = SelectItem::ExprWithAlias {
        expr: call(super::functions::SINGLE_VALUE, vec![expr]),
        alias,
    };
    true
}

/// The name PostgreSQL gives an unnamed select item.
fn column_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .map(|i| i.value.clone())
            .unwrap_or_else(|| "?column?".into()),
        Expr::Function(function) => names(&function.name)
            .last()
            .cloned()
            .unwrap_or_else(|| "?column?".into()),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => column_name(expr),
        Expr::Case { .. } => "case".into(),
        _ => "?column?".into(),
    }
}

/// Where a column reference points, seen from a subquery.
#[derive(Debug, PartialEq, Eq)]
enum Scope {
    /// A qualified column of the subquery's own FROM items.
    Inner,
    /// A column qualified with a name the subquery's FROM does not define.
    Outer,
    /// Unqualified: could be either.
    Unknown,
}

/// The names a FROM clause defines (aliases, table names with and without schema).
fn local_qualifiers(select: &Select) -> HashSet<String> {
    let mut qualifiers = HashSet::new();
    let factors = select.from.iter().flat_map(|from| {
        std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation))
    });
    for factor in factors {
        let (name, alias) = match factor {
            TableFactor::Table { name, alias, .. } => (Some(name), alias),
            TableFactor::Derived { alias, .. } | TableFactor::UNNEST { alias, .. } => (None, alias),
            TableFactor::Function { alias, .. } | TableFactor::TableFunction { alias, .. } => {
                (None, alias)
            }
            _ => (None, &None),
        };
        if let Some(alias) = alias {
            qualifiers.insert(alias.name.value.to_ascii_lowercase());
        } else if let Some(name) = name {
            let parts = names(name);
            if let Some(last) = parts.last() {
                qualifiers.insert(last.clone());
            }
            qualifiers.insert(parts.join("."));
        }
    }
    qualifiers
}

/// The scopes of the column references of `expr`; `None` if it holds a subquery.
fn reference_scopes(expr: &Expr, local: &HashSet<String>) -> Option<Vec<Scope>> {
    struct Collector<'a> {
        local: &'a HashSet<String>,
        scopes: Vec<Scope>,
        subquery: bool,
    }
    impl datafusion::sql::sqlparser::ast::Visitor for Collector<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Identifier(_) => self.scopes.push(Scope::Unknown),
                Expr::CompoundIdentifier(parts) if parts.len() > 1 => {
                    let qualifier = parts[..parts.len() - 1]
                        .iter()
                        .map(|p| p.value.to_ascii_lowercase())
                        .collect::<Vec<_>>()
                        .join(".");
                    self.scopes.push(if self.local.contains(&qualifier) {
                        Scope::Inner
                    } else {
                        Scope::Outer
                    });
                }
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
                    self.subquery = true;
                    return ControlFlow::Break(());
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut collector = Collector {
        local,
        scopes: vec![],
        subquery: false,
    };
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(expr, &mut collector);
    (!collector.subquery).then_some(collector.scopes)
}

fn split_conjunction(expr: Expr, conjuncts: &mut Vec<Expr>) {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_conjunction(*left, conjuncts);
            split_conjunction(*right, conjuncts);
        }
        Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_conjunction(*inner, conjuncts)
        }
        other => conjuncts.push(other),
    }
}

fn conjunction(conjuncts: Vec<Expr>) -> Option<Expr> {
    conjuncts.into_iter().reduce(|left, right| Expr::BinaryOp {
        left: Box::new(left),
        op: BinaryOperator::And,
        right: Box::new(right),
    })
}

/// Rule 7, decorrelation help: move outer-only WHERE conditions out of a scalar subquery
/// (returned, to guard it), and substitute outer columns equated to inner ones.
fn hoist_outer_conditions(query: &mut Query) -> Option<Expr> {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    let local = local_qualifiers(select);
    let selection = select.selection.take()?;
    let mut conjuncts = vec![];
    split_conjunction(selection, &mut conjuncts);
    let mut outer_only = vec![];
    let mut kept = vec![];
    // Outer column text -> the inner column it equals.
    let mut equal: Vec<(String, Expr)> = vec![];
    for conjunct in conjuncts {
        let scopes = reference_scopes(&conjunct, &local);
        match scopes {
            Some(scopes) if !scopes.is_empty() && scopes.iter().all(|s| *s == Scope::Outer) => {
                outer_only.push(conjunct)
            }
            _ => {
                if let Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } = &conjunct
                {
                    let scope = |e: &Expr| match e {
                        Expr::CompoundIdentifier(_) => {
                            reference_scopes(e, &local).and_then(|s| s.into_iter().next())
                        }
                        _ => None,
                    };
                    match (scope(left), scope(right)) {
                        (Some(Scope::Inner), Some(Scope::Outer)) => {
                            equal.push((right.to_string(), left.as_ref().clone()))
                        }
                        (Some(Scope::Outer), Some(Scope::Inner)) => {
                            equal.push((left.to_string(), right.as_ref().clone()))
                        }
                        _ => {}
                    }
                }
                kept.push(conjunct)
            }
        }
    }
    let kept = kept
        .into_iter()
        .map(|conjunct| {
            let is_equality = matches!(
                &conjunct,
                Expr::BinaryOp {
                    op: BinaryOperator::Eq,
                    ..
                }
            );
            let mixed = reference_scopes(&conjunct, &local)
                .is_some_and(|s| s.contains(&Scope::Outer) && s.contains(&Scope::Inner));
            if is_equality || !mixed || equal.is_empty() {
                return conjunct;
            }
            let mut conjunct = conjunct;
            let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut conjunct, |e| {
                if matches!(e, Expr::CompoundIdentifier(_)) {
                    let text = e.to_string();
                    if let Some((_, inner)) = equal.iter().find(|(outer, _)| *outer == text) {
                        *e = inner.clone();
                    }
                }
                ControlFlow::<()>::Continue(())
            });
            conjunct
        })
        .collect();
    select.selection = conjunction(kept);
    conjunction(outer_only)
}

/// Whether an expression calls an aggregate or window function (outside subqueries).
fn calls_aggregate(expr: &Expr) -> bool {
    struct Finder(bool);
    impl datafusion::sql::sqlparser::ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::Function(function) = expr {
                let name = names(&function.name);
                let aggregate = name.last().is_some_and(|n| {
                    AGGREGATES.contains(&n.as_str()) || n == super::functions::SINGLE_VALUE
                });
                if aggregate || function.over.is_some() {
                    self.0 = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
            // Aggregates inside nested subqueries are theirs.
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(false);
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(expr, &mut finder);
    finder.0
}

/// Rule 5: give repeated unnamed select items distinct names.
fn name_repeated_items(projection: &mut [SelectItem]) {
    // A scalar subquery is named after its select item, as PostgreSQL names it (the
    // rewrites of rule 7 would otherwise show in the name).
    for item in projection.iter_mut() {
        if let SelectItem::UnnamedExpr(Expr::Subquery(query)) = item {
            if let SetExpr::Select(select) = query.body.as_ref() {
                let name = match select.projection.as_slice() {
                    [SelectItem::ExprWithAlias { alias, .. }] => alias.value.clone(),
                    [SelectItem::UnnamedExpr(expr)] => column_name(expr),
                    _ => continue,
                };
                *item = SelectItem::ExprWithAlias {
                    expr: Expr::Subquery(query.clone()),
                    alias: Ident::with_quote('"', name),
                };
            }
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    for item in projection.iter_mut() {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        let text = expr.to_string();
        if seen.insert(text.clone()) {
            continue;
        }
        let mut counter = 2;
        let alias = loop {
            let candidate = format!("{text}_{counter}");
            if seen.insert(candidate.clone()) {
                break candidate;
            }
            counter += 1;
        };
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('"', alias),
        };
    }
}

/// Rule 6, first part.
fn blank_impossible_type_branches(conditions: &mut [CaseWhen]) {
    for branch in conditions.iter_mut() {
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = &branch.condition
        else {
            continue;
        };
        let column = match left.as_ref() {
            Expr::Identifier(ident) => ident.value.to_ascii_lowercase(),
            Expr::CompoundIdentifier(parts) => parts
                .last()
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default(),
            _ => continue,
        };
        let Expr::Value(value) = right.as_ref() else {
            continue;
        };
        let Value::SingleQuotedString(kind) = &value.value else {
            continue;
        };
        if column == "typtype"
            && matches!(kind.as_str(), "d" | "c" | "r" | "m" | "e")
            && contains_subquery(&branch.result)
        {
            branch.result = null_expr();
        }
    }
}

/// Whether an expression holds a subquery (scalar, EXISTS, IN, or `ARRAY(...)`).
fn contains_subquery(expr: &Expr) -> bool {
    struct Finder(bool);
    impl datafusion::sql::sqlparser::ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            let found = match expr {
                Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => true,
                Expr::Function(function) => {
                    matches!(function.args, FunctionArguments::Subquery(_))
                }
                _ => false,
            };
            if found {
                self.0 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(false);
    let _ = datafusion::sql::sqlparser::ast::Visit::visit(expr, &mut finder);
    finder.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;

    fn rewritten(sql: &str) -> String {
        let statements = DFParser::parse_sql_with_dialect(sql, &PostgreSqlDialect {})
            .map(|s| s.into_iter().collect::<Vec<_>>())
            .unwrap_or_default();
        statements
            .into_iter()
            .map(|s| rewrite_statement(s).to_string())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn unqualified_catalog_relations_are_qualified_unless_shadowed() {
        assert_eq!(
            rewritten("SELECT relname FROM pg_class c JOIN t ON true"),
            "SELECT relname FROM pg_catalog.pg_class c JOIN t ON true"
        );
        assert_eq!(
            rewritten("WITH pg_class AS (SELECT 1) SELECT * FROM pg_class"),
            "WITH pg_class AS (SELECT 1) SELECT * FROM pg_class"
        );
    }

    #[test]
    fn oid_alias_casts_become_catalog_functions() {
        assert_eq!(
            rewritten("SELECT c.oid::pg_catalog.regclass::pg_catalog.text, 't'::regclass"),
            "SELECT sluice_regclass_text(c.oid), sluice_regclass('t')"
        );
        assert_eq!(
            rewritten("SELECT '1'::pg_catalog.oid, $1::oid[]"),
            "SELECT '1'::INT, $1::INT[]"
        );
    }

    #[test]
    fn operators_collations_and_qualified_functions() {
        assert_eq!(
            rewritten(
                "SELECT pg_catalog.format_type(1, 2) WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default"
            ),
            "SELECT format_type(1, 2) WHERE c.relname ~ '^(t)$'"
        );
    }

    #[test]
    fn array_subqueries() {
        assert_eq!(
            rewritten("SELECT array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x)"),
            "SELECT array_transform(tc.reloptions, x -> 'toast.' || x)"
        );
        assert_eq!(
            rewritten("SELECT array(select rolname from pg_roles where oid = 1 order by 1)"),
            "SELECT (SELECT array_agg(rolname ORDER BY rolname) FROM pg_catalog.pg_roles WHERE oid = 1)"
        );
    }

    #[test]
    fn scalar_subqueries_aggregate_and_hoist_outer_conditions() {
        assert_eq!(
            rewritten(
                "SELECT (SELECT d.x FROM d WHERE d.k = a.k AND a.flag AND a.c <> d.c AND d.c = a.c) FROM a"
            ),
            "SELECT CASE WHEN a.flag THEN sluice_single_value_check((SELECT sluice_single_value(d.x) AS \"x\" FROM d WHERE d.k = a.k AND d.c <> d.c AND d.c = a.c)) END AS \"x\" FROM a"
        );
        // Aggregating, limited and always-empty subqueries are left alone or known empty.
        assert_eq!(
            rewritten("SELECT (SELECT max(x) FROM d), (SELECT x FROM d LIMIT 1)"),
            "SELECT (SELECT max(x) FROM d) AS \"max\", (SELECT x FROM d LIMIT 1) AS \"x\""
        );
        assert_eq!(
            rewritten("SELECT (SELECT seqstart FROM pg_sequence WHERE seqrelid = c.oid) FROM c"),
            "SELECT NULL AS \"seqstart\" FROM c"
        );
    }

    #[test]
    fn repeated_unnamed_items_get_names() {
        assert_eq!(
            rewritten("SELECT a, NULL, NULL FROM t"),
            "SELECT a, NULL, NULL AS \"NULL_2\" FROM t"
        );
    }
}
