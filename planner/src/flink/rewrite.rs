//! Text rewrites that turn a Flink statement (CREATE VIEW, INSERT INTO .. SELECT, SELECT)
//! into PostgreSQL-dialect SQL, and the extraction of temporal joins.
//!
//! Rewrites, in order:
//! 1. backquoted identifiers -> Sluice identifiers ([`super::lex::render_identifier`]);
//! 2. the target type of `CAST(x AS T)` / `TRY_CAST(..)` -> its PostgreSQL spelling when
//!    Flink spells it differently (`STRING` -> `VARCHAR`, `BYTES` -> `BYTEA`,
//!    `TIMESTAMP_LTZ(3)` -> `TIMESTAMP(3) WITH TIME ZONE`, ..., see [`super::types`]);
//! 3. window TVFs -> `sluice_tumble(..)` and friends ([`super::tvf`]);
//! 4. `CREATE TEMPORARY VIEW` -> `CREATE VIEW`;
//! 5. Flink's default catalog and database prefixes are dropped from names
//!    (`default_catalog.default_database.t` -> `t`, `default_database.t` -> `t`);
//! 6. `VALUES ROW(1, 2), ROW(3, 4)` -> `VALUES (1, 2), (3, 4)`;
//! 7. `BETWEEN ASYMMETRIC` -> `BETWEEN` (the same meaning) and `INTERVAL 1 DAY` ->
//!    `INTERVAL '1' DAY` (Calcite accepts an unquoted number);
//! 8. only in [`extract_temporal_joins`]: `FOR SYSTEM_TIME AS OF expr` is cut out and
//!    reported.
//!
//! Invariant: every byte not touched by one of these rewrites is copied unchanged
//! (whitespace, comments, `${VAR}` placeholders, letter case), so text and error positions
//! before the first rewrite are exact and later ones shift only by the rewrites' lengths.

use datafusion::sql::sqlparser::tokenizer::Token;

use super::lex::{syntax, Cursor, Lexed, Rendering};
use super::tvf::add_window_tvfs;
use super::types::parse_type_at;
use crate::error::Result;

/// A join against a versioned table: `JOIN t FOR SYSTEM_TIME AS OF expr [AS] alias`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporalJoin {
    /// The alias of the versioned table if it has one, else its name (folded).
    pub table_alias_or_name: String,
    /// The versioned table's name (folded, last part of a qualified name).
    pub table_name: String,
    /// The time expression as rewritten SQL text (e.g. `o.order_time`).
    pub time_expr: String,
    /// 1-based character position of `FOR` in the original statement.
    pub position: usize,
}

/// Rewrite backquoted identifiers only.
pub fn rewrite_backquotes(sql: &str) -> Result<String> {
    let lexed = Lexed::new(sql)?;
    Ok(Rendering::with_backquotes(&lexed).render_all(&lexed))
}

/// Apply every Flink rewrite to a statement other than CREATE TABLE / CREATE FUNCTION
/// (see the module docs). `FOR SYSTEM_TIME AS OF` is left in place: call
/// [`extract_temporal_joins`] instead to cut it out and get the joins.
pub fn rewrite_statement(sql: &str) -> Result<String> {
    let lexed = Lexed::new(sql)?;
    let rendering = statement_rendering(&lexed)?;
    Ok(rendering.render_all(&lexed))
}

/// [`rewrite_statement`], and also cut every `FOR SYSTEM_TIME AS OF expr` out of the text,
/// returning the temporal joins in order of appearance.
pub fn extract_temporal_joins(sql: &str) -> Result<(String, Vec<TemporalJoin>)> {
    let lexed = Lexed::new(sql)?;
    let mut rendering = statement_rendering(&lexed)?;
    let joins = cut_temporal_joins(&lexed, &mut rendering)?;
    Ok((rendering.render_all(&lexed), joins))
}

