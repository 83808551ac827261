//! PostgreSQL's built-in types as Sluice reports them: the rows of `pg_type`, the mapping
//! from Arrow types to PostgreSQL type OIDs and type modifiers, and `format_type`.
//!
//! Invariants:
//! - Every OID, name and attribute in [`PG_TYPES`] is PostgreSQL 15's own (the table was
//!   generated from a PostgreSQL 15 `pg_type` and is checked against one by
//!   `planner/tests/pg_catalog.rs`).
//! - [`arrow_to_pg`] agrees with `arrow_pg::datatypes::into_pg_type`, which the server uses
//!   for RowDescription, so `format_type(atttypid, atttypmod)` names the type a client sees
//!   on the wire. Field metadata `pg.oid_alias = oid` and `pg.char` (the markers arrow-pg
//!   reads) map to `oid` and `"char"`.

use arrow::datatypes::{DataType, Field, TimeUnit};

/// Field metadata key arrow-pg reads to report an `Int32` column as an OID alias type.
pub(crate) const OID_ALIAS_KEY: &str = "pg.oid_alias";
/// Field metadata key arrow-pg reads to report a `Utf8` column as PostgreSQL's `"char"`.
pub(crate) const CHAR_KEY: &str = "pg.char";

/// Type OIDs used by name in the catalog code.
pub(crate) mod oids {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const OID_ARRAY: u32 = 1028;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const TIMETZ: u32 = 1266;
    pub const BIT: u32 = 1560;
    pub const VARBIT: u32 = 1562;
    pub const NUMERIC: u32 = 1700;
    pub const JSONB: u32 = 3802;
    pub const RECORD: u32 = 2249;
    pub const RECORD_ARRAY: u32 = 2287;
}

/// One row of `pg_type` (the columns that differ between types).
#[derive(Debug)]
pub(crate) struct PgType {
    pub oid: u32,
    pub name: &'static str,
    pub len: i16,
    pub by_value: bool,
    pub kind: char,
    pub category: char,
    pub preferred: bool,
    pub delimiter: char,
    pub element: u32,
    pub array: u32,
    pub input: &'static str,
    pub output: &'static str,
    pub receive: &'static str,
    pub send: &'static str,
    pub modifier_input: &'static str,
    pub modifier_output: &'static str,
    pub analyze: &'static str,
    pub align: char,
    pub storage: char,
    pub collation: u32,
    pub subscript: &'static str,
    /// `format_type(oid, NULL)`.
    pub display: &'static str,
}

impl PgType {
    /// A "true" array type (`_int4`, not `int2vector` or `name`).
    pub fn is_array(&self) -> bool {
        self.element != 0 && self.subscript == "array_subscript_handler" && self.storage != 'p'
    }
}

