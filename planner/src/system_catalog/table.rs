//! The DataFusion side of the system catalogs: the schema providers of `pg_catalog` and
//! `information_schema`, the table provider of one system relation, and [`Rows`], the
//! builder its rows are written with.
//!
//! Invariants: a [`SystemTable`]'s schema is its spec's columns, in order, with PostgreSQL's
//! names (see `types::catalog_field` for the Arrow types); its rows are computed from a
//! fresh [`CatalogSnapshot`] on every scan, never cached; a column a row does not set is
//! NULL when nullable and the type's zero value (0, false, '', empty array) otherwise.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session as DataFusionSession, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DataFusionResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::specs::{SystemRelationSpec, INFORMATION_SCHEMA_RELATIONS, PG_CATALOG_RELATIONS};
use super::{
    information_schema, pg_catalog, types, CatalogSnapshot, Column, Relation, RelationKind,
    SystemCatalog, INFORMATION_SCHEMA_NAMESPACE, PG_CATALOG_NAMESPACE,
};

/// Fills the rows of one system relation from a snapshot.
pub(crate) type RowsFunction = fn(&CatalogSnapshot, &mut Rows);

/// The Arrow schema of a system relation.
pub(crate) fn spec_schema(spec: &SystemRelationSpec) -> SchemaRef {
    Arc::new(Schema::new(
        spec.columns
            .iter()
            .map(|(name, pg_type, not_null)| types::catalog_field(name, pg_type, *not_null))
            .collect::<Vec<Field>>(),
    ))
}

/// The system relations as catalog entries (for `pg_class`, `pg_attribute`, ...).
pub(crate) fn system_relations() -> Vec<Arc<Relation>> {
    let namespaces = [
        (PG_CATALOG_NAMESPACE, PG_CATALOG_RELATIONS),
        (INFORMATION_SCHEMA_NAMESPACE, INFORMATION_SCHEMA_RELATIONS),
    ];
    namespaces
        .iter()
        .flat_map(|(namespace, specs)| {
            specs.iter().map(move |spec| {
                Arc::new(Relation {
                    oid: spec.oid,
                    name: spec.name.to_string(),
                    namespace: *namespace,
                    schema: super::namespace_name(*namespace)
                        .unwrap_or_default()
                        .to_string(),
                    kind: if spec.view {
                        RelationKind::View
                    } else {
                        RelationKind::Table
                    },
                    columns: spec
                        .columns
                        .iter()
                        .map(|(name, pg_type, not_null)| Column {
                            name: name.to_string(),
                            type_oid: types::catalog_type_oid(pg_type),
                            typmod: -1,
                            not_null: *not_null,
                            default: None,
                        })
                        .collect(),
                    primary_key: vec![],
                    definition: None,
                    number: None,
                    index_of: None,
                })
            })
        })
        .collect()
}

/// Schema `pg_catalog` or `information_schema`.
#[derive(Debug)]
pub(crate) struct SystemSchema {
    tables: HashMap<&'static str, Arc<SystemTable>>,
}

impl SystemSchema {
    pub fn pg_catalog(catalog: Arc<SystemCatalog>) -> Self {
        Self::new(catalog, PG_CATALOG_RELATIONS, pg_catalog::rows_function)
    }

    pub fn information_schema(catalog: Arc<SystemCatalog>) -> Self {
        Self::new(
            catalog,
            INFORMATION_SCHEMA_RELATIONS,
            information_schema::rows_function,
        )
    }

    fn new(
        catalog: Arc<SystemCatalog>,
        specs: &'static [SystemRelationSpec],
        rows_function: fn(&str) -> Option<RowsFunction>,
    ) -> Self {
        let tables = specs
            .iter()
            .map(|spec| {
                let table = SystemTable {
                    catalog: catalog.clone(),
                    schema: spec_schema(spec),
                    view: spec.view,
                    rows: rows_function(spec.name),
                };
                (spec.name, Arc::new(table))
            })
            .collect();
        Self { tables }
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.keys().map(|n| n.to_string()).collect();
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> DataFusionResult<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .tables
            .get(name)
            .map(|t| t.clone() as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}

/// One system relation: rows computed at scan time; `rows` is `None` for relations that are
/// always empty in Sluice (no sequences, policies, publications, ...).
pub(crate) struct SystemTable {
    catalog: Arc<SystemCatalog>,
    schema: SchemaRef,
    view: bool,
    rows: Option<RowsFunction>,
}

impl std::fmt::Debug for SystemTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemTable")
            .field("columns", &self.schema.fields().len())
            .finish_non_exhaustive()
    }
}

impl SystemTable {
    fn batch(&self) -> DataFusionResult<RecordBatch> {
        let mut rows = Rows::new(self.schema.clone());
        if let Some(fill) = self.rows {
            let snapshot = self.catalog.snapshot();
            fill(&snapshot, &mut rows);
        }
        rows.finish()
    }
}

