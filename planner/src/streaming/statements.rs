//! Statements of the Flink dialect: `CREATE TABLE .. WITH (connector ..)` with computed and
//! metadata columns and `WATERMARK FOR`, and `INSERT INTO connector_table SELECT ..`, which
//! starts a continuous job. Also starts the source tasks of any continuous query that reads
//! connector tables.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{cast, DdlStatement, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_expr::{create_physical_expr, PhysicalExpr};
use datafusion::sql::parser::Statement as DFStatement;
use sluice_runtime::connectors::{
    BadRowPolicy, ConnectorOptions, MetadataColumn, SINK_CONNECTORS, SOURCE_CONNECTORS,
};
use sluice_runtime::ChangeBatch;

use super::connector_table::{source_schema, ColumnOrigin, ConnectorTable};
use super::jobs::{dead_letter_schema, spawn_sink, spawn_source};
use super::stream_provider::StreamTableProvider;
use crate::database::{stored_provider, Catalog, EntryKind, EventTime};
use crate::error::{PlanError, Result};
use crate::flink::{FlinkColumnKind, FlinkCreateTable};
use crate::relation::{RelationStore, StoredKind};
use crate::session::{Session, StatementResult};

/// An INSERT's query, optimized, with each column cast to the type of the target table's
/// column where they differ. DataFusion matches the query's columns to the table's types
/// when it plans the INSERT, but its analyzer may change them afterwards: a UNION whose
/// branches differ (`TIMESTAMP_LTZ(3)` and a nanosecond timestamp) takes their common type.
/// A continuous job's dataflow must produce exactly the target's types, which its key
/// encoding and store expect.
fn cast_to_target_types(plan: LogicalPlan, target: &Schema) -> Result<LogicalPlan> {
    let source = Arc::clone(plan.schema());
    if source.fields().len() != target.fields().len() {
        return Err(PlanError::Internal(format!(
            "the INSERT query has {} columns for the {} of its target",
            source.fields().len(),
            target.fields().len()
        )));
    }
    let differs =
        |(field, wanted): (&Arc<Field>, &Arc<Field>)| field.data_type() != wanted.data_type();
    if !source.fields().iter().zip(target.fields()).any(differs) {
        return Ok(plan);
    }
    let columns = source
        .columns()
        .into_iter()
        .zip(source.fields().iter().zip(target.fields()))
        .map(|(column, (field, wanted))| {
            let column = Expr::Column(column);
            if field.data_type() == wanted.data_type() {
                column
            } else {
                cast(column, wanted.data_type().clone()).alias(field.name())
            }
        });
    LogicalPlanBuilder::from(plan)
        .project(columns)
        .and_then(LogicalPlanBuilder::build)
        .map_err(|e| PlanError::from_datafusion(e, ""))
}

/// Whether a parsed CREATE TABLE is created from its definition
/// ([`Session::create_table_from_definition`]) rather than from its text: it has a LIKE
/// clause, needs the Flink path, or has a column type PostgreSQL has no spelling for
/// (`ROW<..>`, `MAP<..>`, `MULTISET<..>`, also inside an array), which its `physical_sql`
/// writes in forms our CREATE TABLE path plans. (Other tables keep their text: it is
/// PostgreSQL's, whose `TIMESTAMP` is not Flink's.)
pub fn created_from_definition(table: &FlinkCreateTable) -> bool {
    fn no_postgres_spelling(data_type: &crate::flink::FlinkType) -> bool {
        use crate::flink::FlinkType;
        match data_type {
            FlinkType::Row(_) | FlinkType::Map { .. } | FlinkType::Multiset(_) => true,
            FlinkType::Array(element) => no_postgres_spelling(element),
            FlinkType::Scalar(_) | FlinkType::Raw { .. } => false,
        }
    }
    table.like.is_some()
        || needs_flink_path(table)
        || table.columns.iter().any(|column| match &column.kind {
            FlinkColumnKind::Physical { data_type, .. }
            | FlinkColumnKind::Metadata { data_type, .. } => no_postgres_spelling(data_type),
            FlinkColumnKind::Computed { .. } => false,
        })
}

/// Whether a parsed CREATE TABLE needs the Flink path (anything PostgreSQL's lacks).
pub fn needs_flink_path(table: &FlinkCreateTable) -> bool {
    !table.options.is_empty()
        || table.watermark.is_some()
        || table
            .columns
            .iter()
            .any(|c| !matches!(c.kind, FlinkColumnKind::Physical { .. }))
        || table.primary_key.as_ref().is_some_and(|k| !k.enforced)
}

