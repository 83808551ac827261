//! Abrupt disconnects, oversized and malformed messages over real TCP connections: the
//! server answers with a FATAL error (08P01 protocol violation, 54000 message too large)
//! or closes that connection, never panics, and keeps serving other clients.

mod common;

use std::time::Duration;

use sluice_server::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn startup() -> Vec<u8> {
    let body = b"\0\x03\0\0user\0sluice\0database\0sluice\0\0";
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend_from_slice(body);
    packet
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Send `bytes`, half-close, and read everything until the server closes the connection.
async fn exchange(server: &Server, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    // The server may close before reading all: a failed write is an answer, too.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        let _ = stream.read_to_end(&mut answer).await;
    })
    .await
    .expect("the server closes the connection");
    answer
}

/// The SQLSTATEs of the ErrorResponses in a backend byte stream (after the startup).
fn error_codes(mut bytes: &[u8]) -> Vec<String> {
    let mut codes = Vec::new();
    while bytes.len() >= 5 {
        let kind = bytes[0];
        let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        if length < 4 || bytes.len() < 1 + length {
            break;
        }
        let body = &bytes[5..1 + length];
        if kind == b'E' {
            for field in body.split(|&b| b == 0) {
                if let Some((b'C', code)) = field.split_first() {
                    codes.push(String::from_utf8_lossy(code).into_owned());
                }
            }
        }
        bytes = &bytes[1 + length..];
    }
    codes
}

/// Another client still gets answers.
async fn still_serving(server: &Server) {
    let (client, _connection) = common::connect(server).await;
    let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 2);
}