/// The types Sluice can return or describe, PostgreSQL's values, ordered by OID.
#[rustfmt::skip]
pub(crate) const PG_TYPES: &[PgType] = &[
    PgType { oid: 16, name: "bool", len: 1, by_value: true, kind: 'b', category: 'B', preferred: true, delimiter: ',', element: 0, array: 1000, input: "boolin", output: "boolout", receive: "boolrecv", send: "boolsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'c', storage: 'p', collation: 0, subscript: "-", display: "boolean" },
    PgType { oid: 17, name: "bytea", len: -1, by_value: false, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 1001, input: "byteain", output: "byteaout", receive: "bytearecv", send: "byteasend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'x', collation: 0, subscript: "-", display: "bytea" },
    PgType { oid: 18, name: "char", len: 1, by_value: true, kind: 'b', category: 'Z', preferred: false, delimiter: ',', element: 0, array: 1002, input: "charin", output: "charout", receive: "charrecv", send: "charsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'c', storage: 'p', collation: 0, subscript: "-", display: "\"char\"" },
    PgType { oid: 19, name: "name", len: 64, by_value: false, kind: 'b', category: 'S', preferred: false, delimiter: ',', element: 18, array: 1003, input: "namein", output: "nameout", receive: "namerecv", send: "namesend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'c', storage: 'p', collation: 950, subscript: "raw_array_subscript_handler", display: "name" },
    PgType { oid: 20, name: "int8", len: 8, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 1016, input: "int8in", output: "int8out", receive: "int8recv", send: "int8send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'd', storage: 'p', collation: 0, subscript: "-", display: "bigint" },
    PgType { oid: 21, name: "int2", len: 2, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 1005, input: "int2in", output: "int2out", receive: "int2recv", send: "int2send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 's', storage: 'p', collation: 0, subscript: "-", display: "smallint" },
    PgType { oid: 22, name: "int2vector", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 21, array: 1006, input: "int2vectorin", output: "int2vectorout", receive: "int2vectorrecv", send: "int2vectorsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "array_subscript_handler", display: "int2vector" },
    PgType { oid: 23, name: "int4", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 1007, input: "int4in", output: "int4out", receive: "int4recv", send: "int4send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "integer" },
    PgType { oid: 24, name: "regproc", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 1008, input: "regprocin", output: "regprocout", receive: "regprocrecv", send: "regprocsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regproc" },
    PgType { oid: 25, name: "text", len: -1, by_value: false, kind: 'b', category: 'S', preferred: true, delimiter: ',', element: 0, array: 1009, input: "textin", output: "textout", receive: "textrecv", send: "textsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'x', collation: 100, subscript: "-", display: "text" },
    PgType { oid: 26, name: "oid", len: 4, by_value: true, kind: 'b', category: 'N', preferred: true, delimiter: ',', element: 0, array: 1028, input: "oidin", output: "oidout", receive: "oidrecv", send: "oidsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "oid" },
    PgType { oid: 27, name: "tid", len: 6, by_value: false, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 1010, input: "tidin", output: "tidout", receive: "tidrecv", send: "tidsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 's', storage: 'p', collation: 0, subscript: "-", display: "tid" },
    PgType { oid: 28, name: "xid", len: 4, by_value: true, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 1011, input: "xidin", output: "xidout", receive: "xidrecv", send: "xidsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "xid" },
    PgType { oid: 29, name: "cid", len: 4, by_value: true, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 1012, input: "cidin", output: "cidout", receive: "cidrecv", send: "cidsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "cid" },
    PgType { oid: 30, name: "oidvector", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 26, array: 1013, input: "oidvectorin", output: "oidvectorout", receive: "oidvectorrecv", send: "oidvectorsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "array_subscript_handler", display: "oidvector" },
    PgType { oid: 114, name: "json", len: -1, by_value: false, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 199, input: "json_in", output: "json_out", receive: "json_recv", send: "json_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'x', collation: 0, subscript: "-", display: "json" },
    PgType { oid: 194, name: "pg_node_tree", len: -1, by_value: false, kind: 'b', category: 'Z', preferred: false, delimiter: ',', element: 0, array: 0, input: "pg_node_tree_in", output: "pg_node_tree_out", receive: "pg_node_tree_recv", send: "pg_node_tree_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'x', collation: 100, subscript: "-", display: "pg_node_tree" },
    PgType { oid: 199, name: "_json", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 114, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "json[]" },
    PgType { oid: 700, name: "float4", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 1021, input: "float4in", output: "float4out", receive: "float4recv", send: "float4send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "real" },
    PgType { oid: 701, name: "float8", len: 8, by_value: true, kind: 'b', category: 'N', preferred: true, delimiter: ',', element: 0, array: 1022, input: "float8in", output: "float8out", receive: "float8recv", send: "float8send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'd', storage: 'p', collation: 0, subscript: "-", display: "double precision" },
    PgType { oid: 705, name: "unknown", len: -2, by_value: false, kind: 'p', category: 'X', preferred: false, delimiter: ',', element: 0, array: 0, input: "unknownin", output: "unknownout", receive: "unknownrecv", send: "unknownsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'c', storage: 'p', collation: 0, subscript: "-", display: "unknown" },
    PgType { oid: 1000, name: "_bool", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 16, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "boolean[]" },
    PgType { oid: 1001, name: "_bytea", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 17, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "bytea[]" },
    PgType { oid: 1002, name: "_char", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 18, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "\"char\"[]" },
    PgType { oid: 1003, name: "_name", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 19, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 950, subscript: "array_subscript_handler", display: "name[]" },
    PgType { oid: 1005, name: "_int2", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 21, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "smallint[]" },
    PgType { oid: 1006, name: "_int2vector", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 22, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "int2vector[]" },
    PgType { oid: 1007, name: "_int4", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 23, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "integer[]" },
    PgType { oid: 1008, name: "_regproc", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 24, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regproc[]" },
    PgType { oid: 1009, name: "_text", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 25, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 100, subscript: "array_subscript_handler", display: "text[]" },
    PgType { oid: 1010, name: "_tid", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 27, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "tid[]" },
    PgType { oid: 1011, name: "_xid", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 28, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "xid[]" },
    PgType { oid: 1012, name: "_cid", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 29, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "cid[]" },
    PgType { oid: 1013, name: "_oidvector", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 30, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "oidvector[]" },
    PgType { oid: 1014, name: "_bpchar", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1042, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "bpchartypmodin", modifier_output: "bpchartypmodout", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 100, subscript: "array_subscript_handler", display: "character[]" },
    PgType { oid: 1015, name: "_varchar", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1043, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "varchartypmodin", modifier_output: "varchartypmodout", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 100, subscript: "array_subscript_handler", display: "character varying[]" },
    PgType { oid: 1016, name: "_int8", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 20, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "bigint[]" },
    PgType { oid: 1021, name: "_float4", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 700, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "real[]" },
    PgType { oid: 1022, name: "_float8", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 701, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "double precision[]" },
    PgType { oid: 1028, name: "_oid", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 26, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "oid[]" },
    PgType { oid: 1033, name: "aclitem", len: 12, by_value: false, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 1034, input: "aclitemin", output: "aclitemout", receive: "-", send: "-", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "aclitem" },
    PgType { oid: 1034, name: "_aclitem", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1033, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "aclitem[]" },
    PgType { oid: 1042, name: "bpchar", len: -1, by_value: false, kind: 'b', category: 'S', preferred: false, delimiter: ',', element: 0, array: 1014, input: "bpcharin", output: "bpcharout", receive: "bpcharrecv", send: "bpcharsend", modifier_input: "bpchartypmodin", modifier_output: "bpchartypmodout", analyze: "-", align: 'i', storage: 'x', collation: 100, subscript: "-", display: "character" },
    PgType { oid: 1043, name: "varchar", len: -1, by_value: false, kind: 'b', category: 'S', preferred: false, delimiter: ',', element: 0, array: 1015, input: "varcharin", output: "varcharout", receive: "varcharrecv", send: "varcharsend", modifier_input: "varchartypmodin", modifier_output: "varchartypmodout", analyze: "-", align: 'i', storage: 'x', collation: 100, subscript: "-", display: "character varying" },
    PgType { oid: 1082, name: "date", len: 4, by_value: true, kind: 'b', category: 'D', preferred: false, delimiter: ',', element: 0, array: 1182, input: "date_in", output: "date_out", receive: "date_recv", send: "date_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "date" },
    PgType { oid: 1083, name: "time", len: 8, by_value: true, kind: 'b', category: 'D', preferred: false, delimiter: ',', element: 0, array: 1183, input: "time_in", output: "time_out", receive: "time_recv", send: "time_send", modifier_input: "timetypmodin", modifier_output: "timetypmodout", analyze: "-", align: 'd', storage: 'p', collation: 0, subscript: "-", display: "time without time zone" },
    PgType { oid: 1114, name: "timestamp", len: 8, by_value: true, kind: 'b', category: 'D', preferred: false, delimiter: ',', element: 0, array: 1115, input: "timestamp_in", output: "timestamp_out", receive: "timestamp_recv", send: "timestamp_send", modifier_input: "timestamptypmodin", modifier_output: "timestamptypmodout", analyze: "-", align: 'd', storage: 'p', collation: 0, subscript: "-", display: "timestamp without time zone" },
    PgType { oid: 1115, name: "_timestamp", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1114, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "timestamptypmodin", modifier_output: "timestamptypmodout", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "timestamp without time zone[]" },
    PgType { oid: 1182, name: "_date", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1082, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "date[]" },
    PgType { oid: 1183, name: "_time", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1083, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "timetypmodin", modifier_output: "timetypmodout", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "time without time zone[]" },
    PgType { oid: 1184, name: "timestamptz", len: 8, by_value: true, kind: 'b', category: 'D', preferred: true, delimiter: ',', element: 0, array: 1185, input: "timestamptz_in", output: "timestamptz_out", receive: "timestamptz_recv", send: "timestamptz_send", modifier_input: "timestamptztypmodin", modifier_output: "timestamptztypmodout", analyze: "-", align: 'd', storage: 'p', collation: 0, subscript: "-", display: "timestamp with time zone" },
    PgType { oid: 1185, name: "_timestamptz", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1184, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "timestamptztypmodin", modifier_output: "timestamptztypmodout", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "timestamp with time zone[]" },
    PgType { oid: 1186, name: "interval", len: 16, by_value: false, kind: 'b', category: 'T', preferred: true, delimiter: ',', element: 0, array: 1187, input: "interval_in", output: "interval_out", receive: "interval_recv", send: "interval_send", modifier_input: "intervaltypmodin", modifier_output: "intervaltypmodout", analyze: "-", align: 'd', storage: 'p', collation: 0, subscript: "-", display: "interval" },
    PgType { oid: 1187, name: "_interval", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1186, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "intervaltypmodin", modifier_output: "intervaltypmodout", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "interval[]" },
    PgType { oid: 1231, name: "_numeric", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1700, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "numerictypmodin", modifier_output: "numerictypmodout", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "numeric[]" },
    PgType { oid: 1263, name: "_cstring", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 2275, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "cstring[]" },
    PgType { oid: 1266, name: "timetz", len: 12, by_value: false, kind: 'b', category: 'D', preferred: false, delimiter: ',', element: 0, array: 1270, input: "timetz_in", output: "timetz_out", receive: "timetz_recv", send: "timetz_send", modifier_input: "timetztypmodin", modifier_output: "timetztypmodout", analyze: "-", align: 'd', storage: 'p', collation: 0, subscript: "-", display: "time with time zone" },
    PgType { oid: 1270, name: "_timetz", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1266, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "timetztypmodin", modifier_output: "timetztypmodout", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "time with time zone[]" },
    PgType { oid: 1560, name: "bit", len: -1, by_value: false, kind: 'b', category: 'V', preferred: false, delimiter: ',', element: 0, array: 1561, input: "bit_in", output: "bit_out", receive: "bit_recv", send: "bit_send", modifier_input: "bittypmodin", modifier_output: "bittypmodout", analyze: "-", align: 'i', storage: 'x', collation: 0, subscript: "-", display: "bit" },
    PgType { oid: 1561, name: "_bit", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1560, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "bittypmodin", modifier_output: "bittypmodout", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "bit[]" },
    PgType { oid: 1562, name: "varbit", len: -1, by_value: false, kind: 'b', category: 'V', preferred: true, delimiter: ',', element: 0, array: 1563, input: "varbit_in", output: "varbit_out", receive: "varbit_recv", send: "varbit_send", modifier_input: "varbittypmodin", modifier_output: "varbittypmodout", analyze: "-", align: 'i', storage: 'x', collation: 0, subscript: "-", display: "bit varying" },
    PgType { oid: 1563, name: "_varbit", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1562, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "varbittypmodin", modifier_output: "varbittypmodout", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "bit varying[]" },
    PgType { oid: 1700, name: "numeric", len: -1, by_value: false, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 1231, input: "numeric_in", output: "numeric_out", receive: "numeric_recv", send: "numeric_send", modifier_input: "numerictypmodin", modifier_output: "numerictypmodout", analyze: "-", align: 'i', storage: 'm', collation: 0, subscript: "-", display: "numeric" },
    PgType { oid: 1790, name: "refcursor", len: -1, by_value: false, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 2201, input: "textin", output: "textout", receive: "textrecv", send: "textsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'x', collation: 0, subscript: "-", display: "refcursor" },
    PgType { oid: 2201, name: "_refcursor", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 1790, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "refcursor[]" },
    PgType { oid: 2202, name: "regprocedure", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 2207, input: "regprocedurein", output: "regprocedureout", receive: "regprocedurerecv", send: "regproceduresend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regprocedure" },
    PgType { oid: 2203, name: "regoper", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 2208, input: "regoperin", output: "regoperout", receive: "regoperrecv", send: "regopersend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regoper" },
    PgType { oid: 2204, name: "regoperator", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 2209, input: "regoperatorin", output: "regoperatorout", receive: "regoperatorrecv", send: "regoperatorsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regoperator" },
    PgType { oid: 2205, name: "regclass", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 2210, input: "regclassin", output: "regclassout", receive: "regclassrecv", send: "regclasssend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regclass" },
    PgType { oid: 2206, name: "regtype", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 2211, input: "regtypein", output: "regtypeout", receive: "regtyperecv", send: "regtypesend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regtype" },
    PgType { oid: 2207, name: "_regprocedure", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 2202, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regprocedure[]" },
    PgType { oid: 2208, name: "_regoper", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 2203, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regoper[]" },
    PgType { oid: 2209, name: "_regoperator", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 2204, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regoperator[]" },
    PgType { oid: 2210, name: "_regclass", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 2205, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regclass[]" },
    PgType { oid: 2211, name: "_regtype", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 2206, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regtype[]" },
    PgType { oid: 2249, name: "record", len: -1, by_value: false, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 0, array: 2287, input: "record_in", output: "record_out", receive: "record_recv", send: "record_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'd', storage: 'x', collation: 0, subscript: "-", display: "record" },
    PgType { oid: 2275, name: "cstring", len: -2, by_value: false, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 0, array: 1263, input: "cstring_in", output: "cstring_out", receive: "cstring_recv", send: "cstring_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'c', storage: 'p', collation: 0, subscript: "-", display: "cstring" },
    PgType { oid: 2276, name: "any", len: 4, by_value: true, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 0, array: 0, input: "any_in", output: "any_out", receive: "-", send: "-", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "\"any\"" },
    PgType { oid: 2277, name: "anyarray", len: -1, by_value: false, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 0, array: 0, input: "anyarray_in", output: "anyarray_out", receive: "anyarray_recv", send: "anyarray_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'd', storage: 'x', collation: 0, subscript: "-", display: "anyarray" },
    PgType { oid: 2278, name: "void", len: 4, by_value: true, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 0, array: 0, input: "void_in", output: "void_out", receive: "void_recv", send: "void_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "void" },
    PgType { oid: 2283, name: "anyelement", len: 4, by_value: true, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 0, array: 0, input: "anyelement_in", output: "anyelement_out", receive: "-", send: "-", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "anyelement" },
    PgType { oid: 2287, name: "_record", len: -1, by_value: false, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 2249, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'd', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "record[]" },
    PgType { oid: 2776, name: "anynonarray", len: 4, by_value: true, kind: 'p', category: 'P', preferred: false, delimiter: ',', element: 0, array: 0, input: "anynonarray_in", output: "anynonarray_out", receive: "-", send: "-", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "anynonarray" },
    PgType { oid: 2950, name: "uuid", len: 16, by_value: false, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 2951, input: "uuid_in", output: "uuid_out", receive: "uuid_recv", send: "uuid_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'c', storage: 'p', collation: 0, subscript: "-", display: "uuid" },
    PgType { oid: 2951, name: "_uuid", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 2950, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "uuid[]" },
    PgType { oid: 3734, name: "regconfig", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 3735, input: "regconfigin", output: "regconfigout", receive: "regconfigrecv", send: "regconfigsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regconfig" },
    PgType { oid: 3735, name: "_regconfig", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 3734, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regconfig[]" },
    PgType { oid: 3769, name: "regdictionary", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 3770, input: "regdictionaryin", output: "regdictionaryout", receive: "regdictionaryrecv", send: "regdictionarysend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regdictionary" },
    PgType { oid: 3770, name: "_regdictionary", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 3769, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regdictionary[]" },
    PgType { oid: 3802, name: "jsonb", len: -1, by_value: false, kind: 'b', category: 'U', preferred: false, delimiter: ',', element: 0, array: 3807, input: "jsonb_in", output: "jsonb_out", receive: "jsonb_recv", send: "jsonb_send", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'x', collation: 0, subscript: "jsonb_subscript_handler", display: "jsonb" },
    PgType { oid: 3807, name: "_jsonb", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 3802, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "jsonb[]" },
    PgType { oid: 4089, name: "regnamespace", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 4090, input: "regnamespacein", output: "regnamespaceout", receive: "regnamespacerecv", send: "regnamespacesend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regnamespace" },
    PgType { oid: 4090, name: "_regnamespace", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 4089, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regnamespace[]" },
    PgType { oid: 4096, name: "regrole", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 4097, input: "regrolein", output: "regroleout", receive: "regrolerecv", send: "regrolesend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regrole" },
    PgType { oid: 4097, name: "_regrole", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 4096, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regrole[]" },
    PgType { oid: 4191, name: "regcollation", len: 4, by_value: true, kind: 'b', category: 'N', preferred: false, delimiter: ',', element: 0, array: 4192, input: "regcollationin", output: "regcollationout", receive: "regcollationrecv", send: "regcollationsend", modifier_input: "-", modifier_output: "-", analyze: "-", align: 'i', storage: 'p', collation: 0, subscript: "-", display: "regcollation" },
    PgType { oid: 4192, name: "_regcollation", len: -1, by_value: false, kind: 'b', category: 'A', preferred: false, delimiter: ',', element: 4191, array: 0, input: "array_in", output: "array_out", receive: "array_recv", send: "array_send", modifier_input: "-", modifier_output: "-", analyze: "array_typanalyze", align: 'i', storage: 'x', collation: 0, subscript: "array_subscript_handler", display: "regcollation[]" },
];

/// The `pg_type` row of `oid`.
pub(crate) fn by_oid(oid: u32) -> Option<&'static PgType> {
    PG_TYPES
        .binary_search_by_key(&oid, |t| t.oid)
        .ok()
        .and_then(|i| PG_TYPES.get(i))
}

/// The `pg_type` row named `name` (`int4`, `_text`).
pub(crate) fn by_name(name: &str) -> Option<&'static PgType> {
    PG_TYPES.iter().find(|t| t.name == name)
}

/// The type OID and type modifier PostgreSQL would report for an Arrow type: the type
/// `arrow_pg::datatypes::into_pg_type` puts in RowDescription, and the modifier PostgreSQL
/// derives from the declared precision (`numeric(10,2)`, `timestamp(3)`); -1 when none.
/// Types arrow-pg cannot send map to `unknown`.
pub(crate) fn arrow_to_pg(data_type: &DataType) -> (u32, i32) {
    match data_type {
        DataType::Null => (oids::UNKNOWN, -1),
        DataType::Boolean => (oids::BOOL, -1),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => (oids::INT2, -1),
        DataType::Int32 | DataType::UInt16 => (oids::INT4, -1),
        DataType::Int64 | DataType::UInt32 => (oids::INT8, -1),
        DataType::UInt64 => (oids::NUMERIC, -1),
        DataType::Float16 | DataType::Float32 => (oids::FLOAT4, -1),
        DataType::Float64 => (oids::FLOAT8, -1),
        DataType::Decimal32(precision, scale)
        | DataType::Decimal64(precision, scale)
        | DataType::Decimal128(precision, scale)
        | DataType::Decimal256(precision, scale) => {
            let scale = (*scale).max(0) as i32;
            (oids::NUMERIC, ((*precision as i32) << 16 | scale) + 4)
        }
        DataType::Timestamp(unit, zone) => {
            let oid = if zone.is_some() {
                oids::TIMESTAMPTZ
            } else {
                oids::TIMESTAMP
            };
            (oid, time_precision(unit))
        }
        DataType::Time32(unit) | DataType::Time64(unit) => (oids::TIME, time_precision(unit)),
        DataType::Date32 | DataType::Date64 => (oids::DATE, -1),
        DataType::Interval(_) | DataType::Duration(_) => (oids::INTERVAL, -1),
        DataType::Binary
        | DataType::FixedSizeBinary(_)
        | DataType::LargeBinary
        | DataType::BinaryView => (oids::BYTEA, -1),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => (oids::TEXT, -1),
        DataType::Dictionary(_, value) => arrow_to_pg(value),
        // Values holding maps are sent as JSON (see `streaming::json::contains_map`).
        _ if crate::streaming::json::contains_map(data_type) => (oids::JSONB, -1),
        DataType::Struct(_) => (oids::RECORD, -1),
        DataType::List(element)
        | DataType::LargeList(element)
        | DataType::FixedSizeList(element, _)
        | DataType::ListView(element)
        | DataType::LargeListView(element) => match element.data_type() {
            // arrow-pg reports an array of unknown element type as text[].
            DataType::Null => (array_of(oids::TEXT), -1),
            DataType::Struct(_) => (oids::RECORD_ARRAY, -1),
            inner => {
                let (oid, modifier) = arrow_to_pg(inner);
                match by_oid(oid).map(|t| t.array) {
                    Some(array) if array != 0 => (array, modifier),
                    _ => (oids::UNKNOWN, -1),
                }
            }
        },
        _ => (oids::UNKNOWN, -1),
    }
}

/// Like [`arrow_to_pg`], honouring the field metadata arrow-pg reads (`oid`, `"char"`).
pub(crate) fn field_to_pg(field: &Field) -> (u32, i32) {
    let metadata = field.metadata();
    if metadata.get(CHAR_KEY).is_some() {
        return (oids::CHAR, -1);
    }
    if let Some(alias) = metadata.get(OID_ALIAS_KEY) {
        if let Some(t) = by_name(alias) {
            return (t.oid, -1);
        }
    }
    if crate::streaming::json::shown_as_jsonb(field) {
        return (oids::JSONB, -1);
    }
    arrow_to_pg(field.data_type())
}

fn array_of(oid: u32) -> u32 {
    by_oid(oid).map(|t| t.array).unwrap_or(0)
}

/// The fractional-second precision PostgreSQL records for a time unit; nanoseconds (more
/// than PostgreSQL keeps, DataFusion's default) record none.
fn time_precision(unit: &TimeUnit) -> i32 {
    match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => -1,
    }
}

/// PostgreSQL's `format_type(oid, typmod)`: the SQL name of a type, with its modifier when
/// `typmod` is given and not negative. `???` for an unknown OID, as PostgreSQL prints.
pub(crate) fn format_type(oid: u32, typmod: Option<i32>) -> String {
    let Some(pg_type) = by_oid(oid) else {
        return "???".to_string();
    };
    if pg_type.is_array() {
        return format!("{}[]", format_type(pg_type.element, typmod));
    }
    let modifier = typmod.filter(|m| *m >= 0);
    let Some(modifier) = modifier else {
        if oid == oids::BPCHAR && typmod.is_some() {
            return "bpchar".to_string();
        }
        return pg_type.display.to_string();
    };
    match oid {
        oids::BPCHAR => format!("character({})", modifier - 4),
        oids::VARCHAR => format!("character varying({})", modifier - 4),
        oids::NUMERIC => {
            let packed = modifier - 4;
            format!("numeric({},{})", (packed >> 16) & 0xffff, packed & 0xffff)
        }
        oids::TIME => format!("time({modifier}) without time zone"),
        oids::TIMETZ => format!("time({modifier}) with time zone"),
        oids::TIMESTAMP => format!("timestamp({modifier}) without time zone"),
        oids::TIMESTAMPTZ => format!("timestamp({modifier}) with time zone"),
        oids::INTERVAL => interval_with_modifier(modifier),
        oids::BIT => format!("bit({modifier})"),
        oids::VARBIT => format!("bit varying({modifier})"),
        _ => pg_type.display.to_string(),
    }
}

/// `interval` with PostgreSQL's packed fields and precision modifier.
fn interval_with_modifier(modifier: i32) -> String {
    const FULL_PRECISION: i32 = 0xffff;
    const FULL_RANGE: i32 = 0x7fff;
    let precision = modifier & 0xffff;
    let range = (modifier >> 16) & 0x7fff;
    // Bits of the interval field mask (datetime.h): YEAR 2, MONTH 1, DAY 3, HOUR 10,
    // MINUTE 11, SECOND 12.
    let bit = |b: i32| 1 << b;
    let fields = match range {
        r if r == FULL_RANGE => "",
        r if r == bit(2) => " year",
        r if r == bit(1) => " month",
        r if r == bit(3) => " day",
        r if r == bit(10) => " hour",
        r if r == bit(11) => " minute",
        r if r == bit(12) => " second",
        r if r == bit(2) | bit(1) => " year to month",
        r if r == bit(3) | bit(10) => " day to hour",
        r if r == bit(3) | bit(10) | bit(11) => " day to minute",
        r if r == bit(3) | bit(10) | bit(11) | bit(12) => " day to second",
        r if r == bit(10) | bit(11) => " hour to minute",
        r if r == bit(10) | bit(11) | bit(12) => " hour to second",
        r if r == bit(11) | bit(12) => " minute to second",
        _ => "",
    };
    if precision == FULL_PRECISION {
        format!("interval{fields}")
    } else {
        format!("interval{fields}({precision})")
    }
}

/// The Arrow field for a catalog column of PostgreSQL type `pg_type_name` (the type names
/// of the generated system relation specs). OID columns are `Int32` tagged as `oid`, and
/// `"char"` columns `Utf8` tagged as `"char"`, so clients see PostgreSQL's wire types.
pub(crate) fn catalog_field(column: &str, pg_type_name: &str, not_null: bool) -> Field {
    let tagged = |key: &str, value: &str| {
        std::collections::HashMap::from([(key.to_string(), value.to_string())])
    };
    let list =
        |inner: DataType| DataType::List(std::sync::Arc::new(Field::new_list_field(inner, true)));
    let field = |data_type: DataType| Field::new(column, data_type, !not_null);
    match pg_type_name {
        "oid" => field(DataType::Int32).with_metadata(tagged(OID_ALIAS_KEY, "oid")),
        // PostgreSQL writes "no value" in these as the zero byte, which arrow-pg cannot
        // send as `"char"`: they are sent as text ('').
        "char" if matches!(column, "attidentity" | "attgenerated" | "attcompression") => {
            field(DataType::Utf8)
        }
        "char" => field(DataType::Utf8).with_metadata(tagged(CHAR_KEY, "char")),
        "bool" => field(DataType::Boolean),
        "int2" => field(DataType::Int16),
        "int4" | "xid" => field(DataType::Int32),
        "int8" => field(DataType::Int64),
        "float4" => field(DataType::Float32),
        "bytea" => field(DataType::Binary),
        "timestamptz" => field(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("+00:00".into()),
        )),
        "_oid" | "oidvector" => field(list(DataType::Int32)),
        "_int2" | "int2vector" => field(list(DataType::Int16)),
        "_text" | "_aclitem" | "_char" | "_name" => field(list(DataType::Utf8)),
        // name, text, varchar, regproc, regtype, pg_node_tree, anyarray: shown as text.
        _ => field(DataType::Utf8),
    }
}

/// The PostgreSQL type OID a catalog column of `pg_type_name` is described with in
/// `pg_attribute` (PostgreSQL's own type, e.g. `name`, `regproc`, `int2vector`).
pub(crate) fn catalog_type_oid(pg_type_name: &str) -> u32 {
    by_name(pg_type_name).map(|t| t.oid).unwrap_or(oids::TEXT)
}

/// The default btree operator class of a type (`pg_index.indclass`), 0 when it has none.
pub(crate) fn default_btree_opclass(type_oid: u32) -> u32 {
    match type_oid {
        oids::INT4 => 1978,
        oids::INT2 => 1979,
        oids::OID => 1981,
        oids::DATE => 3122,
        oids::FLOAT8 => 3123,
        oids::INT8 => 3124,
        oids::NUMERIC => 3125,
        oids::TEXT | oids::VARCHAR => 3126,
        oids::TIMESTAMPTZ => 3127,
        oids::TIMESTAMP => 3128,
        oids::BOOL => 10003,
        oids::BPCHAR => 10004,
        oids::BYTEA => 10006,
        oids::CHAR => 10007,
        oids::FLOAT4 => 10012,
        oids::INTERVAL => 10022,
        oids::NAME => 10028,
        oids::TIME => 10038,
        oids::TIMETZ => 10041,
        2950 => 10065,
        3802 => 10088,
        t if by_oid(t).is_some_and(|t| t.is_array()) => 10000,
        _ => 0,
    }
}

/// The btree operator classes [`default_btree_opclass`] names, as `pg_opclass` rows:
/// (oid, name, input type, family, key type).
pub(crate) const BTREE_OPCLASSES: &[(u32, &str, u32, u32, u32)] = &[
    (1978, "int4_ops", 23, 1976, 0),
    (1979, "int2_ops", 21, 1976, 0),
    (1981, "oid_ops", 26, 1989, 0),
    (3122, "date_ops", 1082, 434, 0),
    (3123, "float8_ops", 701, 1970, 0),
    (3124, "int8_ops", 20, 1976, 0),
    (3125, "numeric_ops", 1700, 1988, 0),
    (3126, "text_ops", 25, 1994, 0),
    (3127, "timestamptz_ops", 1184, 434, 0),
    (3128, "timestamp_ops", 1114, 434, 0),
    (10000, "array_ops", 2277, 397, 0),
    (10003, "bool_ops", 16, 424, 0),
    (10004, "bpchar_ops", 1042, 426, 0),
    (10006, "bytea_ops", 17, 428, 0),
    (10007, "char_ops", 18, 429, 0),
    (10012, "float4_ops", 700, 1970, 0),
    (10022, "interval_ops", 1186, 1982, 0),
    (10028, "name_ops", 19, 1994, 2275),
    (10038, "time_ops", 1083, 1996, 0),
    (10041, "timetz_ops", 1266, 2000, 0),
    (10065, "uuid_ops", 2950, 2968, 0),
    (10088, "jsonb_ops", 3802, 4033, 0),
];
