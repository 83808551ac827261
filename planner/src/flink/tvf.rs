//! Flink window table-valued functions rewritten into calls of Sluice's table functions.
//!
//! `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset]))` and its HOP, CUMULATE and
//! SESSION siblings (positional or named arguments `DATA =>`, `TIMECOL =>`, `SIZE =>`,
//! `SLIDE =>`, `STEP =>`, `MAX_SIZE =>`, `OFFSET =>`, `GAP =>`, in any order) become, with
//! the `TABLE( .. )` wrapper removed:
//!
//! - `sluice_tumble('t', 'ts', size [, offset])`
//! - `sluice_hop('t', 'ts', slide, size [, offset])`
//! - `sluice_cumulate('t', 'ts', step, max_size [, offset])`
//! - `sluice_session('t', 'ts', gap, 'k1,k2')` (partition keys, `''` if none)
//!
//! Invariants: the table and column names are string literals of the folded identifiers
//! (a qualified name as its catalog key, see `crate::names`); interval arguments are copied
//! as written (after the backquote rewrite); arguments always come in the fixed order above.
//! A window over a query (`TABLE (SELECT ..)` or `(SELECT ..)`) passes it as
//! `EXISTS (SELECT ..)`, which the SQL planner plans (CTEs in scope) and the table function
//! takes its input plan from.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::tokenizer::Token;

use super::lex::{string_literal, syntax, Cursor, Lexed, Rendering};
use crate::error::Result;

/// Rewrite only backquotes and window TVFs.
pub fn rewrite_window_tvfs(sql: &str) -> Result<String> {
    let lexed = Lexed::new(sql)?;
    let mut rendering = Rendering::with_backquotes(&lexed);
    add_window_tvfs(&lexed, &mut rendering)?;
    Ok(rendering.render_all(&lexed))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WindowKind {
    Tumble,
    Hop,
    Cumulate,
    Session,
}

impl WindowKind {
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "TUMBLE" => Some(WindowKind::Tumble),
            "HOP" => Some(WindowKind::Hop),
            "CUMULATE" => Some(WindowKind::Cumulate),
            "SESSION" => Some(WindowKind::Session),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            WindowKind::Tumble => "TUMBLE",
            WindowKind::Hop => "HOP",
            WindowKind::Cumulate => "CUMULATE",
            WindowKind::Session => "SESSION",
        }
    }

    fn function(self) -> &'static str {
        match self {
            WindowKind::Tumble => "sluice_tumble",
            WindowKind::Hop => "sluice_hop",
            WindowKind::Cumulate => "sluice_cumulate",
            WindowKind::Session => "sluice_session",
        }
    }

    /// Parameter names in positional order, and how many are required.
    fn parameters(self) -> (&'static [&'static str], usize) {
        match self {
            WindowKind::Tumble => (&["DATA", "TIMECOL", "SIZE", "OFFSET"], 3),
            WindowKind::Hop => (&["DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"], 4),
            WindowKind::Cumulate => (&["DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"], 4),
            WindowKind::Session => (&["DATA", "TIMECOL", "GAP"], 3),
        }
    }
}

/// One argument of a window TVF.
#[derive(Debug)]
enum Argument {
    /// `TABLE name [PARTITION BY keys]` or `[TABLE] (query) [PARTITION BY keys]`.
    Table {
        /// What the function call takes: the name as a string literal, or `EXISTS (query)`.
        source: String,
        partition_keys: Vec<String>,
        partition_position: Option<usize>,
    },
    /// `DESCRIPTOR(column, ..)`.
    Descriptor(Vec<String>),
    /// Any other expression, as rewritten text.
    Expression(String),
}