/// Backquotes and cast types: the rewrites that apply inside any expression.
pub(crate) fn expression_rendering(lexed: &Lexed) -> Result<Rendering> {
    let mut rendering = Rendering::with_backquotes(lexed);
    add_cast_types(lexed, &mut rendering)?;
    quote_interval_numbers(lexed, &mut rendering);
    map_constructors(lexed, &mut rendering);
    quote_timestampdiff_units(lexed, &mut rendering);
    Ok(rendering)
}

/// `TIMESTAMPDIFF(SECOND, a, b)` -> `TIMESTAMPDIFF('SECOND', a, b)`: the unit becomes a
/// string argument of Sluice's `timestampdiff` function; the same for `TIMESTAMPADD`.
fn quote_timestampdiff_units(lexed: &Lexed, rendering: &mut Rendering) {
    for window in lexed.significant.windows(4) {
        let [function, open, unit, comma] = [window[0], window[1], window[2], window[3]];
        let is_call = (lexed.tokens[function].is_keyword("TIMESTAMPDIFF")
            || lexed.tokens[function].is_keyword("TIMESTAMPADD"))
            && lexed.tokens[open].token == Token::LParen
            && lexed.tokens[comma].token == Token::Comma;
        if let (true, Some(word)) = (is_call, lexed.tokens[unit].bare_word()) {
            rendering.replace(unit, unit + 1, format!("'{}'", word.to_ascii_uppercase()));
        }
    }
}

/// Flink's map constructor `MAP[k1, v1, k2, v2]` -> `make_map(k1, v1, k2, v2)`. `MAP` is a
/// reserved word in Flink, so an unquoted `MAP` before `[` is always the constructor.
fn map_constructors(lexed: &Lexed, rendering: &mut Rendering) {
    for pair in lexed.significant.windows(2) {
        let (map, open) = (pair[0], pair[1]);
        if !lexed.tokens[map].is_keyword("MAP") || lexed.tokens[open].token != Token::LBracket {
            continue;
        }
        let Some(close) = lexed.matching_close(open) else {
            continue;
        };
        if lexed.tokens[close].token == Token::RBracket {
            rendering.replace(map, open + 1, "make_map(".into());
            rendering.replace(close, close + 1, ")".into());
        }
    }
}

fn statement_rendering(lexed: &Lexed) -> Result<Rendering> {
    let mut rendering = expression_rendering(lexed)?;
    add_window_tvfs(lexed, &mut rendering)?;
    super::group_window::add_group_windows(lexed, &mut rendering)?;
    drop_temporary_view(lexed, &mut rendering);
    drop_default_catalog(lexed, &mut rendering);
    drop_values_row(lexed, &mut rendering);
    drop_between_asymmetric(lexed, &mut rendering);
    Ok(rendering)
}

/// `BETWEEN ASYMMETRIC a AND b` is `BETWEEN a AND b`.
fn drop_between_asymmetric(lexed: &Lexed, rendering: &mut Rendering) {
    for pair in lexed.significant.windows(3) {
        if lexed.tokens[pair[0]].is_keyword("BETWEEN")
            && lexed.tokens[pair[1]].is_keyword("ASYMMETRIC")
        {
            rendering.replace(pair[1], pair[2], String::new());
        }
    }
}

/// `INTERVAL 1 DAY` / `INTERVAL -1 DAY` -> `INTERVAL '1' DAY` / `INTERVAL '-1' DAY`.
fn quote_interval_numbers(lexed: &Lexed, rendering: &mut Rendering) {
    let significant = &lexed.significant;
    for (at, &index) in significant.iter().enumerate() {
        if !lexed.tokens[index].is_keyword("INTERVAL") {
            continue;
        }
        let Some(&first) = significant.get(at + 1) else {
            continue;
        };
        let (number, sign) = match &lexed.tokens[first].token {
            Token::Minus => (significant.get(at + 2).copied(), "-"),
            _ => (Some(first), ""),
        };
        let Some(number) = number else {
            continue;
        };
        let Token::Number(digits, _) = &lexed.tokens[number].token else {
            continue;
        };
        let unit_follows = lexed
            .significant
            .get(lexed.significant.partition_point(|&index| index <= number))
            .is_some_and(|&unit| is_interval_unit(&lexed.tokens[unit]));
        if unit_follows {
            rendering.replace(first, number + 1, format!("'{sign}{digits}'"));
        }
    }
}

