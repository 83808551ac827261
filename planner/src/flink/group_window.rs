//! Flink's legacy group windows rewritten into window table functions.
//!
//! `SELECT k, SESSION_START(ts, g), SESSION_END(ts, g), count(*) FROM t [AS] a
//!  [WHERE ..] GROUP BY k, SESSION(ts, g)` becomes
//! `SELECT k, window_start, window_end, count(*) FROM sluice_session('t', 'ts', g, 'k') AS a
//!  [WHERE ..] GROUP BY k, window_start, window_end`: the session is partitioned by the other
//! GROUP BY keys, as Flink's group window aggregate keys its sessions. Likewise
//! `TUMBLE(ts, size)` -> `sluice_tumble('t', 'ts', size)` and `HOP(ts, slide, size)` ->
//! `sluice_hop('t', 'ts', slide, size)`. The auxiliary functions `*_START`, `*_END` and
//! `*_ROWTIME` of the same window become `window_start`, `window_end` and `window_time`.
//!
//! Invariants: only a query block whose FROM is one named relation or one parenthesized
//! query is rewritten (the window functions read a named relation, or a query passed as
//! `EXISTS (query)`; a join is refused with an error suggesting a subquery or a view); the
//! time argument is a (qualified) column; a SESSION's other GROUP BY keys are (qualified)
//! columns. Positions in errors are 1-based character positions.

use datafusion::sql::sqlparser::tokenizer::Token;

use super::lex::{fold, string_literal, syntax, Lexed, Rendering};
use crate::error::{PlanError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupWindow {
    Tumble,
    Hop,
    Session,
}

impl GroupWindow {
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "TUMBLE" => Some(Self::Tumble),
            "HOP" => Some(Self::Hop),
            "SESSION" => Some(Self::Session),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Tumble => "TUMBLE",
            Self::Hop => "HOP",
            Self::Session => "SESSION",
        }
    }

    /// Interval arguments after the time column.
    fn intervals(self) -> usize {
        match self {
            Self::Tumble | Self::Session => 1,
            Self::Hop => 2,
        }
    }
}

/// Keywords that end a GROUP BY list.
const GROUP_BY_END: [&str; 8] = [
    "HAVING",
    "ORDER",
    "LIMIT",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "WINDOW",
    "QUALIFY",
];

/// Keywords that end a FROM clause.
const FROM_END: [&str; 3] = ["WHERE", "GROUP", "HAVING"];

/// Significant tokens (indices into `lexed.tokens`) with their parenthesis depth.
fn depths(lexed: &Lexed) -> Vec<(usize, i32)> {
    let mut depth = 0;
    let mut out = Vec::with_capacity(lexed.significant.len());
    for &index in &lexed.significant {
        match lexed.tokens[index].token {
            Token::LParen | Token::LBracket => {
                out.push((index, depth));
                depth += 1;
            }
            Token::RParen | Token::RBracket => {
                depth -= 1;
                out.push((index, depth));
            }
            _ => out.push((index, depth)),
        }
    }
    out
}

/// A (qualified) column name spanning significant tokens `items`: its last part, folded.
fn column_name(lexed: &Lexed, items: &[(usize, i32)]) -> Option<String> {
    let mut name = None;
    for (position, &(index, _)) in items.iter().enumerate() {
        let token = &lexed.tokens[index].token;
        if position % 2 == 0 {
            match token {
                Token::Word(word) => name = Some(word_folded(word)),
                _ => return None,
            }
        } else if *token != Token::Period {
            return None;
        }
    }
    (items.len() % 2 == 1).then_some(name).flatten()
}

fn word_folded(word: &datafusion::sql::sqlparser::tokenizer::Word) -> String {
    match word.quote_style {
        Some('"') => word.value.clone(),
        _ => fold(&word.value),
    }
}