/// Add a replacement for every window TVF in the statement.
pub(crate) fn add_window_tvfs(lexed: &Lexed, rendering: &mut Rendering) -> Result<()> {
    let significant = &lexed.significant;
    for (at, &table) in significant.iter().enumerate() {
        if !lexed.tokens[table].is_keyword("TABLE") {
            continue;
        }
        let (Some(&open), Some(&function), Some(&call_open)) = (
            significant.get(at + 1),
            significant.get(at + 2),
            significant.get(at + 3),
        ) else {
            continue;
        };
        // The name may be backquoted (DataSQRL writes `` `CUMULATE`(..) ``).
        let Some(kind) = (match &lexed.tokens[function].token {
            Token::Word(word) => WindowKind::from_name(&word.value),
            _ => None,
        }) else {
            continue;
        };
        if lexed.tokens[open].token != Token::LParen
            || lexed.tokens[call_open].token != Token::LParen
        {
            continue;
        }
        let Some(call_close) = lexed.matching_close(call_open) else {
            return Err(syntax(
                format!("expected \")\" closing {}(", kind.name()),
                lexed.position_of(lexed.tokens.len()),
            ));
        };
        let mut after = lexed.cursor(call_close + 1, lexed.tokens.len());
        let close = after.expect(&Token::RParen, "\")\" closing TABLE(")?;
        let arguments = parse_arguments(lexed, rendering, lexed.cursor(call_open + 1, call_close))?;
        let call = window_call(kind, arguments, lexed.position_of(function))?;
        rendering.replace(table, close + 1, call);
    }
    Ok(())
}

type Arguments = Vec<(Option<String>, Argument, usize)>;

/// Arguments with their names (upper case) if named, and positions.
fn parse_arguments(lexed: &Lexed, rendering: &Rendering, mut cursor: Cursor) -> Result<Arguments> {
    let mut arguments = Vec::new();
    while !cursor.is_done() {
        let position = cursor.position();
        let named = matches!(
            cursor.peek().map(|lexeme| &lexeme.token),
            Some(Token::Word(_))
        ) && cursor
            .peek_ahead(1)
            .is_some_and(|lexeme| lexeme.token == Token::RArrow);
        let name = if named {
            let name = cursor
                .identifier("a parameter name")?
                .value
                .to_ascii_uppercase();
            cursor.next();
            Some(name)
        } else {
            None
        };
        let value = argument(lexed, rendering, &mut cursor)?;
        arguments.push((name, value, position));
        if !cursor.is_done() {
            cursor.expect(&Token::Comma, "\",\" or \")\"")?;
        }
    }
    Ok(arguments)
}