#[tokio::test]
async fn malformed_and_oversized_messages_get_an_error_or_a_close() {
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_message_size: 1024 * 1024,
        ..Default::default()
    })
    .await
    .unwrap();
    let after_startup = |bytes: Vec<u8>| {
        let mut stream = startup();
        stream.extend(bytes);
        stream
    };
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        // Length field 1 GiB: refused at once, not buffered.
        (
            "1 GiB query",
            after_startup(b"Q\x40\0\0\0SELECT".to_vec()),
            Some("54000"),
        ),
        // Over the configured limit (1 MiB here).
        (
            "2 MiB query",
            after_startup(message(b'Q', &vec![b' '; 2 * 1024 * 1024])),
            Some("54000"),
        ),
        (
            "negative length",
            after_startup(b"Q\xff\xff\xff\xf0".to_vec()),
            Some("08P01"),
        ),
        (
            "length below 4",
            after_startup(b"Q\0\0\0\x02SELECT 1\0".to_vec()),
            Some("08P01"),
        ),
        (
            "bind parameter past the end",
            after_startup(message(b'B', b"\0\0\0\0\0\x01\x7f\xff\xff\xff\0\0")),
            Some("08P01"),
        ),
        (
            "execute without row limit",
            after_startup(message(b'E', b"\0")),
            Some("08P01"),
        ),
        (
            "unknown message type",
            after_startup(message(b'z', b"")),
            Some("08P01"),
        ),
        // Garbage instead of a startup packet: an HTTP request.
        (
            "HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            None,
        ),
        // Startup packet with a huge length.
        (
            "huge startup packet",
            b"\x40\0\0\0\0\x03\0\0".to_vec(),
            None,
        ),
        // Truncated message, then the client disconnects.
        (
            "truncated query",
            after_startup(message(b'Q', b"SELECT 1\0")[..7].to_vec()),
            None,
        ),
        ("truncated startup", startup()[..10].to_vec(), None),
    ];
    for (name, bytes, expected) in cases {
        let answer = exchange(&server, &bytes).await;
        let codes = error_codes(&answer);
        match expected {
            Some(code) => assert!(
                codes.iter().any(|c| c == code),
                "{name}: expected {code}, got {codes:?}"
            ),
            None => assert!(
                codes
                    .iter()
                    .all(|c| c == "08P01" || c == "54000" || c == "0A000"),
                "{name}: {codes:?}"
            ),
        }
        still_serving(&server).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn abrupt_disconnects_free_their_connection_slot() {
    // One slot: if an abandoned connection kept it, the next client would be refused.
    let server = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_connections: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    for cut in [0, 3, 10, startup().len(), startup().len() + 3] {
        let mut bytes = startup();
        bytes.extend(message(b'Q', b"SELECT 1\0"));
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream.write_all(&bytes[..cut]).await.unwrap();
        drop(stream);
        // The server notices the close; then the slot is free again.
        let mut served = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let address = server.local_addr();
            if let Ok((client, connection)) = tokio_postgres::connect(
                &format!(
                    "host={} port={} user=sluice dbname=sluice",
                    address.ip(),
                    address.port()
                ),
                tokio_postgres::NoTls,
            )
            .await
            {
                tokio::spawn(connection);
                if client.simple_query("SELECT 1").await.is_ok() {
                    served = true;
                    break;
                }
            }
        }
        assert!(served, "cut at {cut}: the slot was not freed");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_parse_messages_is_answered_and_the_server_stays_usable() {
    let server = common::start_server().await;
    let mut bytes = startup();
    for i in 0..2000 {
        // Valid, invalid and parameterized statements, named and unnamed, without Sync.
        let sql = match i % 3 {
            0 => format!("SELECT {i}"),
            1 => "SELEC nonsense".to_string(),
            _ => "SELECT $1::int + 1".to_string(),
        };
        let name = if i % 2 == 0 {
            format!("s{i}")
        } else {
            String::new()
        };
        let mut body = name.into_bytes();
        body.push(0);
        body.extend_from_slice(sql.as_bytes());
        body.extend_from_slice(b"\0\0\0");
        bytes.extend(message(b'P', &body));
    }
    bytes.extend(message(b'S', b""));
    bytes.extend(message(b'Q', b"SELECT 1\0"));
    bytes.extend(message(b'X', b""));
    let answer = exchange(&server, &bytes).await;
    // The first invalid Parse errors (42601) and the rest up to Sync is skipped; the
    // query after Sync runs.
    let codes = error_codes(&answer);
    assert_eq!(codes, vec!["42601"], "{codes:?}");
    assert!(
        answer.windows(6).filter(|w| w == b"Z\0\0\0\x05I").count() >= 2,
        "ReadyForQuery after Sync and after the query"
    );
    still_serving(&server).await;
    server.shutdown().await;
}

/// The kinds of the messages in a backend byte stream.
fn message_kinds(mut bytes: &[u8]) -> Vec<u8> {
    let mut kinds = Vec::new();
    while bytes.len() >= 5 {
        let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        if length < 4 || bytes.len() < 1 + length {
            break;
        }
        kinds.push(bytes[0]);
        bytes = &bytes[1 + length..];
    }
    kinds
}

/// Found by fuzzing (`fuzz/artifacts/wire_decoder/crash-f6ffa847..`): pgwire reserved
/// room for an Execute's whole row limit before fetching, so a limit of 0x7c000000 rows
/// aborted the server on an 83 GB allocation, and a negative one overflowed. Huge and
/// negative limits now just return the rows.
#[tokio::test]
async fn execute_with_a_huge_or_negative_row_limit_returns_the_rows() {
    let server = common::start_server().await;
    let mut bytes = startup();
    bytes.extend(message(b'P', b"\0SELECT 1\0\0\0"));
    for max_rows in [i32::MAX, -1, 0x7c00_0000] {
        bytes.extend(message(b'B', b"\0\0\0\0\0\0\0\0"));
        let mut execute = b"\0".to_vec();
        execute.extend_from_slice(&max_rows.to_be_bytes());
        bytes.extend(message(b'E', &execute));
    }
    bytes.extend(message(b'S', b""));
    bytes.extend(message(b'X', b""));
    let answer = exchange(&server, &bytes).await;
    assert_eq!(error_codes(&answer), Vec::<String>::new());
    let kinds = message_kinds(&answer);
    assert_eq!(kinds.iter().filter(|&&k| k == b'D').count(), 3, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|&&k| k == b'C').count(), 3, "{kinds:?}");
    still_serving(&server).await;
    server.shutdown().await;
}
