//! Fuzzing harnesses: the SQL front end and the wire protocol, driven by arbitrary input.
//!
//! The same functions back the `cargo fuzz` targets in `fuzz/` (nightly, libFuzzer) and the
//! stable test `server/tests/fuzz_corpus.rs`, which replays the committed corpus and every
//! crasher fuzzing found, so CI checks them without nightly.
//!
//! Invariants checked: no input panics (libFuzzer aborts on a panic, also one in a spawned
//! task; the replay test counts them with a panic hook), and every connection is answered
//! and closed within [`WIRE_TIMEOUT`] after the client stopped sending. Errors are fine.
//!
//! Each input runs against a fresh in-memory database, so a finding reproduces from its
//! input alone. Inputs that could reach outside the process (connector tables: files,
//! Kafka, PostgreSQL sinks, unbounded generators) are skipped.

use std::cell::RefCell;
use std::time::Duration;

use sluice_planner::{Database, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Server, ServerConfig};

/// Longer SQL inputs are skipped: they add time per input, not new behaviour.
pub const MAX_SQL_INPUT: usize = 16 * 1024;

/// Longer byte streams are skipped.
pub const MAX_WIRE_INPUT: usize = 64 * 1024;

/// How long the server may take to answer a byte stream and close the connection.
pub const WIRE_TIMEOUT: Duration = Duration::from_secs(20);

/// The catalog every SQL input starts from: two tables with rows, a view and a
/// materialized view.
pub const SEED_SCHEMA: &str = "\
CREATE TABLE t (k INT PRIMARY KEY, s TEXT, v INT, ts TIMESTAMP);
CREATE TABLE u (k INT PRIMARY KEY, w DOUBLE, tags TEXT[]);
INSERT INTO t VALUES (1, 'a', 10, '2024-01-01 00:00:00'), (2, 'b', NULL, '2024-01-02 12:00:00'), (3, 'a', -5, NULL);
INSERT INTO u VALUES (1, 1.5, ARRAY['x', 'y']), (4, NULL, NULL);
CREATE VIEW tv AS SELECT k, s, v FROM t WHERE v > 0;
CREATE MATERIALIZED VIEW mv AS SELECT s, count(*) AS n, sum(v) AS total FROM t GROUP BY s;";

thread_local! {
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Run `future` on this thread's runtime (one per thread, reused across inputs).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|cell| {
        let mut runtime = cell.borrow_mut();
        let runtime = runtime.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
        });
        runtime.block_on(future)
    })
}

/// Would running `sql` reach outside the process? Connector tables read and write files,
/// connect to Kafka or PostgreSQL, or generate rows without end.
pub fn reaches_outside(sql: &str) -> bool {
    if sql.to_ascii_lowercase().contains("connector") {
        return true;
    }
    // Keys are unescaped by the Flink DDL parser: check what it reads, too.
    let Ok(pieces) = sluice_planner::flink::split_script(sql) else {
        return false;
    };
    pieces.iter().any(|piece| {
        matches!(
            sluice_planner::flink::parse_create_table(&piece.sql),
            Ok(Some(table)) if table.options.iter().any(|(key, _)| key.eq_ignore_ascii_case("connector"))
                || table.like.is_some()
        )
    })
}

/// Run arbitrary text as SQL: the Flink script splitting and rewrites, sqlparser, planning
/// and execution (simple protocol), then the same text prepared and executed (extended
/// protocol), on a fresh database seeded with [`SEED_SCHEMA`]. Panics on a bug, never on
/// an error the session reports.
pub fn sql_frontend(input: &[u8]) {
    let Ok(sql) = std::str::from_utf8(input) else {
        return;
    };
    if sql.len() > MAX_SQL_INPUT || reaches_outside(sql) {
        return;
    }
    block_on(async {
        let mut session = Session::new(Database::new());
        let (_, error) = session.execute(SEED_SCHEMA).await;
        assert!(error.is_none(), "the seed schema failed: {error:?}");
        let (_, error) = session.execute(sql).await;
        if let Some(error) = error {
            assert_eq!(error.sqlstate().len(), 5, "{error}");
        }
        if let Ok(prepared) = session.prepare(sql).await {
            let _ = session.execute_prepared(&prepared, None).await;
        }
        // The session still answers.
        let _ = session.execute("SELECT 1").await;
    });
}

/// Send arbitrary bytes as a client's whole byte stream to a server on loopback (fresh
/// in-memory database, trust authentication), then half-close; read everything the server
/// answers until it closes the connection. Panics if the server does not close it within
/// [`WIRE_TIMEOUT`].
pub fn wire_decoder(input: &[u8]) {
    if input.len() > MAX_WIRE_INPUT {
        return;
    }
    block_on(async {
        let config = ServerConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ServerConfig::default()
        };
        let server = Server::start_with(config, Database::new())
            .await
            .expect("the server starts");
        let finished = tokio::time::timeout(WIRE_TIMEOUT, exchange(server.local_addr(), input))
            .await
            .is_ok();
        server.shutdown().await;
        assert!(
            finished,
            "the server neither answered nor closed the connection within {WIRE_TIMEOUT:?}"
        );
    });
}

/// Write `input` and half-close while reading the answers until the server closes.
async fn exchange(address: std::net::SocketAddr, input: &[u8]) {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the server");
    // An abortive close: no TIME_WAIT port left behind per input.
    let _ = stream.set_zero_linger();
    let (mut reader, mut writer) = stream.into_split();
    let send = async {
        // The server may close before reading everything: that is an answer, too.
        let _ = writer.write_all(input).await;
        let _ = writer.shutdown().await;
    };
    let receive = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::join!(send, receive);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_tables_are_skipped() {
        assert!(reaches_outside(
            "CREATE TABLE s (a INT) WITH ('CONNECTOR' = 'datagen')"
        ));
        assert!(!reaches_outside("CREATE TABLE s (a INT)"));
        assert!(!reaches_outside("SELECT 'with'"));
    }

    #[test]
    fn harnesses_run_valid_input() {
        sql_frontend(b"SELECT s, count(*) FROM t JOIN u USING (k) GROUP BY s");
        let mut startup = Vec::new();
        let body = b"\0\x03\0\0user\0sluice\0\0";
        startup.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        startup.extend_from_slice(body);
        startup.extend_from_slice(b"Q\0\0\0\rSELECT 1\0X\0\0\0\x04");
        wire_decoder(&startup);
    }
}
