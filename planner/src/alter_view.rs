//! `ALTER VIEW name [(columns)] AS query`: redefine a view, as Flink does (DataSQRL emits it
//! when a script adds or replaces columns of a table it defined before).
//!
//! Flink keeps a view as its (expanded) query text and plans it again wherever it is used,
//! so the views that read an altered view see its new definition while the columns they
//! chose stay as they were. Sluice keeps a view as a logical plan into which DataFusion
//! inlined the plans of the views it reads: altering a view replaces its old plan by the new
//! one in every view that reads it, directly or through other views, and recomputes their
//! schemas.
//!
//! Invariants:
//! - Only plain views can be altered; the statement is all or nothing: when the new query
//!   or a dependent view does not plan (a column it reads is gone), the catalog is
//!   unchanged.
//! - A view that a continuous query (materialized view or job) reads, directly or through
//!   other views, cannot be altered: the running dataflow was compiled from the old
//!   definition and would silently keep it.
//! - The new definition cannot read the view itself or a view that reads it (no cycles).

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::logical_expr::{LogicalPlan, SubqueryAlias};
use datafusion::sql::sqlparser::ast;

use crate::database::{view_provider, EntryKind};
use crate::error::{PlanError, Result};
use crate::session::{command, dependents_closure, normalize_ident, normalize_object_name};
use crate::session::{Session, StatementResult};

impl Session {
    /// `ALTER VIEW name [(columns)] AS query` (see the module docs).
    pub(crate) async fn alter_view(
        &self,
        name: &ast::ObjectName,
        columns: &[ast::Ident],
        query: &ast::Query,
        with_options: &[ast::SqlOption],
        sql: &str,
    ) -> Result<StatementResult> {
        if !with_options.is_empty() {
            return Err(PlanError::Unsupported("ALTER VIEW .. WITH (..)".into()));
        }
        let mut catalog = self.database.catalog.write().await;
        let name = normalize_object_name(name);
        let Some(entry) = catalog.entries.get(&name) else {
            return Err(PlanError::UndefinedTable(format!(
                "view \"{name}\" does not exist"
            )));
        };
        if !matches!(entry.kind, EntryKind::View) {
            return Err(PlanError::WrongObjectType(format!(
                "\"{name}\" is a {}, not a view",
                entry.kind_name()
            )));
        }
        // The views reading this one, directly or not, in creation order.
        let mut dependents: Vec<(u64, String)> = Vec::new();
        for dependent in dependents_closure(&catalog, &name).into_iter().skip(1) {
            let Some(entry) = catalog.entries.get(&dependent) else {
                continue;
            };
            if !matches!(entry.kind, EntryKind::View) {
                return Err(PlanError::DependentObjects(format!(
                    "cannot alter view {name} because {} {dependent} reads it and runs its \
                     current definition; drop {dependent} first",
                    entry.kind_name()
                )));
            }
            dependents.push((entry.id, dependent));
        }
        dependents.sort();

        let columns: Vec<String> = columns.iter().map(normalize_ident).collect();
        let (plan, depends_on) = self.plan_view_query(&catalog, query, &columns, sql).await?;
        let depends_on = self.plain_view_dependencies(&plan, depends_on, sql)?;
        if let Some(cycle) = depends_on
            .iter()
            .find(|read| **read == name || dependents.iter().any(|(_, d)| d == *read))
        {
            return Err(PlanError::InvalidDefinition(format!(
                "the new definition of view {name} reads {cycle}, which reads {name}: \
                 a view cannot read itself"
            )));
        }
        let definition = query.to_string();

        // New providers for the view and each dependent, each rebound to the ones before it.
        let mut providers: Vec<(String, Arc<dyn TableProvider>)> = Vec::new();
        let mut replacements = vec![Replacement {
            view: name.clone(),
            old: self.view_plan(&name, sql).await?,
            new: plan.clone(),
        }];
        providers.push((name.clone(), view_provider(plan, &definition)));
        let mut rebound: Vec<(String, BTreeSet<String>)> = Vec::new();
        for (_, dependent) in &dependents {
            let old_plan = self.view_plan(dependent, sql).await?;
            let cannot_read = |error: PlanError| {
                PlanError::InvalidDefinition(format!(
                    "view {dependent} cannot read the new definition of view {name}: {error}"
                ))
            };
            let plan = rebind_views(old_plan.clone(), &replacements).map_err(cannot_read)?;
            let entry = catalog.entries.get(dependent);
            let entry_definition = entry
                .and_then(|entry| entry.definition.clone())
                .unwrap_or_default();
            let reads = entry
                .map(|entry| entry.depends_on.clone())
                .unwrap_or_default();
            let reads = self
                .plain_view_dependencies(&plan, reads, &entry_definition)
                .map_err(cannot_read)?;
            replacements.push(Replacement {
                view: dependent.clone(),
                old: old_plan,
                new: plan.clone(),
            });
            providers.push((dependent.clone(), view_provider(plan, &entry_definition)));
            rebound.push((dependent.clone(), reads));
        }

        // Everything planned: swap the providers and the catalog entries.
        for (relation, provider) in providers {
            self.database.deregister(&relation)?;
            self.database.register(&relation, provider)?;
        }
        if let Some(entry) = catalog.entries.get_mut(&name) {
            entry.definition = Some(definition);
            entry.depends_on = depends_on;
        }
        for (dependent, reads) in rebound {
            if let Some(entry) = catalog.entries.get_mut(&dependent) {
                entry.depends_on = reads;
            }
        }
        catalog.generation += 1;
        tracing::debug!(view = %name, dependents = dependents.len(), "view altered");
        Ok(command("ALTER VIEW"))
    }
}

