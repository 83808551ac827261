//! The rows of schema `pg_catalog`, computed from a [`CatalogSnapshot`].
//!
//! Each relation mirrors what PostgreSQL 15 stores for the same objects: a table is a
//! `pg_class` row with relkind 'r' and, when it has a primary key, an index `t_pkey` (relkind
//! 'i', a `pg_index` row and a `pg_constraint` row of type 'p'); a view is relkind 'v' with a
//! `_RETURN` rule; a materialized view relkind 'm'. System relations are listed too, with
//! PostgreSQL's OIDs, so `'pg_class'::regclass` and `\dS` work. Relations Sluice has no
//! objects for (sequences, policies, publications, triggers, ...) exist and are empty.
//!
//! Known differences from PostgreSQL: relations have no row type (`reltype` is 0, no
//! composite `pg_type` rows), no TOAST tables, no system columns (attnum < 0) in
//! `pg_attribute`, and `pg_node_tree` columns hold SQL text instead of node trees (so
//! `pg_get_expr` returns them as they are).

use super::table::{int2_array, null, oid, oid_array, Rows, RowsFunction};
use super::types::{self, PG_TYPES};
use super::{
    CatalogSnapshot, Derived, Relation, RelationKind, BTREE_AM, DATABASE_NAME, DATABASE_OID,
    DEFAULT_COLLATION, HEAP_AM, PG_CATALOG_NAMESPACE, ROLE_NAME, ROLE_OID,
};

/// The rows function of a `pg_catalog` relation; `None` for relations that stay empty.
pub(crate) fn rows_function(name: &str) -> Option<RowsFunction> {
    let function: RowsFunction = match name {
        "pg_namespace" => pg_namespace,
        "pg_class" => pg_class,
        "pg_attribute" => pg_attribute,
        "pg_type" => pg_type,
        "pg_index" => pg_index,
        "pg_constraint" => pg_constraint,
        "pg_attrdef" => pg_attrdef,
        "pg_database" => pg_database,
        "pg_am" => pg_am,
        "pg_proc" => pg_proc,
        "pg_collation" => pg_collation,
        "pg_tablespace" => pg_tablespace,
        "pg_rewrite" => pg_rewrite,
        "pg_opclass" => pg_opclass,
        "pg_language" => pg_language,
        "pg_roles" => pg_roles,
        "pg_user" => pg_user,
        "pg_settings" => pg_settings,
        "pg_tables" => pg_tables,
        "pg_views" => pg_views,
        "pg_matviews" => pg_matviews,
        "pg_indexes" => pg_indexes,
        _ => return None,
    };
    Some(function)
}