/// Split significant tokens at depth `depth` commas.
fn split_commas(items: &[(usize, i32)], lexed: &Lexed, depth: i32) -> Vec<Vec<(usize, i32)>> {
    let mut parts = vec![Vec::new()];
    for &item in items {
        if item.1 == depth && lexed.tokens[item.0].token == Token::Comma {
            parts.push(Vec::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(item);
        }
    }
    parts
}

/// Rewrite every query block that groups by a legacy group window.
pub(crate) fn add_group_windows(lexed: &Lexed, rendering: &mut Rendering) -> Result<()> {
    let tokens = depths(lexed);
    for at in 0..tokens.len() {
        let (group, depth) = tokens[at];
        if !lexed.tokens[group].is_keyword("GROUP")
            || !tokens
                .get(at + 1)
                .is_some_and(|&(by, _)| lexed.tokens[by].is_keyword("BY"))
        {
            continue;
        }
        // The GROUP BY list: up to a clause keyword, a closing parenthesis or `;`.
        let list_start = at + 2;
        let mut list_end = list_start;
        while let Some(&(index, d)) = tokens.get(list_end) {
            let lexeme = &lexed.tokens[index];
            if d < depth
                || (d == depth
                    && (lexeme.token == Token::SemiColon
                        || GROUP_BY_END.iter().any(|k| lexeme.is_keyword(k))))
            {
                break;
            }
            list_end += 1;
        }
        let items = split_commas(&tokens[list_start..list_end], lexed, depth);
        let mut window = None;
        let mut keys = Vec::new();
        for item in &items {
            let Some(first) = item.first() else {
                // An empty item (truncated or malformed text): the SQL parser reports it.
                continue;
            };
            let is_window = item.len() >= 3
                && item[0].1 == depth
                && lexed.tokens[item[1].0].token == Token::LParen
                && item.last().is_some_and(|last| {
                    lexed.tokens[last.0].token == Token::RParen && last.1 == depth
                })
                && lexed.matching_close(item[1].0) == item.last().map(|last| last.0);
            let kind = match (&lexed.tokens[first.0].token, is_window) {
                (Token::Word(word), true) if word.quote_style.is_none() => {
                    GroupWindow::from_name(&word.value)
                }
                _ => None,
            };
            match kind {
                Some(kind) if window.is_some() => {
                    return Err(syntax(
                        format!("a second group window {} in one GROUP BY", kind.name()),
                        lexed.position_of(first.0),
                    ))
                }
                Some(kind) => window = Some((kind, item.clone())),
                None => keys.push(item.clone()),
            }
        }
        let Some((kind, window_item)) = window else {
            continue;
        };
        rewrite_block(
            lexed,
            rendering,
            &tokens,
            at,
            depth,
            kind,
            &window_item,
            &keys,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn rewrite_block(
    lexed: &Lexed,
    rendering: &mut Rendering,
    tokens: &[(usize, i32)],
    group_at: usize,
    depth: i32,
    kind: GroupWindow,
    window_item: &[(usize, i32)],
    keys: &[Vec<(usize, i32)>],
) -> Result<()> {
    let window_position = lexed.position_of(window_item[0].0);
    // Arguments: between the window's parentheses.
    let arguments = split_commas(&window_item[2..window_item.len() - 1], lexed, depth + 1);
    if arguments.len() != 1 + kind.intervals() || arguments.iter().any(|a| a.is_empty()) {
        return Err(syntax(
            format!(
                "the group window {} takes a time column and {} interval{}",
                kind.name(),
                kind.intervals(),
                if kind.intervals() == 1 { "" } else { "s" }
            ),
            window_position,
        ));
    }
    let time = column_name(lexed, &arguments[0]).ok_or_else(|| {
        PlanError::Unsupported(format!(
            "the time argument of the group window {} must be a column (compute it in a view)",
            kind.name()
        ))
    })?;
    let intervals: Vec<String> = arguments[1..]
        .iter()
        .map(|argument| {
            let first = argument[0].0;
            let last = argument[argument.len() - 1].0;
            rendering.render(lexed, first, last + 1).trim().to_string()
        })
        .collect();
    let mut partition = Vec::new();
    if kind == GroupWindow::Session {
        for key in keys {
            match column_name(lexed, key) {
                Some(name) => partition.push(name),
                None => {
                    return Err(PlanError::Unsupported(
                        "a GROUP BY expression next to a SESSION group window (the session is \
                         partitioned by the GROUP BY columns; compute the expression in a view)"
                            .into(),
                    ))
                }
            }
        }
    }
    // The block: back from GROUP to its SELECT at the same depth, FROM in between.
    let mut from = None;
    let mut select = None;
    for back in (0..group_at).rev() {
        let (index, d) = tokens[back];
        if d < depth {
            break;
        }
        if d == depth {
            if lexed.tokens[index].is_keyword("FROM") && from.is_none() {
                from = Some(back);
            }
            if lexed.tokens[index].is_keyword("SELECT") {
                select = Some(back);
                break;
            }
        }
    }
    let (Some(from), Some(select)) = (from, select) else {
        return Err(syntax(
            format!("the group window {} needs SELECT .. FROM", kind.name()),
            window_position,
        ));
    };
    let mut from_end = from + 1;
    while let Some(&(index, d)) = tokens.get(from_end) {
        if d < depth || (d == depth && FROM_END.iter().any(|k| lexed.tokens[index].is_keyword(k))) {
            break;
        }
        from_end += 1;
    }
    let relation = &tokens[from + 1..from_end];
    // `name [.name..] [[AS] alias]` or `(query) [[AS] alias]`: the window function reads
    // the named relation, or the query passed as `EXISTS (query)`.
    let query_end = match relation.first() {
        Some(&(index, d)) if d == depth && lexed.tokens[index].token == Token::LParen => relation
            .iter()
            .position(|&(i, d)| d == depth && lexed.tokens[i].token == Token::RParen)
            .map(|close| close + 1),
        _ => None,
    };
    let (source, table, source_end) = match query_end {
        Some(end) => {
            let text = rendering.render(lexed, relation[0].0, relation[end - 1].0 + 1);
            (format!("EXISTS {}", text.trim()), None, end)
        }
        None => {
            let mut name_end = 1;
            while name_end + 1 < relation.len()
                && lexed.tokens[relation[name_end].0].token == Token::Period
            {
                name_end += 2;
            }
            let name_end = name_end.min(relation.len());
            let table = column_name(lexed, &relation[..name_end]);
            (
                table.as_deref().map(string_literal).unwrap_or_default(),
                table,
                name_end,
            )
        }
    };
    let alias = &relation[source_end..];
    let alias_ok = match alias {
        [] => true,
        [(word, _)] => matches!(lexed.tokens[*word].token, Token::Word(_)),
        [(as_keyword, _), (word, _)] => {
            lexed.tokens[*as_keyword].is_keyword("AS")
                && matches!(lexed.tokens[*word].token, Token::Word(_))
        }
        _ => false,
    };
    if (table.is_none() && query_end.is_none()) || !alias_ok || source_end == 0 {
        return Err(PlanError::Unsupported(format!(
            "the group window {} over a join (it reads one table, view or query; put the \
             join in a subquery, FROM (SELECT ..) AS s, or a view)",
            kind.name()
        )));
    }
    let mut call = match kind {
        GroupWindow::Tumble => format!(
            "sluice_tumble({source}, {}, {})",
            string_literal(&time),
            intervals[0]
        ),
        GroupWindow::Hop => format!(
            "sluice_hop({source}, {}, {}, {})",
            string_literal(&time),
            intervals[0],
            intervals[1]
        ),
        GroupWindow::Session => format!(
            "sluice_session({source}, {}, {}, {})",
            string_literal(&time),
            intervals[0],
            string_literal(&partition.join(","))
        ),
    };
    let source_last = relation[source_end - 1].0;
    if let (true, Some(table)) = (alias.is_empty(), &table) {
        // Keep the table's name for qualified references (`t.col`).
        call = format!("{call} AS {}", super::lex::render_identifier(table));
    }
    rendering.replace(relation[0].0, source_last + 1, call);
    // The window in GROUP BY.
    let window_first = window_item[0].0;
    let window_last = window_item[window_item.len() - 1].0;
    rendering.replace(
        window_first,
        window_last + 1,
        "window_start, window_end".into(),
    );
    // Auxiliary functions anywhere in the block (SELECT list, HAVING, ORDER BY).
    let mut block_end = group_at;
    while let Some(&(_, d)) = tokens.get(block_end) {
        if d < depth {
            break;
        }
        block_end += 1;
    }
    for at in select..block_end {
        let (index, _) = tokens[at];
        let Token::Word(word) = &lexed.tokens[index].token else {
            continue;
        };
        if word.quote_style.is_some() {
            continue;
        }
        let upper = word.value.to_ascii_uppercase();
        let Some((prefix, suffix)) = upper.split_once('_') else {
            continue;
        };
        let Some(auxiliary_kind) = GroupWindow::from_name(prefix) else {
            continue;
        };
        let column = match suffix {
            "START" => "window_start",
            "END" => "window_end",
            "ROWTIME" => "window_time",
            "PROCTIME" => {
                return Err(PlanError::Unsupported(format!(
                    "{upper}: processing-time group windows (use a window table function \
                     over a PROCTIME() column)"
                )))
            }
            _ => continue,
        };
        let Some(&(open, _)) = tokens.get(at + 1) else {
            continue;
        };
        if lexed.tokens[open].token != Token::LParen {
            continue;
        }
        if auxiliary_kind != kind {
            return Err(syntax(
                format!("{upper} does not match the group window {}", kind.name()),
                lexed.position_of(index),
            ));
        }
        let Some(close) = lexed.matching_close(open) else {
            continue;
        };
        rendering.replace(index, close + 1, column.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::rewrite_statement;

    #[test]
    fn legacy_session_windows_become_session_tvfs() {
        let sql = "SELECT B.bidder, count(*) as bid_count, \
                   SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) as starttime, \
                   SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) as endtime \
                   FROM bid B GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND)";
        assert_eq!(
            rewrite_statement(sql).expect("rewrites"),
            "SELECT B.bidder, count(*) as bid_count, window_start as starttime, \
             window_end as endtime FROM sluice_session('bid', 'datetime', INTERVAL '10' SECOND, 'bidder') B \
             GROUP BY B.bidder, window_start, window_end"
        );
    }

    #[test]
    fn legacy_tumble_and_hop_windows_become_tvfs() {
        let sql = "SELECT TUMBLE_END(ts, INTERVAL '1' MINUTE) AS e, sum(x) FROM t \
                   WHERE x > 1 GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)";
        assert_eq!(
            rewrite_statement(sql).expect("rewrites"),
            "SELECT window_end AS e, sum(x) FROM sluice_tumble('t', 'ts', INTERVAL '1' MINUTE) AS t \
             WHERE x > 1 GROUP BY window_start, window_end"
        );
        let sql = "SELECT k, HOP_START(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) FROM t AS a \
                   GROUP BY HOP(ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE), k";
        assert_eq!(
            rewrite_statement(sql).expect("rewrites"),
            "SELECT k, window_start FROM sluice_hop('t', 'ts', INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) AS a \
             GROUP BY window_start, window_end, k"
        );
    }

    #[test]
    fn legacy_windows_over_a_query_pass_it() {
        let sql = "SELECT s.k, TUMBLE_START(s.ts, INTERVAL '1' MINUTE), count(*) \
                   FROM (SELECT a.k, a.ts FROM a JOIN b ON a.k = b.k) AS s \
                   GROUP BY s.k, TUMBLE(s.ts, INTERVAL '1' MINUTE)";
        assert_eq!(
            rewrite_statement(sql).expect("rewrites"),
            "SELECT s.k, window_start, count(*) \
             FROM sluice_tumble(EXISTS (SELECT a.k, a.ts FROM a JOIN b ON a.k = b.k), 'ts', INTERVAL '1' MINUTE) AS s \
             GROUP BY s.k, window_start, window_end"
        );
    }

    #[test]
    fn unsupported_legacy_forms_are_named() {
        let sql =
            "SELECT count(*) FROM a JOIN b ON a.x = b.x GROUP BY SESSION(ts, INTERVAL '1' SECOND)";
        let error = rewrite_statement(sql).expect_err("join");
        assert!(error.to_string().contains("over a join"), "{error}");
        let sql = "SELECT count(*) FROM a GROUP BY k + 1, SESSION(ts, INTERVAL '1' SECOND)";
        let error = rewrite_statement(sql).expect_err("expression key");
        assert!(error.to_string().contains("GROUP BY expression"), "{error}");
        let sql = "SELECT TUMBLE_START(ts, INTERVAL '1' SECOND) FROM a GROUP BY SESSION(ts, INTERVAL '1' SECOND)";
        let error = rewrite_statement(sql).expect_err("mismatch");
        assert!(error.to_string().contains("does not match"), "{error}");
        // A window TVF and ordinary GROUP BYs are left alone.
        let sql = "SELECT k, count(*) FROM t GROUP BY k";
        assert_eq!(rewrite_statement(sql).expect("plain"), sql);
    }
}