impl Session {
    /// The logical plan a view is registered with.
    async fn view_plan(&self, name: &str, sql: &str) -> Result<LogicalPlan> {
        let provider = self
            .database
            .context
            .table_provider(name)
            .await
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        provider
            .get_logical_plan()
            .map(|plan| plan.into_owned())
            .ok_or_else(|| PlanError::Internal(format!("view {name} has no logical plan")))
    }
}

/// `plan` with every inlined copy of an old view plan in `replacements` (DataFusion inlines
/// a view where a query names it, as `SubqueryAlias: view` over the view's plan) replaced
/// by the view's new plan, outermost first, and every schema above them recomputed. Fails
/// when a column a node uses is gone.
fn rebind_views(plan: LogicalPlan, replacements: &[Replacement]) -> Result<LogicalPlan> {
    let replaced = plan
        .transform_down_with_subqueries(|node| {
            let LogicalPlan::SubqueryAlias(alias) = &node else {
                return Ok(Transformed::no(node));
            };
            let replacement = replacements.iter().find(|replacement| {
                crate::names::key(&alias.alias) == replacement.view
                    && *alias.input == replacement.old
            });
            match replacement {
                Some(replacement) => {
                    let rebound = SubqueryAlias::try_new(
                        Arc::new(replacement.new.clone()),
                        alias.alias.clone(),
                    )?;
                    Ok(Transformed::new(
                        LogicalPlan::SubqueryAlias(rebound),
                        true,
                        TreeNodeRecursion::Jump,
                    ))
                }
                None => Ok(Transformed::no(node)),
            }
        })
        .map_err(|e| PlanError::from_datafusion(e, ""))?;
    if !replaced.transformed {
        return Ok(replaced.data);
    }
    let recomputed = replaced
        .data
        .transform_up_with_subqueries(|node| Ok(Transformed::yes(node.recompute_schema()?)))
        .map_err(|e| PlanError::from_datafusion(e, ""))?;
    Ok(recomputed.data)
}

/// A view's plan before and after the ALTER.
struct Replacement {
    view: String,
    old: LogicalPlan,
    new: LogicalPlan,
}