/// Whether token `index` is a word naming `folded` (quoted with backquotes or not).
fn is_name(lexed: &Lexed, index: usize, folded: &str) -> bool {
    match &lexed.tokens[index].token {
        Token::Word(word) if word.quote_style != Some('"') => {
            word.value.eq_ignore_ascii_case(folded)
        }
        _ => false,
    }
}

/// Drop `default_catalog.default_database.` and `default_database.` before a name (Flink's
/// built-in catalog and database are Sluice's `public`), and `default_catalog.` before
/// `database.name` (the database is a schema).
fn drop_default_catalog(lexed: &Lexed, rendering: &mut Rendering) {
    let significant = &lexed.significant;
    let token = |at: usize| significant.get(at).map(|&index| &lexed.tokens[index].token);
    let mut at = 0;
    while at < significant.len() {
        let after_period = at > 0 && token(at - 1) == Some(&Token::Period);
        let prefix_length = if after_period {
            0
        } else if is_name(lexed, significant[at], "default_catalog")
            && token(at + 1) == Some(&Token::Period)
            && significant
                .get(at + 2)
                .is_some_and(|&index| is_name(lexed, index, "default_database"))
            && token(at + 3) == Some(&Token::Period)
        {
            4
        } else if is_name(lexed, significant[at], "default_catalog")
            && token(at + 1) == Some(&Token::Period)
            && matches!(token(at + 2), Some(Token::Word(_)))
            && token(at + 3) == Some(&Token::Period)
            && matches!(token(at + 4), Some(Token::Word(_)))
        {
            // Another database of the catalog: a schema (`default_catalog.s.t` -> `s.t`).
            2
        } else if is_name(lexed, significant[at], "default_database")
            && token(at + 1) == Some(&Token::Period)
        {
            2
        } else {
            0
        };
        let named = matches!(token(at + prefix_length), Some(Token::Word(_)));
        if prefix_length > 0 && named {
            rendering.replace(
                significant[at],
                significant[at + prefix_length],
                String::new(),
            );
            at += prefix_length;
        } else {
            at += 1;
        }
    }
}

/// `VALUES ROW(..), ROW(..)` -> `VALUES (..), (..)`.
fn drop_values_row(lexed: &Lexed, rendering: &mut Rendering) {
    let significant = &lexed.significant;
    for (at, &index) in significant.iter().enumerate() {
        if !lexed.tokens[index].is_keyword("VALUES") {
            continue;
        }
        let mut next = at + 1;
        while let Some(&row) = significant.get(next) {
            let open = if lexed.tokens[row].is_keyword("ROW") {
                match significant.get(next + 1) {
                    Some(&open) if lexed.tokens[open].token == Token::LParen => {
                        rendering.replace(row, open, String::new());
                        open
                    }
                    _ => break,
                }
            } else if lexed.tokens[row].token == Token::LParen {
                row
            } else {
                break;
            };
            let Some(close) = lexed.matching_close(open) else {
                break;
            };
            let after = significant.partition_point(|&index| index <= close);
            match significant.get(after) {
                Some(&comma) if lexed.tokens[comma].token == Token::Comma => next = after + 1,
                _ => break,
            }
        }
    }
}