#[async_trait]
impl TableProvider for SystemTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        if self.view {
            TableType::View
        } else {
            TableType::Base
        }
    }

    async fn scan(
        &self,
        _state: &dyn DataFusionSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DataFusionResult<Arc<dyn ExecutionPlan>> {
        let batch = self.batch()?;
        let partitions = if batch.num_rows() == 0 {
            vec![vec![]]
        } else {
            vec![vec![batch]]
        };
        Ok(MemorySourceConfig::try_new_exec(
            &partitions,
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

/// Row-by-row builder of a system relation's batch, addressing columns by name.
pub(crate) struct Rows {
    schema: SchemaRef,
    rows: Vec<Vec<ScalarValue>>,
    defaults: Vec<ScalarValue>,
    error: Option<DataFusionError>,
}

/// The value of an unset column: NULL, or the zero value of a NOT NULL column.
fn default_value(field: &Field) -> ScalarValue {
    let data_type = field.data_type();
    let null = ScalarValue::try_from(data_type).unwrap_or(ScalarValue::Null);
    if field.is_nullable() {
        return null;
    }
    match data_type {
        DataType::Utf8 => ScalarValue::Utf8(Some(String::new())),
        DataType::Boolean => ScalarValue::Boolean(Some(false)),
        DataType::List(element) => {
            ScalarValue::List(ScalarValue::new_list_nullable(&[], element.data_type()))
        }
        other => ScalarValue::new_zero(other).unwrap_or(null),
    }
}

impl Rows {
    pub fn new(schema: SchemaRef) -> Self {
        let defaults = schema.fields().iter().map(|f| default_value(f)).collect();
        Self {
            schema,
            rows: vec![],
            defaults,
            error: None,
        }
    }

    /// Start a row with every column unset.
    pub fn push(&mut self) -> Row<'_> {
        self.rows.push(self.defaults.clone());
        let index = self.rows.len() - 1;
        Row { rows: self, index }
    }

    fn set(&mut self, index: usize, column: &str, value: ScalarValue) {
        if self.error.is_some() {
            return;
        }
        let position = match self.schema.index_of(column) {
            Ok(position) => position,
            Err(error) => {
                self.error = Some(error.into());
                return;
            }
        };
        let target = self.schema.field(position).data_type();
        let value = if value.is_null() {
            ScalarValue::try_from(target)
        } else if value.data_type() == *target {
            Ok(value)
        } else {
            value.cast_to(target)
        };
        match (value, self.rows.get_mut(index)) {
            (Ok(value), Some(row)) => row[position] = value,
            (Err(error), _) => {
                self.error = Some(DataFusionError::Internal(format!(
                    "system catalog column {column}: {error}"
                )))
            }
            (Ok(_), None) => {}
        }
    }

    /// The batch, or the first error a `set` met (an unknown column or an impossible cast:
    /// a bug in a rows function, reported instead of panicking).
    pub fn finish(self) -> DataFusionResult<RecordBatch> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.rows.is_empty() {
            return Ok(RecordBatch::new_empty(self.schema));
        }
        let columns = (0..self.schema.fields().len())
            .map(|c| ScalarValue::iter_to_array(self.rows.iter().map(|row| row[c].clone())))
            .collect::<DataFusionResult<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.schema, columns)?)
    }
}

/// One row being written.
pub(crate) struct Row<'a> {
    rows: &'a mut Rows,
    index: usize,
}

impl Row<'_> {
    /// Set `column` (cast to the column's type).
    pub fn set(&mut self, column: &str, value: impl Into<ScalarValue>) -> &mut Self {
        self.rows.set(self.index, column, value.into());
        self
    }
}

/// A `text[]` (or `name[]`, `aclitem[]`) value.
pub(crate) fn text_array<S: AsRef<str>>(values: &[S]) -> ScalarValue {
    let values: Vec<ScalarValue> = values
        .iter()
        .map(|v| ScalarValue::Utf8(Some(v.as_ref().to_string())))
        .collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Utf8))
}

/// An `int2[]` or `int2vector` value.
pub(crate) fn int2_array(values: &[i16]) -> ScalarValue {
    let values: Vec<ScalarValue> = values
        .iter()
        .map(|v| ScalarValue::Int16(Some(*v)))
        .collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Int16))
}

/// An `oid[]` or `oidvector` value.
pub(crate) fn oid_array(values: &[u32]) -> ScalarValue {
    let values: Vec<ScalarValue> = values.iter().map(|v| oid(*v)).collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Int32))
}

/// An OID value (carried as `Int32`; Sluice's OIDs stay below 2^31).
pub(crate) fn oid(value: u32) -> ScalarValue {
    ScalarValue::Int32(Some(i32::try_from(value).unwrap_or(i32::MAX)))
}

/// A typed SQL NULL for any column.
pub(crate) fn null() -> ScalarValue {
    ScalarValue::Null
}