/// A computed column's or watermark's expression over `schema`: the physical expression,
/// its type, and the time attribute it has (`PROCTIME()`: processing time).
fn plan_expr(
    session: &Session,
    text: &str,
    schema: &SchemaRef,
) -> Result<(
    Arc<dyn PhysicalExpr>,
    arrow::datatypes::DataType,
    Option<crate::streaming::TimeAttr>,
)> {
    let df_schema = DFSchema::try_from(schema.as_ref().clone())
        .map_err(|e| PlanError::from_datafusion(e, text))?;
    let state = session.database.context.state();
    let expr = state
        .create_logical_expr(text, &df_schema)
        .map_err(|e| PlanError::from_datafusion(e, text))?;
    // Type coercion (e.g. INT = BIGINT literal), as the analyzer does for queries, then the
    // simplification the optimizer applies (DataFusion plans some functions, e.g. COALESCE,
    // only in their simplified form).
    let simplifier = datafusion::optimizer::simplify_expressions::ExprSimplifier::new(
        datafusion::logical_expr::simplify::SimplifyContext::builder()
            .with_config_options(state.config_options().clone())
            .with_schema(Arc::new(df_schema.clone()))
            .build(),
    );
    let expr = simplifier
        .coerce(expr, &df_schema)
        .and_then(|expr| crate::map_keys::coerce_map_keys(expr, &df_schema))
        .and_then(|expr| simplifier.simplify(expr.data))
        .map_err(|e| PlanError::from_datafusion(e, text))?;
    let physical = create_physical_expr(
        &expr,
        &df_schema,
        state.execution_props(),
        &Default::default(),
    )
    .map_err(|e| PlanError::from_datafusion(e, text))?;
    let data_type = physical
        .data_type(schema)
        .map_err(|e| PlanError::from_datafusion(e, text))?;
    let attr = crate::streaming::time::expr_attr(&expr, &df_schema, &[]);
    Ok((physical, data_type, attr))
}

impl Session {
    /// Complete a `CREATE TABLE .. LIKE base` with the definition of `base` (see
    /// [`FlinkCreateTable::merge_like`]); a definition without LIKE is returned as it is.
    pub(crate) async fn merge_like(&self, mut table: FlinkCreateTable) -> Result<FlinkCreateTable> {
        let Some(like) = &mut table.like else {
            return Ok(table);
        };
        let catalog = self.database.catalog.read().await;
        like.table = self.key_on_search_path(&catalog, &like.table);
        let like = &*like;
        let Some(entry) = catalog.entries.get(&like.table) else {
            return Err(PlanError::UndefinedTable(format!(
                "table \"{}\" named in LIKE does not exist",
                like.table
            )));
        };
        let Some(base) = &entry.table_definition else {
            return Err(PlanError::WrongObjectType(format!(
                "\"{}\" named in LIKE is a {} without a column list; LIKE copies tables \
                 created with CREATE TABLE (..)",
                like.table,
                entry.kind_name()
            )));
        };
        table.merge_like(base)
    }

    /// Create a table from its (merged) definition: by the Flink path when it has what
    /// PostgreSQL's CREATE TABLE lacks, else from its `physical_sql`; then keep the
    /// definition for LIKE if the table is new.
    pub(crate) async fn create_table_from_definition(
        &mut self,
        table: FlinkCreateTable,
        new_table: bool,
        results: &mut Vec<StatementResult>,
    ) -> Result<()> {
        if needs_flink_path(&table) {
            results.push(self.create_flink_table(table.clone()).await?);
        } else {
            let sql = table.physical_sql.clone();
            for statement in Session::parse(&sql)? {
                results.push(self.execute_statement(statement, &sql, None).await?);
            }
        }
        self.record_table_definition(table, new_table).await;
        Ok(())
    }

    /// Keep the definition of table `table.name`, just created by this statement
    /// (`new_table`), for `CREATE TABLE .. LIKE` of it.
    pub(crate) async fn record_table_definition(&self, table: FlinkCreateTable, new_table: bool) {
        if !new_table {
            return;
        }
        let mut catalog = self.database.catalog.write().await;
        if let Some(entry) = catalog.entries.get_mut(&table.name) {
            if matches!(entry.kind, EntryKind::Table { .. }) {
                entry.table_definition = Some(table);
            }
        }
    }