/// Convert the target type of every `CAST(.. AS T)` / `TRY_CAST(.. AS T)` spelled the Flink
/// way (see [`flink_only_spelling`]). Types spelled as PostgreSQL spells them (`FLOAT`,
/// `DECIMAL`, `TIMESTAMP`, `TEXT`, ..) keep their PostgreSQL meaning: these rewrites run on
/// every statement a session receives. Types that do not parse are left as written for the
/// planner to report; a Flink type without a PostgreSQL spelling (MAP) is refused here.
fn add_cast_types(lexed: &Lexed, rendering: &mut Rendering) -> Result<()> {
    let significant = &lexed.significant;
    for (at, &index) in significant.iter().enumerate() {
        let lexeme = &lexed.tokens[index];
        if !(lexeme.is_keyword("CAST") || lexeme.is_keyword("TRY_CAST")) {
            continue;
        }
        let Some(&open) = significant.get(at + 1) else {
            continue;
        };
        if lexed.tokens[open].token != Token::LParen {
            continue;
        }
        let Some(close) = lexed.matching_close(open) else {
            continue;
        };
        // The last AS directly inside the parentheses starts the type.
        let mut depth = 0usize;
        let mut as_token = None;
        for (inner, lexeme) in lexed.tokens.iter().enumerate().take(close).skip(open + 1) {
            match lexeme.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
                _ if depth == 0 && lexeme.is_keyword("AS") => as_token = Some(inner),
                _ => {}
            }
        }
        let Some(as_token) = as_token else {
            continue;
        };
        let mut cursor = lexed.cursor(as_token + 1, close);
        let first = cursor.index();
        let Ok(data_type) = parse_type_at(&mut cursor) else {
            continue;
        };
        let (Some(last), true) = (cursor.previous_index(), cursor.is_done()) else {
            continue;
        };
        if !flink_only_spelling(lexed, first, last) {
            continue;
        }
        let converted = data_type.to_sql()?;
        if normalize(lexed.source(first, last + 1)) != normalize(&converted) {
            rendering.replace(first, last + 1, converted);
        }
    }
    Ok(())
}

/// Whether the type in tokens `first..=last` uses a spelling PostgreSQL does not have:
/// `STRING`, `BYTES`, `BINARY`, `VARBINARY`, `TIMESTAMP_LTZ`, `WITH LOCAL TIME ZONE`,
/// `ROW`, `MAP`, `MULTISET`, `RAW`, `CHARACTER SET`, or angle brackets (`ARRAY<..>`).
fn flink_only_spelling(lexed: &Lexed, first: usize, last: usize) -> bool {
    const FLINK_WORDS: &[&str] = &[
        "STRING",
        "BYTES",
        "BINARY",
        "VARBINARY",
        "TIMESTAMP_LTZ",
        "LOCAL",
        "ROW",
        "MAP",
        "MULTISET",
        "RAW",
        "SET",
    ];
    lexed.tokens[first..=last].iter().any(|lexeme| {
        lexeme.token == Token::Lt || FLINK_WORDS.iter().any(|word| lexeme.is_keyword(word))
    })
}

fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// `CREATE TEMPORARY VIEW` -> `CREATE VIEW` (Sluice has no session-scoped views).
fn drop_temporary_view(lexed: &Lexed, rendering: &mut Rendering) {
    let mut cursor = lexed.cursor_all();
    if !cursor.eat_keywords(&["CREATE"]) {
        return;
    }
    cursor.eat_keywords(&["OR", "REPLACE"]);
    if cursor.at_keywords(&["TEMPORARY", "VIEW"]) {
        let temporary = cursor.index();
        if let Some(view) = cursor.index_ahead(1) {
            rendering.replace(temporary, view, String::new());
        }
    }
}

/// Words that end a table reference instead of naming its alias.
const NOT_AN_ALIAS: &[&str] = &[
    "ON",
    "USING",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "NATURAL",
    "WHERE",
    "GROUP",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "HAVING",
    "WINDOW",
    "LATERAL",
    "QUALIFY",
    "FETCH",
];

