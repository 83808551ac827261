//! Names of selected struct fields. Flink names the column of `SELECT person.id FROM t`
//! (`person` a ROW column) `id`; DataFusion would name it `t.person[id]`. This AST rewrite
//! aliases every unaliased compound identifier in a select list whose first part is not a
//! relation of that SELECT's FROM clause with its last part, in every SELECT of a statement
//! (subqueries in FROM, CTEs, set operations, views).

use std::collections::HashSet;

use datafusion::sql::sqlparser::ast::{
    Expr, Query, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins,
};

/// Rewrite every query of `statement`.
pub fn alias_struct_fields(statement: &mut Statement) {
    match statement {
        Statement::Query(query) => rewrite_query(query),
        Statement::CreateView(view) => rewrite_query(&mut view.query),
        Statement::Insert(insert) => {
            if let Some(source) = insert.source.as_mut() {
                rewrite_query(source);
            }
        }
        Statement::CreateTable(create) => {
            if let Some(query) = create.query.as_mut() {
                rewrite_query(query);
            }
        }
        _ => {}
    }
}

fn rewrite_query(query: &mut Query) {
    if let Some(with) = query.with.as_mut() {
        for cte in &mut with.cte_tables {
            rewrite_query(&mut cte.query);
        }
    }
    rewrite_set_expr(&mut query.body);
}

fn rewrite_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            let mut relations = HashSet::new();
            for table in &mut select.from {
                visit_from(table, &mut relations);
            }
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) = item {
                    let first = parts
                        .first()
                        .map(|p| p.value.to_ascii_lowercase())
                        .unwrap_or_default();
                    if parts.len() >= 2 && !relations.contains(&first) {
                        if let Some(last) = parts.last().cloned() {
                            let expr = Expr::CompoundIdentifier(parts.clone());
                            *item = SelectItem::ExprWithAlias { expr, alias: last };
                        }
                    }
                }
            }
        }
        SetExpr::Query(query) => rewrite_query(query),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left);
            rewrite_set_expr(right);
        }
        _ => {}
    }
}

/// Collect the names and aliases of the relations in a FROM item, rewriting subqueries.
fn visit_from(table: &mut TableWithJoins, relations: &mut HashSet<String>) {
    visit_factor(&mut table.relation, relations);
    for join in &mut table.joins {
        visit_factor(&mut join.relation, relations);
    }
}

fn visit_factor(factor: &mut TableFactor, relations: &mut HashSet<String>) {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
                relations.insert(last.value.to_ascii_lowercase());
            }
            if let Some(alias) = alias {
                relations.insert(alias.name.value.to_ascii_lowercase());
            }
        }
        TableFactor::Derived {
            subquery, alias, ..
        } => {
            rewrite_query(subquery);
            if let Some(alias) = alias {
                relations.insert(alias.name.value.to_ascii_lowercase());
            }
        }
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            visit_from(table_with_joins, relations);
            if let Some(alias) = alias {
                relations.insert(alias.name.value.to_ascii_lowercase());
            }
        }
        other => {
            // Table functions, UNNEST and the like: their alias names a relation.
            if let TableFactor::UNNEST {
                alias: Some(alias), ..
            }
            | TableFactor::Function {
                alias: Some(alias), ..
            } = other
            {
                relations.insert(alias.name.value.to_ascii_lowercase());
            }
        }
    }
}
