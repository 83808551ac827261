//! The key under which the incremental compiler shares a sub-plan that occurs more than once
//! (see `incremental.rs`): the sub-plan itself, with the names DataFusion's optimizer
//! generates renumbered in order of appearance.
//!
//! DataFusion numbers the aliases it invents per query (`__datafusion_extracted_3`,
//! `__common_expr_1`, `__correlated_sq_2`, ..), so the same sub-query written twice (Nexmark
//! q5 counts bids per auction and window on both sides of its join) gets different names in
//! its two copies and the plans differ only by them. Renumbering every such name by its first
//! appearance in a fixed traversal makes the copies equal, and only them: the renamed plan is
//! compared as a whole (operators, expressions, types), and the node built for the first copy
//! is used by both (column references are by position once compiled, and the copies'
//! schemas differ only in those names).

use std::collections::HashMap;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, TableReference};
use datafusion::logical_expr::{Expr, LogicalPlan, SubqueryAlias};

/// `plan` with its generated names renumbered, or `None` when it has none (then the plan is
/// its own key) or the renamed plan cannot be rebuilt (then it is not shared).
pub(crate) fn canonical(plan: &LogicalPlan) -> Option<LogicalPlan> {
    let mut names = Names::default();
    plan.apply(|node| {
        if let LogicalPlan::SubqueryAlias(alias) = node {
            names.note(alias.alias.table());
        }
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                match e {
                    Expr::Alias(alias) => names.note(&alias.name),
                    Expr::Column(column) => names.note_column(column),
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })
    .ok()?;
    if names.renamed.is_empty() {
        return None;
    }
    plan.clone()
        .transform_up(|node| {
            let node = match node {
                LogicalPlan::SubqueryAlias(alias) => match names.get(alias.alias.table()) {
                    Some(name) => LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(
                        alias.input,
                        TableReference::bare(name),
                    )?),
                    None => LogicalPlan::SubqueryAlias(alias),
                },
                other => other,
            };
            let renamed = node.map_expressions(|expr| {
                expr.transform(|e| match e {
                    Expr::Alias(mut alias) => match names.get(&alias.name) {
                        Some(name) => {
                            alias.name = name;
                            Ok(Transformed::yes(Expr::Alias(alias)))
                        }
                        None => Ok(Transformed::no(Expr::Alias(alias))),
                    },
                    Expr::Column(column) => Ok(match names.column(&column) {
                        Some(renamed) => Transformed::yes(Expr::Column(renamed)),
                        None => Transformed::no(Expr::Column(column)),
                    }),
                    other => Ok(Transformed::no(other)),
                })
            })?;
            Ok(Transformed::yes(renamed.data.recompute_schema()?))
        })
        .ok()
        .map(|t| t.data)
}

/// Generated names seen so far, each with its canonical replacement.
#[derive(Default)]
struct Names {
    renamed: HashMap<String, String>,
}

impl Names {
    fn note(&mut self, name: &str) {
        if let Some(prefix) = generated_prefix(name) {
            if !self.renamed.contains_key(name) {
                let canonical = format!("{prefix}_sluice{}", self.renamed.len());
                self.renamed.insert(name.to_string(), canonical);
            }
        }
    }

    fn note_column(&mut self, column: &Column) {
        if let Some(relation) = &column.relation {
            self.note(relation.table());
        }
        self.note(&column.name);
    }

    fn get(&self, name: &str) -> Option<String> {
        self.renamed.get(name).cloned()
    }

    fn column(&self, column: &Column) -> Option<Column> {
        let name = self.get(&column.name);
        let relation = column
            .relation
            .as_ref()
            .and_then(|r| self.get(r.table()).map(TableReference::bare));
        if name.is_none() && relation.is_none() {
            return None;
        }
        Some(Column::new(
            relation.or_else(|| column.relation.clone()),
            name.unwrap_or_else(|| column.name.clone()),
        ))
    }
}

/// The prefix of a name DataFusion generated (`__` + words + `_` + number), if it is one.
fn generated_prefix(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("__")?;
    let (prefix, number) = rest.rsplit_once('_')?;
    let generated = !prefix.is_empty()
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    generated.then(|| &name[..2 + prefix.len()])
}

#[cfg(test)]
mod tests {
    use super::generated_prefix;

    #[test]
    fn generated_names_are_recognised() {
        assert_eq!(
            generated_prefix("__datafusion_extracted_12"),
            Some("__datafusion_extracted")
        );
        assert_eq!(generated_prefix("__common_expr_1"), Some("__common_expr"));
        assert_eq!(
            generated_prefix("__correlated_sq_3"),
            Some("__correlated_sq")
        );
        assert_eq!(generated_prefix("__sluice_windows"), None);
        assert_eq!(generated_prefix("auction_1"), None);
        assert_eq!(generated_prefix("__x_"), None);
    }
}