fn cut_temporal_joins(lexed: &Lexed, rendering: &mut Rendering) -> Result<Vec<TemporalJoin>> {
    let significant = &lexed.significant;
    let mut joins = Vec::new();
    for (at, &index) in significant.iter().enumerate() {
        let mut cursor = lexed.cursor(index, lexed.tokens.len());
        if !cursor.eat_keywords(&["FOR", "SYSTEM_TIME", "AS", "OF"]) {
            continue;
        }
        let position = lexed.position_of(index);
        let table = at
            .checked_sub(1)
            .and_then(|before| significant.get(before))
            .copied()
            .filter(|&before| matches!(lexed.tokens[before].token, Token::Word(_)));
        let Some(table) = table else {
            return Err(syntax(
                "FOR SYSTEM_TIME AS OF must follow a table name",
                position,
            ));
        };
        let Token::Word(table_word) = &lexed.tokens[table].token else {
            continue;
        };
        let table_name = super::lex::Identifier::from_word(table_word).folded;
        let expression_position = cursor.position();
        let (first, end) = expression_extent(&mut cursor);
        if first >= end {
            return Err(syntax(
                "expected a time expression after FOR SYSTEM_TIME AS OF",
                expression_position,
            ));
        }
        let time_expr = rendering.render(lexed, first, end).trim().to_string();
        let alias = if cursor.eat_keywords(&["AS"]) {
            Some(cursor.identifier("an alias")?.folded)
        } else {
            match cursor.peek().map(|lexeme| &lexeme.token) {
                Some(Token::Word(word))
                    if word.quote_style.is_some()
                        || !NOT_AN_ALIAS
                            .iter()
                            .any(|keyword| word.value.eq_ignore_ascii_case(keyword)) =>
                {
                    Some(cursor.identifier("an alias")?.folded)
                }
                _ => None,
            }
        };
        // Cut from just after the table name (its whitespace included) to the end of the
        // time expression: `t FOR SYSTEM_TIME AS OF o.ts AS v` -> `t AS v`.
        rendering.replace(table + 1, end, String::new());
        joins.push(TemporalJoin {
            table_alias_or_name: alias.unwrap_or_else(|| table_name.clone()),
            table_name,
            time_expr,
            position,
        });
    }
    Ok(joins)
}

/// Consume one expression (a column reference, a function call, an INTERVAL literal, CASE ..
/// END, joined by arithmetic operators) and return its token range `(first, end)`.
fn expression_extent(cursor: &mut Cursor) -> (usize, usize) {
    let first = cursor.index();
    let mut end = first;
    let mut expect_operand = true;
    while let Some(lexeme) = cursor.peek() {
        if expect_operand {
            match &lexeme.token {
                Token::Word(word)
                    if word.quote_style.is_none() && lexeme.is_keyword("INTERVAL") =>
                {
                    cursor.next();
                    cursor.eat(&Token::Minus);
                    if matches!(
                        cursor.peek().map(|lexeme| &lexeme.token),
                        Some(Token::SingleQuotedString(_) | Token::Number(_, _))
                    ) {
                        cursor.next();
                    }
                    end = cursor.previous_index().map_or(end, |index| index + 1);
                    while cursor.peek().is_some_and(is_interval_unit) {
                        cursor.next();
                        end = cursor.previous_index().map_or(end, |index| index + 1);
                        if cursor.at_token(&Token::LParen) {
                            end = cursor.skip_item();
                        }
                    }
                    expect_operand = false;
                }
                Token::Word(word) if word.quote_style.is_none() && lexeme.is_keyword("CASE") => {
                    let mut depth = 0usize;
                    while let Some(lexeme) = cursor.peek() {
                        if lexeme.is_keyword("CASE") {
                            depth += 1;
                        } else if lexeme.is_keyword("END") {
                            depth = depth.saturating_sub(1);
                        }
                        end = cursor.skip_item();
                        if depth == 0 {
                            break;
                        }
                    }
                    expect_operand = false;
                }
                Token::Word(word)
                    if word.quote_style.is_none()
                        && (lexeme.is_keyword("AS")
                            || NOT_AN_ALIAS
                                .iter()
                                .any(|keyword| lexeme.is_keyword(keyword))) =>
                {
                    break
                }
                Token::Word(_) => {
                    cursor.next();
                    end = cursor.previous_index().map_or(end, |index| index + 1);
                    if cursor.at_token(&Token::LParen) {
                        end = cursor.skip_item();
                    }
                    expect_operand = false;
                }
                Token::Number(_, _) | Token::SingleQuotedString(_) => {
                    cursor.next();
                    end = cursor.previous_index().map_or(end, |index| index + 1);
                    expect_operand = false;
                }
                Token::LParen => {
                    end = cursor.skip_item();
                    expect_operand = false;
                }
                Token::Minus | Token::Plus => {
                    cursor.next();
                }
                _ => break,
            }
        } else {
            match &lexeme.token {
                Token::Period
                | Token::Plus
                | Token::Minus
                | Token::Mul
                | Token::Div
                | Token::Mod
                | Token::StringConcat => {
                    cursor.next();
                    expect_operand = true;
                }
                Token::LBracket => {
                    end = cursor.skip_item();
                }
                _ => break,
            }
        }
    }
    (first, end)
}