fn argument(lexed: &Lexed, rendering: &Rendering, cursor: &mut Cursor) -> Result<Argument> {
    // A parenthesized query, at `ahead` tokens from the cursor.
    let query_at = |cursor: &Cursor, ahead: usize| {
        cursor
            .peek_ahead(ahead)
            .is_some_and(|lexeme| lexeme.token == Token::LParen)
            && cursor.peek_ahead(ahead + 1).is_some_and(|lexeme| {
                ["SELECT", "WITH", "VALUES", "TABLE"]
                    .iter()
                    .any(|keyword| lexeme.is_keyword(keyword))
            })
    };
    let source = if query_at(cursor, 0) || cursor.at_keywords(&["TABLE"]) && query_at(cursor, 1) {
        // `TABLE (query)` or `(query)`: the function takes the query's plan, passed as
        // `EXISTS (query)` (see `crate::streaming::windows`).
        cursor.eat_keywords(&["TABLE"]);
        let first = cursor.index();
        let end = cursor.skip_item();
        Some(format!(
            "EXISTS {}",
            rendering.render(lexed, first, end).trim()
        ))
    } else if cursor.eat_keywords(&["TABLE"]) {
        if cursor.at_token(&Token::LParen) {
            return Err(syntax(
                "expected a table name or a query after TABLE",
                cursor.position(),
            ));
        }
        // The catalog key (the session makes an unqualified one its current schema's).
        let (_, key) = super::ddl::schema_and_key(cursor.qualified_name("a table name")?);
        Some(string_literal(&key))
    } else {
        None
    };
    if let Some(source) = source {
        let mut partition_keys = Vec::new();
        let mut partition_position = None;
        if cursor.at_keywords(&["PARTITION", "BY"]) {
            partition_position = Some(cursor.position());
            cursor.next();
            cursor.next();
            if cursor.eat(&Token::LParen) {
                loop {
                    partition_keys.push(cursor.identifier("a partition key")?.folded);
                    if !cursor.eat(&Token::Comma) {
                        break;
                    }
                }
                cursor.expect(&Token::RParen, "\",\" or \")\"")?;
            } else {
                partition_keys.push(cursor.identifier("a partition key")?.folded);
                // Unparenthesized keys: `PARTITION BY a, b, DESCRIPTOR(..)`.
                while cursor.at_token(&Token::Comma) && is_plain_key(cursor) {
                    cursor.next();
                    partition_keys.push(cursor.identifier("a partition key")?.folded);
                }
            }
        }
        return Ok(Argument::Table {
            source,
            partition_keys,
            partition_position,
        });
    }
    if cursor.at_keywords(&["DESCRIPTOR"])
        && cursor
            .peek_ahead(1)
            .is_some_and(|lexeme| lexeme.token == Token::LParen)
    {
        cursor.next();
        cursor.next();
        let mut columns = Vec::new();
        loop {
            let parts = cursor.qualified_name("a column name")?;
            columns.push(
                parts
                    .into_iter()
                    .map(|part| part.folded)
                    .collect::<Vec<_>>()
                    .join("."),
            );
            if !cursor.eat(&Token::Comma) {
                break;
            }
        }
        cursor.expect(&Token::RParen, "\",\" or \")\"")?;
        return Ok(Argument::Descriptor(columns));
    }
    let expression_position = cursor.position();
    let (first, end) = cursor.skip_to_comma();
    if first >= end {
        return Err(syntax("expected an argument", expression_position));
    }
    Ok(Argument::Expression(
        rendering.render(lexed, first, end).trim().to_string(),
    ))
}

/// After a `,` in an unparenthesized PARTITION BY list: is the next item another key (a
/// plain name) rather than the next argument (`DESCRIPTOR(..)`, `name => ..`)?
fn is_plain_key(cursor: &Cursor) -> bool {
    let word = matches!(
        cursor.peek_ahead(1).map(|lexeme| &lexeme.token),
        Some(Token::Word(_))
    );
    let followed_by_call_or_name = cursor.peek_ahead(2).is_some_and(|lexeme| {
        matches!(lexeme.token, Token::LParen | Token::RArrow | Token::Period)
    });
    word && !followed_by_call_or_name
}