    /// `CREATE TABLE` in Flink's dialect.
    pub(crate) async fn create_flink_table(
        &self,
        table: FlinkCreateTable,
    ) -> Result<StatementResult> {
        let name = table.name.clone();
        {
            let catalog = self.database.catalog.read().await;
            if catalog.entries.contains_key(&name) {
                if table.if_not_exists {
                    return Ok(StatementResult::Command {
                        tag: "CREATE TABLE".into(),
                        rows: None,
                    });
                }
                catalog.check_new_name(&name)?;
            }
        }
        // Physical and metadata columns, planned by the ordinary CREATE TABLE path.
        let statements = Session::parse(&table.physical_sql)?;
        let [statement] = <[DFStatement; 1]>::try_from(statements).map_err(|_| {
            PlanError::Internal("the physical CREATE TABLE is not one statement".into())
        })?;
        let (statement, json_columns) = crate::session::json_columns_as_text(statement);
        let plan = self.plan(statement, &table.physical_sql).await?;
        let LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) = plan else {
            return Err(PlanError::Unsupported("this form of CREATE TABLE".into()));
        };
        let declared: SchemaRef = crate::session::mark_json_columns(
            crate::flink::types::restore_map_columns(Arc::new(
                create.input.schema().as_arrow().clone(),
            )),
            &json_columns,
        );
        let field_of = |column: &str| -> Result<Field> {
            declared.field_with_name(column).cloned().map_err(|_| {
                PlanError::Internal(format!("column {column} missing from the physical schema"))
            })
        };
        let mut physical = Vec::new();
        let mut metadata = Vec::new();
        for column in &table.columns {
            match &column.kind {
                FlinkColumnKind::Physical { .. } => physical.push(field_of(&column.name)?),
                FlinkColumnKind::Metadata { key, .. } => metadata.push(MetadataColumn {
                    field: Arc::new(field_of(&column.name)?),
                    key: key.clone(),
                }),
                FlinkColumnKind::Computed { .. } => {}
            }
        }
        let source = source_schema(&Schema::new(physical.clone()), &metadata);
        // Full schema in declaration order.
        let mut fields = Vec::new();
        let mut origins = Vec::new();
        // `PROCTIME()` computed columns: the arrival time, stored with the row, is a
        // processing-time attribute of the table.
        let mut time_attrs: crate::incremental::TimeAttrs = Vec::new();
        for column in &table.columns {
            let mut attr = None;
            match &column.kind {
                FlinkColumnKind::Computed { expr } => {
                    let (physical_expr, data_type, expr_attr) = plan_expr(self, expr, &source)?;
                    if expr_attr == Some(crate::streaming::TimeAttr::ProcessingTime) {
                        attr = Some(crate::streaming::TimeAttr::ArrivalTime);
                    }
                    fields.push(Field::new(&column.name, data_type, true));
                    origins.push(ColumnOrigin::Computed(physical_expr));
                }
                _ => {
                    let index = source.index_of(&column.name).map_err(|_| {
                        PlanError::Internal(format!(
                            "column {} missing from the source schema",
                            column.name
                        ))
                    })?;
                    fields.push(source.field(index).clone());
                    origins.push(ColumnOrigin::Source(index));
                }
            }
            time_attrs.push(attr);
        }
        let mut primary_key = Vec::new();
        if let Some(key) = &table.primary_key {
            for column in &key.columns {
                let index = fields
                    .iter()
                    .position(|f| f.name() == column)
                    .ok_or_else(|| {
                        PlanError::UndefinedColumn(format!(
                            "primary key column \"{column}\" does not exist"
                        ))
                    })?;
                fields[index] = fields[index].clone().with_nullable(false);
                primary_key.push(index);
            }
        }
        let schema: SchemaRef = Arc::new(Schema::new(fields));
        let event_time = match &table.watermark {
            Some(watermark) => {
                let column = schema.index_of(&watermark.column).map_err(|_| {
                    PlanError::UndefinedColumn(format!(
                        "watermark column \"{}\" does not exist",
                        watermark.column
                    ))
                })?;
                if !matches!(
                    schema.field(column).data_type(),
                    arrow::datatypes::DataType::Timestamp(_, _)
                ) {
                    return Err(PlanError::DatatypeMismatch(format!(
                        "the watermark column \"{}\" must be a TIMESTAMP or TIMESTAMP_LTZ, found {}",
                        watermark.column,
                        schema.field(column).data_type()
                    )));
                }
                let (expression, data_type, _) = plan_expr(self, &watermark.expr, &schema)?;
                if !matches!(data_type, arrow::datatypes::DataType::Timestamp(_, _)) {
                    return Err(PlanError::DatatypeMismatch(format!(
                        "the watermark expression must return a timestamp, found {data_type}"
                    )));
                }
                Some(Arc::new(EventTime { column, expression }))
            }
            None => None,
        };
        let options = ConnectorOptions::new(table.options.iter().cloned());
        let connector = match options.connector() {
            None if options.is_empty() => None,
            None => {
                return Err(PlanError::Plan(
                    "table options given without a 'connector' option".into(),
                ))
            }
            Some(name)
                if !SOURCE_CONNECTORS.contains(&name) && !SINK_CONNECTORS.contains(&name) =>
            {
                let mut known: Vec<&str> = SOURCE_CONNECTORS
                    .iter()
                    .chain(SINK_CONNECTORS)
                    .copied()
                    .collect();
                known.sort();
                known.dedup();
                return Err(PlanError::Plan(format!(
                    "unknown connector '{name}' (supported: {})",
                    known.join(", ")
                )));
            }
            Some(_) => {
                let bad_rows = BadRowPolicy::from_options(&options)?;
                Some(Arc::new(ConnectorTable {
                    name: name.clone(),
                    options,
                    schema: schema.clone(),
                    source_schema: source,
                    metadata,
                    columns: origins,
                    primary_key: primary_key.clone(),
                    bad_rows,
                }))
            }
        };
        if connector.is_none()
            && table
                .columns
                .iter()
                .any(|c| !matches!(c.kind, FlinkColumnKind::Physical { .. }))
        {
            return Err(PlanError::Unsupported(
                "computed and metadata columns in a table without a connector".into(),
            ));
        }
        let mut catalog = self.database.catalog.write().await;
        catalog.check_new_name(&name)?;
        let store =
            RelationStore::new(name.clone(), StoredKind::Table, schema.clone(), primary_key)?;
        // A table without a connector holds what DML writes: durable. Connector tables are
        // refilled by their continuous queries on restart.
        let store = Arc::new(match connector {
            None => catalog.make_durable(store)?,
            Some(_) => store,
        });
        match &connector {
            Some(table) if !table.is_stored() => {
                self.database
                    .register(&name, Arc::new(StreamTableProvider::new(table.clone())))?;
            }
            _ => self
                .database
                .register(&name, stored_provider(store.clone()))?,
        }
        // The dead-letter table for rows the source cannot decode.
        if let Some(table) = &connector {
            if table.bad_rows == BadRowPolicy::DeadLetter {
                let dead_letter = dead_letter_name(table);
                if !catalog.entries.contains_key(&dead_letter) {
                    let store = Arc::new(RelationStore::new(
                        dead_letter.clone(),
                        StoredKind::Table,
                        dead_letter_schema(),
                        vec![],
                    )?);
                    self.database
                        .register(&dead_letter, stored_provider(store.clone()))?;
                    catalog.add_table(&dead_letter, store);
                }
            }
        }
        catalog.add_table(&name, store);
        if let Some(entry) = catalog.entries.get_mut(&name) {
            entry.event_time = event_time;
            entry.connector = connector.clone();
            if time_attrs.iter().any(Option::is_some) {
                entry.time_attrs = time_attrs;
            }
        }
        if catalog.replaying {
            catalog.restore_table_rows(&name)?;
            if let Some(table) = connector
                .as_ref()
                .filter(|t| t.bad_rows == BadRowPolicy::DeadLetter)
            {
                catalog.restore_table_rows(&dead_letter_name(table))?;
            }
        }
        Ok(StatementResult::Command {
            tag: "CREATE TABLE".into(),
            rows: None,
        })
    }

    /// `INSERT INTO connector_table SELECT ..`: a continuous job writing the query's changes
    /// into the table's connector (and, for stored sink tables, into the table itself).
    pub(crate) fn create_job(
        &self,
        catalog: &mut Catalog,
        target: &str,
        input: &LogicalPlan,
        sql: &str,
    ) -> Result<StatementResult> {
        let optimized = self
            .database
            .context
            .state()
            .optimize(input)
            .map_err(|e| PlanError::from_datafusion(e, sql))?;
        let target_schema = catalog
            .store(target)
            .ok_or_else(|| {
                PlanError::UndefinedTable(format!("relation \"{target}\" does not exist"))
            })?
            .schema();
        let optimized = cast_to_target_types(optimized, &target_schema)?;
        let (mut dataflow, time_attrs) = catalog.compile(&optimized)?;
        let relations: BTreeSet<String> = dataflow.relations().map(str::to_string).collect();
        catalog.check_readable(&relations.iter().cloned().collect::<Vec<_>>())?;
        // The sink task of the target, started by its first job.
        let target_entry = catalog.entries.get(target).ok_or_else(|| {
            PlanError::UndefinedTable(format!("relation \"{target}\" does not exist"))
        })?;
        let target_connector = target_entry.connector.clone();
        if let Some(connector) = &target_connector {
            if !connector.is_sink() {
                return Err(PlanError::WrongObjectType(format!(
                    "cannot INSERT INTO \"{target}\": connector '{}' has no sink",
                    connector.connector()
                )));
            }
            if target_entry.sink.is_none() && connector.forwards() {
                let (sender, task) = spawn_sink(connector)?;
                if let Some(entry) = catalog.entries.get_mut(target) {
                    entry.sink = Some(sender);
                    entry.tasks.push(task);
                }
            }
        }
        let job = catalog.next_job_name(target);
        let schema = dataflow.schema();
        let mut deltas = vec![dataflow.initialize()?];
        let mut continuous = false;
        for relation in &relations {
            let is_stream = catalog
                .entries
                .get(relation)
                .and_then(|e| e.connector.as_ref())
                .is_some_and(|c| c.is_source());
            continuous = true;
            if !is_stream {
                if let Some(store) = catalog.store(relation) {
                    deltas.push(dataflow.push(relation, &store.contents_as_changes()?)?);
                }
            }
        }
        for relation in &relations {
            if catalog.has_event_time(relation) {
                dataflow.declare_event_time(relation);
            }
            if let Some(watermark) = catalog.watermark(relation) {
                deltas.push(dataflow.advance_watermark(relation, watermark)?);
            }
        }
        // Consolidated: the steps' changes cancel each other in part (see the same in
        // `build_materialized_view`), and a keyed target must not see a row's
        // intermediate versions.
        let initial = ChangeBatch::concat(&schema, &deltas)?
            .consolidate(&sluice_storage::RowCodec::for_schema(&schema)?)?;
        let rows = initial.num_rows();
        let store = Arc::new(RelationStore::new(
            job.clone(),
            StoredKind::MaterializedView,
            schema,
            vec![],
        )?);
        catalog.add_job(
            &job,
            store,
            dataflow,
            time_attrs,
            relations,
            target,
            sql.to_string(),
        );
        // Restoring: a job with a checkpoint resumes from it; its target already holds what
        // the job had delivered.
        let resumed = catalog.replaying && catalog.restore_query(&job)?;
        if !resumed {
            catalog.deliver(target, initial)?;
        }
        if continuous {
            self.start_sources(catalog, &job)?;
        } else {
            catalog.entries.remove(&job);
        }
        Ok(StatementResult::Command {
            tag: format!("INSERT 0 {rows}"),
            rows: Some(rows),
        })
    }

    /// Start one source task per connector table the dataflow of `name` reads.
    pub(crate) fn start_sources(&self, catalog: &mut Catalog, name: &str) -> Result<()> {
        let Some(EntryKind::MaterializedView { dataflow, .. }) =
            catalog.entries.get(name).map(|e| &e.kind)
        else {
            return Ok(());
        };
        let relations: BTreeSet<String> = dataflow.relations().map(str::to_string).collect();
        let splits = dataflow.partitions();
        let mut tasks = Vec::new();
        let mut counters = Vec::new();
        for relation in relations {
            let Some(entry) = catalog.entries.get(&relation) else {
                continue;
            };
            let Some(connector) = entry.connector.clone() else {
                continue;
            };
            if !connector.is_source() {
                continue;
            }
            let dead_letter = (connector.bad_rows == BadRowPolicy::DeadLetter)
                .then(|| dead_letter_name(&connector));
            let idle_timeout = match self.get(super::jobs::IDLE_TIMEOUT_SETTING) {
                Some(text) => Some(sluice_runtime::connectors::duration::parse_duration(
                    super::jobs::IDLE_TIMEOUT_SETTING,
                    text,
                )?),
                None => None,
            };
            let resume_at = catalog
                .entries
                .get(name)
                .and_then(|e| e.source_offsets.get(&relation))
                .cloned();
            let (task, source_counters) = spawn_source(
                self.database.clone(),
                name.to_string(),
                connector,
                entry.event_time.clone(),
                dead_letter,
                idle_timeout,
                resume_at.as_deref(),
                splits,
            )?;
            tasks.push(task);
            counters.push((relation.clone(), source_counters));
        }
        if let Some(entry) = catalog.entries.get_mut(name) {
            entry.tasks.extend(tasks);
            entry.source_counters.extend(counters);
        }
        Ok(())
    }
}

/// The dead-letter table of a connector table: option `bad-rows.table`, or `<table>_dead_letter`.
pub fn dead_letter_name(table: &ConnectorTable) -> String {
    table
        .options
        .get("bad-rows.table")
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_else(|| format!("{}_dead_letter", table.name))
}