fn is_interval_unit(lexeme: &super::lex::Lexeme) -> bool {
    lexeme.bare_word().is_some_and(|word| {
        matches!(
            word.to_ascii_uppercase().as_str(),
            "YEAR"
                | "YEARS"
                | "MONTH"
                | "MONTHS"
                | "DAY"
                | "DAYS"
                | "HOUR"
                | "HOURS"
                | "MINUTE"
                | "MINUTES"
                | "SECOND"
                | "SECONDS"
                | "TO"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backquotes_become_sluice_identifiers() {
        assert_eq!(
            rewrite_backquotes(
                "SELECT `dateTime`, person.`dateTime` AS `timestamp` FROM bid -- `x`"
            )
            .expect("rewrites"),
            "SELECT datetime, person.datetime AS \"timestamp\" FROM bid -- `x`"
        );
        assert_eq!(
            rewrite_backquotes("SELECT `Price` + `my col` FROM `Bid`").expect("rewrites"),
            "SELECT price + \"my col\" FROM bid"
        );
    }

    #[test]
    fn timestampdiff_units_become_strings() {
        assert_eq!(
            rewrite_statement("SELECT TIMESTAMPDIFF(second, `a`, TIMESTAMPDIFF(DAY, b, c)) FROM t")
                .unwrap(),
            "SELECT TIMESTAMPDIFF('SECOND', a, TIMESTAMPDIFF('DAY', b, c)) FROM t"
        );
        assert_eq!(
            rewrite_statement("SELECT TIMESTAMPADD(hour, 2, ts) FROM t").unwrap(),
            "SELECT TIMESTAMPADD('HOUR', 2, ts) FROM t"
        );
    }

    #[test]
    fn map_constructors_become_make_map() {
        assert_eq!(
            rewrite_statement("SELECT MAP['a', `x`, 'b', MAP[1, 2]] AS m, `map`[1] FROM t")
                .unwrap(),
            "SELECT make_map('a', x, 'b', make_map(1, 2)) AS m, map[1] FROM t"
        );
    }

    #[test]
    fn casts_take_postgres_type_names() {
        let sql = "SELECT CAST(a AS STRING), TRY_CAST(b AS BYTES), CAST(c AS TIMESTAMP_LTZ(3)), \
                   CAST(CAST(d AS STRING) AS INT), CAST(e AS ARRAY<STRING>), CAST(f AS INT) FROM t";
        assert_eq!(
            rewrite_statement(sql).expect("rewrites"),
            "SELECT CAST(a AS VARCHAR), TRY_CAST(b AS BYTEA), CAST(c AS TIMESTAMP(3) WITH TIME ZONE), \
                   CAST(CAST(d AS VARCHAR) AS INT), CAST(e AS VARCHAR[]), CAST(f AS INT) FROM t"
        );
    }

    #[test]
    fn default_catalog_prefixes_and_values_rows_are_dropped() {
        let sql = "INSERT INTO `default_catalog`.`default_database`.`Sink_1`\n\
                   SELECT * FROM default_database.t, `default_catalog`.`default_database`.u AS x, \
                   default_catalog.s.w, \
                   (VALUES ROW(1, 'a'),\n ROW(2, 'b')) AS v (n, s), t.default_database";
        assert_eq!(
            rewrite_statement(sql).expect("rewrites"),
            "INSERT INTO sink_1\n\
             SELECT * FROM t, u AS x, s.w, (VALUES (1, 'a'),\n (2, 'b')) AS v (n, s), t.default_database"
        );
    }

    #[test]
    fn calcite_only_forms_become_postgres_forms() {
        assert_eq!(
            rewrite_statement(
                "SELECT * FROM a JOIN b ON a.t BETWEEN ASYMMETRIC b.t AND b.t + (INTERVAL 1 DAY) \
                 WHERE a.t > b.t - INTERVAL -2 HOUR AND a.x BETWEEN SYMMETRIC 1 AND 2"
            )
            .expect("rewrites"),
            "SELECT * FROM a JOIN b ON a.t BETWEEN b.t AND b.t + (INTERVAL '1' DAY) \
             WHERE a.t > b.t - INTERVAL '-2' HOUR AND a.x BETWEEN SYMMETRIC 1 AND 2"
        );
    }

    #[test]
    fn postgres_cast_types_keep_their_meaning() {
        let sql = "SELECT CAST(a AS FLOAT), CAST(b AS DECIMAL), CAST(c AS TIMESTAMP), \
                   CAST(d AS CHAR(3)), CAST(e AS INT[]), CAST(f AS TEXT), CAST(g AS DOUBLE) FROM t";
        assert_eq!(rewrite_statement(sql).expect("rewrites"), sql);
    }

    #[test]
    fn temporary_views_become_views() {
        assert_eq!(
            rewrite_statement("CREATE TEMPORARY VIEW v AS SELECT 1").expect("rewrites"),
            "CREATE VIEW v AS SELECT 1"
        );
        assert_eq!(
            rewrite_statement("create  view `V` as select 1").expect("rewrites"),
            "create  view v as select 1"
        );
    }

    #[test]
    fn temporal_joins_are_cut_and_reported() {
        let sql = "SELECT o.id, r.rate FROM orders AS o \
                   JOIN rates FOR SYSTEM_TIME AS OF o.`orderTime` AS r ON o.cur = r.cur \
                   LEFT JOIN db.dims FOR SYSTEM_TIME AS OF PROCTIME() ON TRUE \
                   JOIN prices FOR SYSTEM_TIME AS OF o.ts - INTERVAL '1' SECOND p ON p.id = o.id";
        let (text, joins) = extract_temporal_joins(sql).expect("extracts");
        assert_eq!(
            text,
            "SELECT o.id, r.rate FROM orders AS o \
             JOIN rates AS r ON o.cur = r.cur \
             LEFT JOIN db.dims ON TRUE \
             JOIN prices p ON p.id = o.id"
        );
        let summary: Vec<(&str, &str, &str)> = joins
            .iter()
            .map(|join| {
                (
                    join.table_alias_or_name.as_str(),
                    join.table_name.as_str(),
                    join.time_expr.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("r", "rates", "o.ordertime"),
                ("dims", "dims", "PROCTIME()"),
                ("p", "prices", "o.ts - INTERVAL '1' SECOND"),
            ]
        );
        assert_eq!(
            joins[0].position,
            sql.find("FOR").map(|at| at + 1).unwrap_or(0)
        );
        // rewrite_statement leaves them in place.
        assert!(rewrite_statement(sql)
            .expect("rewrites")
            .contains("FOR SYSTEM_TIME AS OF"));
    }

    #[test]
    fn malformed_temporal_joins_report_positions() {
        let error = extract_temporal_joins("SELECT * FROM a JOIN b FOR SYSTEM_TIME AS OF ON x")
            .expect_err("no expression");
        assert_eq!(error.position(), Some(46), "{error}");
        let error = extract_temporal_joins("SELECT * FROM (SELECT 1) FOR SYSTEM_TIME AS OF t.x")
            .expect_err("not a table");
        assert_eq!(error.position(), Some(26), "{error}");
    }
}