/// Settings as `pg_settings` and `current_setting()` report them: (name, value, type,
/// category, description). Session-level changes (SET) are not reflected here.
pub(crate) const SETTINGS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "application_name",
        "",
        "string",
        "Reporting and Logging / What to Log",
        "Sets the application name to be reported in statistics and logs.",
    ),
    (
        "client_encoding",
        "UTF8",
        "string",
        "Client Connection Defaults / Locale and Formatting",
        "Sets the client's character set encoding.",
    ),
    (
        "DateStyle",
        "ISO, MDY",
        "string",
        "Client Connection Defaults / Locale and Formatting",
        "Sets the display format for date and time values.",
    ),
    (
        "default_table_access_method",
        "heap",
        "string",
        "Client Connection Defaults / Statement Behavior",
        "Sets the default table access method for new tables.",
    ),
    (
        "default_transaction_isolation",
        "read committed",
        "enum",
        "Client Connection Defaults / Statement Behavior",
        "Sets the transaction isolation level of each new transaction.",
    ),
    (
        "extra_float_digits",
        "1",
        "integer",
        "Client Connection Defaults / Locale and Formatting",
        "Sets the number of digits displayed for floating-point values.",
    ),
    (
        "integer_datetimes",
        "on",
        "bool",
        "Preset Options",
        "Shows whether datetimes are integer based.",
    ),
    (
        "IntervalStyle",
        "postgres",
        "enum",
        "Client Connection Defaults / Locale and Formatting",
        "Sets the display format for interval values.",
    ),
    (
        "is_superuser",
        "on",
        "bool",
        "Preset Options",
        "Shows whether the current user is a superuser.",
    ),
    (
        "jit",
        "off",
        "bool",
        "Query Tuning / Other Planner Options",
        "Allow JIT compilation.",
    ),
    (
        "lock_timeout",
        "0",
        "integer",
        "Client Connection Defaults / Statement Behavior",
        "Sets the maximum allowed duration of any wait for a lock.",
    ),
    (
        "max_identifier_length",
        "63",
        "integer",
        "Preset Options",
        "Shows the maximum identifier length.",
    ),
    (
        "max_index_keys",
        "32",
        "integer",
        "Preset Options",
        "Shows the maximum number of index keys.",
    ),
    (
        "search_path",
        "\"$user\", public",
        "string",
        "Client Connection Defaults / Statement Behavior",
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    (
        "server_encoding",
        "UTF8",
        "string",
        "Preset Options",
        "Shows the server (database) character set encoding.",
    ),
    (
        "server_version",
        "15.0",
        "string",
        "Preset Options",
        "Shows the server version.",
    ),
    (
        "server_version_num",
        "150000",
        "integer",
        "Preset Options",
        "Shows the server version as an integer.",
    ),
    (
        "standard_conforming_strings",
        "on",
        "bool",
        "Version and Platform Compatibility / Previous PostgreSQL Versions",
        "Causes '...' strings to treat backslashes literally.",
    ),
    (
        "statement_timeout",
        "0",
        "integer",
        "Client Connection Defaults / Statement Behavior",
        "Sets the maximum allowed duration of any statement.",
    ),
    (
        "TimeZone",
        "UTC",
        "string",
        "Client Connection Defaults / Locale and Formatting",
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    (
        "transaction_isolation",
        "read committed",
        "enum",
        "Client Connection Defaults / Statement Behavior",
        "Sets the current transaction's isolation level.",
    ),
];

/// A setting's value, by case-insensitive name.
pub(crate) fn setting(name: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .find(|(n, ..)| n.eq_ignore_ascii_case(name))
        .map(|(_, value, ..)| *value)
}

fn pg_namespace(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for (namespace, name) in &snapshot.namespaces {
        rows.push()
            .set("oid", oid(*namespace))
            .set("nspname", name.as_str())
            .set("nspowner", oid(ROLE_OID));
    }
}

fn pg_class(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in &snapshot.relations {
        let kind = relation.kind;
        let access_method = match kind {
            RelationKind::Table | RelationKind::MaterializedView => HEAP_AM,
            RelationKind::Index => BTREE_AM,
            RelationKind::View => 0,
        };
        let has_storage = kind.is_stored() || kind == RelationKind::Index;
        rows.push()
            .set("oid", oid(relation.oid))
            .set("relname", relation.name.as_str())
            .set("relnamespace", oid(relation.namespace))
            .set("relowner", oid(ROLE_OID))
            .set("relam", oid(access_method))
            .set(
                "relfilenode",
                oid(if has_storage { relation.oid } else { 0 }),
            )
            .set(
                "reltuples",
                if kind == RelationKind::Index {
                    0.0f32
                } else {
                    -1.0f32
                },
            )
            .set("relpages", i32::from(kind == RelationKind::Index))
            .set("relhasindex", has_primary_key(relation))
            .set("relpersistence", "p")
            .set("relkind", kind.relkind())
            .set("relnatts", relation.columns.len() as i64)
            .set(
                "relhasrules",
                matches!(kind, RelationKind::View | RelationKind::MaterializedView),
            )
            .set("relispopulated", true)
            .set("relreplident", if kind.is_stored() { "d" } else { "n" })
            .set("relminmxid", i32::from(kind.is_stored()));
    }
}

fn has_primary_key(relation: &Relation) -> bool {
    relation.kind == RelationKind::Table && !relation.primary_key.is_empty()
}

fn pg_attribute(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in &snapshot.relations {
        for (index, column) in relation.columns.iter().enumerate() {
            let attnum = index as i64 + 1;
            let pg_type = types::by_oid(column.type_oid);
            let collatable = pg_type.map(|t| t.collation).unwrap_or(0);
            // PostgreSQL gives collatable user columns the default collation; catalog
            // columns keep the type's own (`name` columns use "C").
            let collation = if collatable != 0 && relation.number.is_some() {
                DEFAULT_COLLATION
            } else {
                collatable
            };
            rows.push()
                .set("attrelid", oid(relation.oid))
                .set("attname", column.name.as_str())
                .set("atttypid", oid(column.type_oid))
                .set("attstattarget", -1i32)
                .set("attlen", pg_type.map(|t| t.len).unwrap_or(-1))
                .set("attnum", attnum)
                .set("attndims", i32::from(pg_type.is_some_and(|t| t.is_array())))
                .set("attcacheoff", -1i32)
                .set("atttypmod", column.typmod)
                .set("attbyval", pg_type.is_some_and(|t| t.by_value))
                .set(
                    "attalign",
                    pg_type.map(|t| t.align).unwrap_or('i').to_string(),
                )
                .set(
                    "attstorage",
                    pg_type.map(|t| t.storage).unwrap_or('x').to_string(),
                )
                .set("attnotnull", column.not_null)
                .set("atthasdef", column.default.is_some())
                .set("attislocal", true)
                .set("attcollation", oid(collation));
        }
    }
}

fn pg_type(_: &CatalogSnapshot, rows: &mut Rows) {
    for t in PG_TYPES {
        let regproc = |name: &str| {
            if name == "-" {
                "-".to_string()
            } else {
                name.to_string()
            }
        };
        rows.push()
            .set("oid", oid(t.oid))
            .set("typname", t.name)
            .set("typnamespace", oid(PG_CATALOG_NAMESPACE))
            .set("typowner", oid(ROLE_OID))
            .set("typlen", t.len)
            .set("typbyval", t.by_value)
            .set("typtype", t.kind.to_string())
            .set("typcategory", t.category.to_string())
            .set("typispreferred", t.preferred)
            .set("typisdefined", true)
            .set("typdelim", t.delimiter.to_string())
            .set("typsubscript", regproc(t.subscript))
            .set("typelem", oid(t.element))
            .set("typarray", oid(t.array))
            .set("typinput", regproc(t.input))
            .set("typoutput", regproc(t.output))
            .set("typreceive", regproc(t.receive))
            .set("typsend", regproc(t.send))
            .set("typmodin", regproc(t.modifier_input))
            .set("typmodout", regproc(t.modifier_output))
            .set("typanalyze", regproc(t.analyze))
            .set("typalign", t.align.to_string())
            .set("typstorage", t.storage.to_string())
            .set("typtypmod", -1i32)
            .set("typcollation", oid(t.collation));
    }
}

/// Tables with a primary key, with their index.
fn primary_keys(snapshot: &CatalogSnapshot) -> impl Iterator<Item = (&Relation, &Relation)> {
    snapshot.relations.iter().filter_map(move |index| {
        let table = snapshot.relation(index.index_of?)?;
        Some((table, index.as_ref()))
    })
}

/// The 1-based column numbers of a table's primary key.
pub(crate) fn key_attnums(table: &Relation) -> Vec<i16> {
    table.primary_key.iter().map(|i| *i as i16 + 1).collect()
}

fn pg_index(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for (table, index) in primary_keys(snapshot) {
        let keys = key_attnums(table);
        let collations: Vec<u32> = index
            .columns
            .iter()
            .map(|c| {
                let collatable = types::by_oid(c.type_oid).is_some_and(|t| t.collation != 0);
                if collatable {
                    DEFAULT_COLLATION
                } else {
                    0
                }
            })
            .collect();
        let classes: Vec<u32> = index
            .columns
            .iter()
            .map(|c| types::default_btree_opclass(c.type_oid))
            .collect();
        rows.push()
            .set("indexrelid", oid(index.oid))
            .set("indrelid", oid(table.oid))
            .set("indnatts", keys.len() as i64)
            .set("indnkeyatts", keys.len() as i64)
            .set("indisunique", true)
            .set("indisprimary", true)
            .set("indimmediate", true)
            .set("indisvalid", true)
            .set("indisready", true)
            .set("indislive", true)
            .set("indkey", int2_array(&keys))
            .set("indcollation", oid_array(&collations))
            .set("indclass", oid_array(&classes))
            .set("indoption", int2_array(&vec![0; keys.len()]));
    }
}

fn pg_constraint(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for (table, index) in primary_keys(snapshot) {
        rows.push()
            .set("oid", oid(table.derived_oid(Derived::PrimaryKeyConstraint)))
            .set("conname", index.name.as_str())
            .set("connamespace", oid(table.namespace))
            .set("contype", "p")
            .set("convalidated", true)
            .set("conrelid", oid(table.oid))
            .set("conindid", oid(index.oid))
            .set("confupdtype", " ")
            .set("confdeltype", " ")
            .set("confmatchtype", " ")
            .set("conislocal", true)
            .set("connoinherit", true)
            .set("conkey", int2_array(&key_attnums(table)));
    }
}

fn pg_attrdef(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in &snapshot.relations {
        for (index, column) in relation.columns.iter().enumerate() {
            let Some(default) = &column.default else {
                continue;
            };
            let attnum = index as i16 + 1;
            rows.push()
                .set(
                    "oid",
                    oid(relation.derived_oid(Derived::ColumnDefault(attnum))),
                )
                .set("adrelid", oid(relation.oid))
                .set("adnum", attnum)
                .set("adbin", default.as_str());
        }
    }
}

fn pg_database(_: &CatalogSnapshot, rows: &mut Rows) {
    rows.push()
        .set("oid", oid(DATABASE_OID))
        .set("datname", DATABASE_NAME)
        .set("datdba", oid(ROLE_OID))
        .set("encoding", 6i32)
        .set("datlocprovider", "c")
        .set("datallowconn", true)
        .set("datconnlimit", -1i32)
        .set("datminmxid", 1i32)
        .set("dattablespace", oid(1663))
        .set("datcollate", "C")
        .set("datctype", "C");
}

fn pg_am(_: &CatalogSnapshot, rows: &mut Rows) {
    let methods = [
        (HEAP_AM, "heap", "heap_tableam_handler", "t"),
        (BTREE_AM, "btree", "bthandler", "i"),
        (405, "hash", "hashhandler", "i"),
    ];
    for (id, name, handler, kind) in methods {
        rows.push()
            .set("oid", oid(id))
            .set("amname", name)
            .set("amhandler", handler)
            .set("amtype", kind);
    }
}

/// The catalog functions Sluice implements, as `pg_proc` rows: (oid, name, result type,
/// argument types), PostgreSQL's OIDs.
const FUNCTIONS: &[(u32, &str, u32, &[u32])] = &[
    (1081, "format_type", 25, &[26, 23]),
    (1716, "pg_get_expr", 25, &[194, 26]),
    (1643, "pg_get_indexdef", 25, &[26]),
    (1387, "pg_get_constraintdef", 25, &[26]),
    (1641, "pg_get_viewdef", 25, &[26]),
    (2079, "pg_table_is_visible", 16, &[26]),
    (1642, "pg_get_userbyid", 19, &[26]),
    (1215, "obj_description", 25, &[26, 19]),
    (1216, "col_description", 25, &[26, 23]),
    (1402, "current_schema", 19, &[]),
    (1403, "current_schemas", 1003, &[16]),
    (861, "current_database", 19, &[]),
    (89, "version", 25, &[]),
    (1922, "has_table_privilege", 16, &[25, 25]),
    (1597, "pg_encoding_to_char", 19, &[23]),
    (3494, "to_regclass", 2205, &[25]),
    (3493, "to_regtype", 2206, &[25]),
    (2077, "current_setting", 25, &[25]),
    (2078, "set_config", 25, &[25, 25, 16]),
];

fn pg_proc(_: &CatalogSnapshot, rows: &mut Rows) {
    for (id, name, result, arguments) in FUNCTIONS {
        rows.push()
            .set("oid", oid(*id))
            .set("proname", *name)
            .set("pronamespace", oid(PG_CATALOG_NAMESPACE))
            .set("proowner", oid(ROLE_OID))
            .set("prolang", oid(12))
            .set("procost", 1.0f32)
            .set("prosupport", "-")
            .set("prokind", "f")
            .set("proisstrict", true)
            .set("provolatile", "s")
            .set("proparallel", "s")
            .set("pronargs", arguments.len() as i64)
            .set("prorettype", oid(*result))
            .set("proargtypes", oid_array(arguments))
            .set("prosrc", *name);
    }
}

fn pg_collation(_: &CatalogSnapshot, rows: &mut Rows) {
    let collations = [
        (DEFAULT_COLLATION, "default", "d", None),
        (950, "C", "c", Some("C")),
        (951, "POSIX", "c", Some("POSIX")),
    ];
    for (id, name, provider, locale) in collations {
        rows.push()
            .set("oid", oid(id))
            .set("collname", name)
            .set("collnamespace", oid(PG_CATALOG_NAMESPACE))
            .set("collowner", oid(ROLE_OID))
            .set("collprovider", provider)
            .set("collisdeterministic", true)
            .set("collencoding", -1i32)
            .set("collcollate", locale)
            .set("collctype", locale);
    }
}

fn pg_tablespace(_: &CatalogSnapshot, rows: &mut Rows) {
    for (id, name) in [(1663, "pg_default"), (1664, "pg_global")] {
        rows.push()
            .set("oid", oid(id))
            .set("spcname", name)
            .set("spcowner", oid(ROLE_OID));
    }
}

fn pg_rewrite(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in &snapshot.relations {
        if !matches!(
            relation.kind,
            RelationKind::View | RelationKind::MaterializedView
        ) || relation.number.is_none()
        {
            continue;
        }
        rows.push()
            .set("oid", oid(relation.derived_oid(Derived::ViewRule)))
            .set("rulename", "_RETURN")
            .set("ev_class", oid(relation.oid))
            .set("ev_type", "1")
            .set("ev_enabled", "O")
            .set("is_instead", true)
            .set("ev_qual", "<>")
            .set("ev_action", relation.definition.as_deref().unwrap_or(""));
    }
}

fn pg_opclass(_: &CatalogSnapshot, rows: &mut Rows) {
    for (id, name, input, family, key) in types::BTREE_OPCLASSES {
        rows.push()
            .set("oid", oid(*id))
            .set("opcmethod", oid(BTREE_AM))
            .set("opcname", *name)
            .set("opcnamespace", oid(PG_CATALOG_NAMESPACE))
            .set("opcowner", oid(ROLE_OID))
            .set("opcfamily", oid(*family))
            .set("opcintype", oid(*input))
            .set("opcdefault", true)
            .set("opckeytype", oid(*key));
    }
}

fn pg_language(_: &CatalogSnapshot, rows: &mut Rows) {
    for (id, name, trusted, validator) in [
        (12, "internal", false, 2246),
        (13, "c", false, 2247),
        (14, "sql", true, 2248),
    ] {
        rows.push()
            .set("oid", oid(id))
            .set("lanname", name)
            .set("lanowner", oid(ROLE_OID))
            .set("lanpltrusted", trusted)
            .set("lanvalidator", oid(validator));
    }
}

fn pg_roles(_: &CatalogSnapshot, rows: &mut Rows) {
    let mut row = rows.push();
    row.set("rolname", ROLE_NAME)
        .set("rolconnlimit", -1i32)
        .set("rolpassword", "********")
        .set("oid", oid(ROLE_OID));
    for flag in [
        "rolsuper",
        "rolinherit",
        "rolcreaterole",
        "rolcreatedb",
        "rolcanlogin",
        "rolreplication",
        "rolbypassrls",
    ] {
        row.set(flag, true);
    }
}

fn pg_user(_: &CatalogSnapshot, rows: &mut Rows) {
    let mut row = rows.push();
    row.set("usename", ROLE_NAME)
        .set("usesysid", oid(ROLE_OID))
        .set("passwd", "********");
    for flag in ["usecreatedb", "usesuper", "userepl", "usebypassrls"] {
        row.set(flag, true);
    }
}

fn pg_settings(_: &CatalogSnapshot, rows: &mut Rows) {
    for (name, value, vartype, category, description) in SETTINGS {
        let preset = *category == "Preset Options";
        rows.push()
            .set("name", *name)
            .set("setting", *value)
            .set("category", *category)
            .set("short_desc", *description)
            .set("context", if preset { "internal" } else { "user" })
            .set("vartype", *vartype)
            .set("source", "default")
            .set("boot_val", *value)
            .set("reset_val", *value)
            .set("pending_restart", false);
    }
}

fn pg_tables(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in relations_of_kind(snapshot, RelationKind::Table) {
        rows.push()
            .set("schemaname", relation.namespace_name())
            .set("tablename", relation.name.as_str())
            .set("tableowner", ROLE_NAME)
            .set("hasindexes", has_primary_key(relation))
            .set("hasrules", false)
            .set("hastriggers", false)
            .set("rowsecurity", false);
    }
}

fn pg_views(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in relations_of_kind(snapshot, RelationKind::View) {
        rows.push()
            .set("schemaname", relation.namespace_name())
            .set("viewname", relation.name.as_str())
            .set("viewowner", ROLE_NAME)
            .set("definition", view_definition(relation));
    }
}

fn pg_matviews(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for relation in relations_of_kind(snapshot, RelationKind::MaterializedView) {
        rows.push()
            .set("schemaname", relation.namespace_name())
            .set("matviewname", relation.name.as_str())
            .set("matviewowner", ROLE_NAME)
            .set("hasindexes", false)
            .set("ispopulated", true)
            .set("definition", view_definition(relation));
    }
}

fn pg_indexes(snapshot: &CatalogSnapshot, rows: &mut Rows) {
    for (table, index) in primary_keys(snapshot) {
        rows.push()
            .set("schemaname", table.namespace_name())
            .set("tablename", table.name.as_str())
            .set("indexname", index.name.as_str())
            .set("indexdef", index_definition(table, index));
    }
}

fn relations_of_kind(
    snapshot: &CatalogSnapshot,
    kind: RelationKind,
) -> impl Iterator<Item = &Relation> {
    snapshot
        .relations
        .iter()
        .filter(move |r| r.kind == kind)
        .map(|r| r.as_ref())
}

/// A view's definition as `pg_get_viewdef` prints it (` SELECT ...;`), NULL if unknown.
pub(crate) fn view_definition(relation: &Relation) -> datafusion::common::ScalarValue {
    match &relation.definition {
        Some(definition) => format!(" {};", definition.trim_end_matches(';')).into(),
        None => null(),
    }
}

/// `CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)`, as `pg_get_indexdef` prints.
pub(crate) fn index_definition(table: &Relation, index: &Relation) -> String {
    format!(
        "CREATE UNIQUE INDEX {} ON {}.{} USING btree ({})",
        super::quote_identifier(&index.name),
        super::quote_identifier(table.namespace_name()),
        super::quote_identifier(&table.name),
        column_list(index)
    )
}

/// `PRIMARY KEY (id)`, as `pg_get_constraintdef` prints.
pub(crate) fn constraint_definition(index: &Relation) -> String {
    format!("PRIMARY KEY ({})", column_list(index))
}

fn column_list(index: &Relation) -> String {
    index
        .columns
        .iter()
        .map(|c| super::quote_identifier(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_found_case_insensitively() {
        assert_eq!(setting("datestyle"), Some("ISO, MDY"));
        assert_eq!(setting("TimeZone"), Some("UTC"));
        assert_eq!(setting("no_such_setting"), None);
    }
}