fn window_call(kind: WindowKind, arguments: Arguments, position: usize) -> Result<String> {
    let (parameters, required) = kind.parameters();
    let mut assigned: BTreeMap<usize, (Argument, usize)> = BTreeMap::new();
    let mut seen_named = false;
    for (index, (name, value, argument_position)) in arguments.into_iter().enumerate() {
        let slot = match name {
            Some(name) => {
                seen_named = true;
                let name = if kind == WindowKind::Cumulate && name == "MAX_SIZE" {
                    "SIZE".to_string()
                } else {
                    name
                };
                parameters
                    .iter()
                    .position(|parameter| *parameter == name)
                    .ok_or_else(|| {
                        syntax(
                            format!("{} has no parameter named {name}", kind.name()),
                            argument_position,
                        )
                    })?
            }
            None if seen_named => {
                return Err(syntax(
                    "a positional argument cannot follow named arguments",
                    argument_position,
                ))
            }
            None if index >= parameters.len() => {
                return Err(syntax(
                    format!("too many arguments for {}", kind.name()),
                    argument_position,
                ))
            }
            None => index,
        };
        if assigned.insert(slot, (value, argument_position)).is_some() {
            return Err(syntax(
                format!("{} is given more than once", parameters[slot]),
                argument_position,
            ));
        }
    }
    if let Some(missing) = (0..required).find(|slot| !assigned.contains_key(slot)) {
        return Err(syntax(
            format!("{} needs its {} argument", kind.name(), parameters[missing]),
            position,
        ));
    }
    let mut output = Vec::new();
    let mut partition = String::new();
    for (slot, (value, argument_position)) in assigned {
        let text = match (slot, value) {
            (
                0,
                Argument::Table {
                    source,
                    partition_keys,
                    partition_position,
                },
            ) => {
                if let Some(partition_position) = partition_position {
                    if kind != WindowKind::Session {
                        return Err(syntax(
                            format!("{} takes no PARTITION BY", kind.name()),
                            partition_position,
                        ));
                    }
                }
                partition = partition_keys.join(",");
                source
            }
            (0, _) => {
                return Err(syntax(
                    format!(
                        "the DATA argument of {} must be TABLE <name> or a query",
                        kind.name()
                    ),
                    argument_position,
                ))
            }
            (1, Argument::Descriptor(columns)) if columns.len() == 1 => string_literal(&columns[0]),
            (1, _) => {
                return Err(syntax(
                    "the TIMECOL argument must be DESCRIPTOR(<one column>)",
                    argument_position,
                ))
            }
            (_, Argument::Expression(text)) => text,
            (slot, _) => {
                return Err(syntax(
                    format!("the {} argument must be an interval", parameters[slot]),
                    argument_position,
                ))
            }
        };
        output.push(text);
    }
    if kind == WindowKind::Session {
        output.push(string_literal(&partition));
    }
    Ok(format!("{}({})", kind.function(), output.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(sql: &str) -> String {
        rewrite_window_tvfs(sql).unwrap_or_else(|error| format!("error: {error}"))
    }

    #[test]
    fn positional_window_tvfs() {
        assert_eq!(
            rewrite(
                "SELECT * FROM TABLE(TUMBLE(TABLE Bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND)) AS w"
            ),
            "SELECT * FROM sluice_tumble('bid', 'datetime', INTERVAL '10' SECOND) AS w"
        );
        assert_eq!(
            rewrite(
                "FROM TABLE(\n  HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND))\nGROUP BY x"
            ),
            "FROM sluice_hop('bid', 'datetime', INTERVAL '2' SECOND, INTERVAL '10' SECOND)\nGROUP BY x"
        );
        assert_eq!(
            rewrite(
                "FROM TABLE(CUMULATE(TABLE cat.db.Bid, DESCRIPTOR(ts), INTERVAL '2' MINUTES, INTERVAL '10' MINUTES, INTERVAL '1' MINUTE))"
            ),
            // A database other than the default one is a schema: the catalog key names it.
            "FROM sluice_cumulate('db.bid', 'ts', INTERVAL '2' MINUTES, INTERVAL '10' MINUTES, INTERVAL '1' MINUTE)"
        );
        assert_eq!(
            rewrite("FROM TABLE(`CUMULATE`(TABLE `Customer`, DESCRIPTOR(`timestamp`), INTERVAL '5' MINUTE, INTERVAL '10' MINUTE))"),
            "FROM sluice_cumulate('customer', 'timestamp', INTERVAL '5' MINUTE, INTERVAL '10' MINUTE)"
        );
        assert_eq!(
            rewrite("FROM TABLE(SESSION(TABLE bid, DESCRIPTOR(ts), INTERVAL '5' MINUTE))"),
            "FROM sluice_session('bid', 'ts', INTERVAL '5' MINUTE, '')"
        );
        assert_eq!(
            rewrite(
                "FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))"
            ),
            "FROM sluice_session('bid', 'datetime', INTERVAL '10' SECOND, 'bidder')"
        );
        assert_eq!(
            rewrite(
                "FROM TABLE(SESSION(TABLE bid PARTITION BY (`Bidder`, auction), DESCRIPTOR(ts), INTERVAL '1' SECOND))"
            ),
            "FROM sluice_session('bid', 'ts', INTERVAL '1' SECOND, 'bidder,auction')"
        );
    }

    #[test]
    fn named_window_tvf_arguments_in_any_order() {
        assert_eq!(
            rewrite(
                "FROM TABLE(HOP(DATA => TABLE Bid, SIZE => INTERVAL '10' MINUTES, TIMECOL => DESCRIPTOR(bidtime), SLIDE => INTERVAL '5' MINUTES))"
            ),
            "FROM sluice_hop('bid', 'bidtime', INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)"
        );
        assert_eq!(
            rewrite(
                "FROM TABLE(CUMULATE(DATA => TABLE t, TIMECOL => DESCRIPTOR(ts), MAX_SIZE => INTERVAL '1' HOUR, STEP => INTERVAL '1' MINUTE, OFFSET => INTERVAL '5' SECOND))"
            ),
            "FROM sluice_cumulate('t', 'ts', INTERVAL '1' MINUTE, INTERVAL '1' HOUR, INTERVAL '5' SECOND)"
        );
        assert_eq!(
            rewrite(
                "FROM TABLE(SESSION(DATA => TABLE bid PARTITION BY item, TIMECOL => DESCRIPTOR(ts), GAP => INTERVAL '5' MINUTES))"
            ),
            "FROM sluice_session('bid', 'ts', INTERVAL '5' MINUTES, 'item')"
        );
    }

    #[test]
    fn other_table_functions_and_group_windows_are_untouched() {
        let sql = "SELECT SESSION_START(ts, INTERVAL '1' SECOND) FROM t, LATERAL TABLE(split(s)) \
                   GROUP BY SESSION(ts, INTERVAL '1' SECOND)";
        assert_eq!(rewrite(sql), sql);
    }

    #[test]
    fn windows_over_queries_pass_the_query() {
        assert_eq!(
            rewrite(
                "SELECT * FROM TABLE(TUMBLE((SELECT * FROM bid WHERE `price` > 1), DESCRIPTOR(ts), INTERVAL '1' SECOND))"
            ),
            "SELECT * FROM sluice_tumble(EXISTS (SELECT * FROM bid WHERE price > 1), 'ts', INTERVAL '1' SECOND)"
        );
        assert_eq!(
            rewrite(
                "SELECT * FROM TABLE(SESSION(TABLE (SELECT * FROM bid) PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' SECOND))"
            ),
            "SELECT * FROM sluice_session(EXISTS (SELECT * FROM bid), 'ts', INTERVAL '1' SECOND, 'k')"
        );
        let error = rewrite_window_tvfs(
            "SELECT * FROM TABLE(TUMBLE(TABLE (bid), DESCRIPTOR(ts), INTERVAL '1' SECOND))",
        )
        .expect_err("TABLE (name)");
        assert!(error.to_string().contains("TABLE"), "{error}");
    }

    #[test]
    fn malformed_window_tvfs_report_positions() {
        let sql = "SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts)))";
        let error = rewrite_window_tvfs(sql).expect_err("missing size");
        assert!(error.to_string().contains("SIZE"), "{error}");
        assert_eq!(error.position(), Some(21));
        let sql = "SELECT * FROM TABLE(HOP(TABLE bid PARTITION BY a, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '2' SECOND))";
        let error = rewrite_window_tvfs(sql).expect_err("partition");
        assert_eq!(error.position(), Some(35), "{error}");
        let sql = "SELECT * FROM TABLE(TUMBLE(TABLE bid, ts, INTERVAL '1' SECOND))";
        let error = rewrite_window_tvfs(sql).expect_err("not a descriptor");
        assert_eq!(error.position(), Some(39), "{error}");
        let sql = "SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '1' SECOND)";
        assert!(rewrite_window_tvfs(sql).is_err());
    }
}
