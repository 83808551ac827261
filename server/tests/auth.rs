//! Authentication, TLS and the connection limit over the wire: SCRAM-SHA-256 logins (right
//! and wrong passwords, unknown users, stored verifiers), trust mode, statements sent before
//! authentication, TLS with tokio-postgres + rustls and with psql, `--tls-required`, bad
//! certificate files, and `--max-connections` (53300, slots freed by clean and abrupt
//! disconnects).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pgwire::tokio::tokio_rustls::rustls;
use sluice_server::{AuthMethod, Server, ServerConfig, ServerError, TlsFiles, Users};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::error::{DbError, SqlState};
use tokio_postgres::{Client, NoTls};

/// A verifier PostgreSQL 15 stored for `CREATE ROLE .. PASSWORD 'secret'`.
const POSTGRES_VERIFIER: &str = "SCRAM-SHA-256$4096:u3Tx6GKFMP8Xgso+ItdBJg==$wBW6j+rxLbY2+Tc8Yq3ETR0JQ155tOZHB2CkLsc3F94=:2j8vHtUh/N37ZuQY9mX+jwUUQeT/TP9i1JE3wh4B7o0=";

fn users(entries: &[(&str, &str)]) -> Users {
    let mut users = Users::new();
    for (name, password) in entries {
        users.insert_password(name, password).expect("verifier");
    }
    users
}

async fn start(config: ServerConfig) -> Server {
    Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        ..config
    })
    .await
    .expect("server starts")
}

fn password_config() -> ServerConfig {
    ServerConfig {
        auth: AuthMethod::Password,
        users: users(&[("ann", "s3cret"), ("bob", "hunter2")]),
        ..Default::default()
    }
}

fn conninfo(server: &Server, user: &str, password: Option<&str>) -> String {
    let mut info = format!(
        "host=127.0.0.1 port={} user={user} dbname=sluice",
        server.local_addr().port()
    );
    if let Some(password) = password {
        info.push_str(&format!(" password='{password}'"));
    }
    info
}

/// Connect without TLS; the connection task runs in the background.
async fn connect(
    server: &Server,
    user: &str,
    password: Option<&str>,
) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) =
        tokio_postgres::connect(&conninfo(server, user, password), NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The server's ErrorResponse behind a failed connect.
fn db_error(error: &tokio_postgres::Error) -> &DbError {
    error
        .as_db_error()
        .unwrap_or_else(|| panic!("expected an ErrorResponse, got: {error}"))
}

async fn select_one(client: &Client) -> i64 {
    client
        .query_one("SELECT CAST(1 AS BIGINT)", &[])
        .await
        .expect("query")
        .get(0)
}

#[tokio::test]
async fn scram_login_with_the_right_password() {
    let server = start(password_config()).await;
    let client = connect(&server, "ann", Some("s3cret"))
        .await
        .expect("ann logs in");
    assert_eq!(select_one(&client).await, 1);
    let client = connect(&server, "bob", Some("hunter2"))
        .await
        .expect("bob logs in");
    assert_eq!(select_one(&client).await, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_refused_with_28p01() {
    let server = start(password_config()).await;
    for (user, password) in [("ann", "hunter2"), ("ann", ""), ("nobody", "s3cret")] {
        let error = connect(&server, user, Some(password))
            .await
            .expect_err("refused");
        let db = db_error(&error);
        assert_eq!(db.code(), &SqlState::INVALID_PASSWORD, "{user}/{password}");
        assert_eq!(db.severity(), "FATAL");
        assert_eq!(
            db.message(),
            format!("password authentication failed for user \"{user}\"")
        );
    }
    // The server still serves the right password afterwards.
    let client = connect(&server, "ann", Some("s3cret"))
        .await
        .expect("login");
    assert_eq!(select_one(&client).await, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn trust_accepts_any_user_and_keeps_startup_parameters() {
    let server = start(ServerConfig::default()).await;
    for user in ["sluice", "anyone"] {
        let client = connect(&server, user, None).await.expect("trusted");
        assert_eq!(select_one(&client).await, 1);
    }
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "{} application_name=auth-test",
            conninfo(&server, "x", Some("ignored"))
        ),
        NoTls,
    )
    .await
    .expect("trusted with a password too");
    tokio::spawn(connection);
    let name: String = client
        .query_one("SHOW application_name", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(name, "auth-test");
    server.shutdown().await;
}

#[tokio::test]
async fn users_file_with_stored_verifiers_and_passwords() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users");
    std::fs::write(
        &file,
        format!("# name:password or name:verifier\npg:{POSTGRES_VERIFIER}\n\nann:with:colon\n"),
    )
    .expect("write");
    let mut users = Users::new();
    users.add_file(&file).expect("users file");
    let server = start(ServerConfig {
        auth: AuthMethod::Password,
        users,
        ..Default::default()
    })
    .await;
    let client = connect(&server, "pg", Some("secret"))
        .await
        .expect("PostgreSQL's verifier");
    assert_eq!(select_one(&client).await, 1);
    let client = connect(&server, "ann", Some("with:colon"))
        .await
        .expect("password with a colon");
    assert_eq!(select_one(&client).await, 1);
    let error = connect(&server, "pg", Some("Secret"))
        .await
        .expect_err("wrong");
    assert_eq!(db_error(&error).code(), &SqlState::INVALID_PASSWORD);
    server.shutdown().await;
}

#[tokio::test]
async fn password_mode_needs_users() {
    let error = Server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        auth: AuthMethod::Password,
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(matches!(error, ServerError::NoUsers), "{error}");
}

/// A startup message for `user` (protocol 3.0).
fn startup_message(user: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196608i32.to_be_bytes());
    for (key, value) in [("user", user), ("database", "sluice")] {
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    message.extend(body);
    message
}

fn query_message(sql: &str) -> Vec<u8> {
    let mut message = vec![b'Q'];
    message.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
    message.extend_from_slice(sql.as_bytes());
    message.push(0);
    message
}

/// Everything the server sends until it closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received));
    match read.await {
        Ok(Ok(_)) => {}
        // A reset after the error is fine: the bytes before it were read.
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Err(error)) => panic!("read: {error}"),
        Err(_) => panic!("the server did not close the connection"),
    }
    received
}

/// The message type bytes of a backend byte stream.
fn message_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 5 {
        types.push(bytes[0]);
        let length = i32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        bytes = &bytes[(1 + length).min(bytes.len())..];
    }
    types
}

#[tokio::test]
async fn statements_before_authentication_are_refused_and_not_run() {
    let server = start(password_config()).await;
    let mut stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    // Startup and a query pipelined without authenticating.
    let mut bytes = startup_message("ann");
    bytes.extend(query_message("CREATE TABLE pwned (x INT)"));
    stream.write_all(&bytes).await.expect("send");
    let received = read_to_close(&mut stream).await;
    let types = message_types(&received);
    // AuthenticationSASL, then a FATAL error; never a query result or ReadyForQuery.
    assert_eq!(types, vec![b'R', b'E'], "{received:?}");
    assert!(
        String::from_utf8_lossy(&received).contains("08P01"),
        "{received:?}"
    );

    let client = connect(&server, "ann", Some("s3cret"))
        .await
        .expect("login");
    let error = client
        .simple_query("SELECT * FROM pwned")
        .await
        .expect_err("the table was never created");
    assert_eq!(error.code(), Some(&SqlState::UNDEFINED_TABLE), "{error}");
    server.shutdown().await;
}

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files.
fn certificate(dir: &Path) -> (TlsFiles, Vec<u8>) {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("certificate");
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    std::fs::write(&cert, generated.cert.pem()).expect("write cert");
    std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
    (TlsFiles { cert, key }, generated.cert.der().to_vec())
}

/// tokio-postgres over rustls, trusting exactly `certificate`.
fn rustls_connector(certificate: &[u8]) -> tokio_postgres_rustls::MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            certificate.to_vec(),
        ))
        .expect("trust the certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_postgres_rustls::MakeRustlsConnect::new(config)
}

#[tokio::test]
async fn tls_with_tokio_postgres_rustls_and_psql_verify_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, der) = certificate(dir.path());
    let server = start(ServerConfig {
        tls: Some(files),
        ..password_config()
    })
    .await;
    let port = server.local_addr().port();

    let connector = rustls_connector(&der);
    let info = format!(
        "{} sslmode=require",
        conninfo(&server, "ann", Some("s3cret"))
    );
    let (client, connection) = tokio_postgres::connect(&info, connector.clone())
        .await
        .expect("TLS login");
    tokio::spawn(connection);
    assert_eq!(select_one(&client).await, 1);
    let info = format!(
        "{} sslmode=require",
        conninfo(&server, "ann", Some("wrong"))
    );
    let error = tokio_postgres::connect(&info, connector)
        .await
        .err()
        .expect("wrong password over TLS");
    assert_eq!(db_error(&error).code(), &SqlState::INVALID_PASSWORD);
    // Without TLS the same server still accepts (TLS is offered, not required).
    let client = connect(&server, "bob", Some("hunter2"))
        .await
        .expect("plain");
    assert_eq!(select_one(&client).await, 1);

    let psql = std::process::Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if common::require(psql, "psql") {
        let output = tokio::process::Command::new("psql")
            .arg(format!(
                "host=127.0.0.1 port={port} user=ann dbname=sluice sslmode=verify-full sslrootcert={}",
                dir.path().join("server.crt").display()
            ))
            .args(["-X", "-At", "-c", "SELECT 1 + 1", "-c", "\\conninfo"])
            .env("PGPASSWORD", "s3cret")
            .output()
            .await
            .expect("run psql");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "psql failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.starts_with("2\n"), "{stdout}");
        assert!(stdout.contains("SSL connection"), "{stdout}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn tls_required_refuses_plain_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, der) = certificate(dir.path());
    let server = start(ServerConfig {
        tls: Some(files),
        tls_required: true,
        ..Default::default()
    })
    .await;
    let error = connect(&server, "sluice", None).await.expect_err("plain");
    let db = db_error(&error);
    assert_eq!(
        db.code(),
        &SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
        "{db:?}"
    );
    assert!(db.message().contains("requires TLS"), "{}", db.message());
    let info = format!("{} sslmode=require", conninfo(&server, "sluice", None));
    let (client, connection) = tokio_postgres::connect(&info, rustls_connector(&der))
        .await
        .expect("TLS");
    tokio::spawn(connection);
    assert_eq!(select_one(&client).await, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_tls_files_are_clear_startup_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (good, _) = certificate(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let other = tempfile::tempdir().expect("tempdir");
    let (other_files, _) = certificate(other.path());
    let missing = dir.path().join("missing.pem");
    let cases: Vec<(TlsFiles, &Path)> = vec![
        (
            TlsFiles {
                cert: missing.clone(),
                key: good.key.clone(),
            },
            &missing,
        ),
        (
            TlsFiles {
                cert: garbage.clone(),
                key: good.key.clone(),
            },
            &garbage,
        ),
        (
            TlsFiles {
                cert: good.cert.clone(),
                key: garbage.clone(),
            },
            &garbage,
        ),
        (
            TlsFiles {
                cert: good.cert.clone(),
                key: other_files.key.clone(),
            },
            &other_files.key,
        ),
    ];
    for (files, named) in cases {
        let error = Server::start(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            tls: Some(files.clone()),
            ..Default::default()
        })
        .await
        .err()
        .unwrap_or_else(|| panic!("{files:?} accepted"));
        let message = error.to_string();
        assert!(matches!(error, ServerError::Tls(_)), "{message}");
        assert!(
            message.contains(&named.display().to_string()),
            "{message} does not name {}",
            named.display()
        );
    }

    // The binary: a message naming the file and a failure exit code, not a panic.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--in-memory", "--listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&missing)
        .arg("--tls-key")
        .arg(&good.key)
        .output()
        .await
        .expect("run sluice");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing.pem"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Retry `connect` until it succeeds: slots are freed when the server notices a disconnect.
async fn connect_eventually(server: &Server) -> Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match connect(server, "sluice", None).await {
            Ok(client) => return client,
            Err(error) if tokio::time::Instant::now() < deadline => {
                assert_eq!(db_error(&error).code(), &SqlState::TOO_MANY_CONNECTIONS);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("no slot was freed: {error}"),
        }
    }
}

async fn assert_too_many(server: &Server) {
    let error = connect(server, "sluice", None)
        .await
        .expect_err("over the limit");
    let db = db_error(&error);
    assert_eq!(db.code(), &SqlState::TOO_MANY_CONNECTIONS);
    assert_eq!(db.severity(), "FATAL");
    assert_eq!(db.message(), "sorry, too many clients already");
}

#[tokio::test]
async fn max_connections_refuses_with_53300_and_frees_slots() {
    let server = start(ServerConfig {
        max_connections: 2,
        http: Some("127.0.0.1:0".parse().expect("address")),
        ..Default::default()
    })
    .await;
    let first = connect(&server, "sluice", None).await.expect("first");
    let second = connect(&server, "sluice", None).await.expect("second");
    assert_too_many(&server).await;
    assert_eq!(select_one(&first).await, 1, "open connections keep working");

    // A clean close frees a slot.
    drop(first);
    let third = connect_eventually(&server).await;
    assert_eq!(select_one(&third).await, 1);
    assert_too_many(&server).await;

    // A client that vanishes mid-startup frees its slot too.
    drop(second);
    wait_for_active(&server, 1).await;
    let mut half_open = TcpStream::connect(server.local_addr())
        .await
        .expect("connect");
    half_open
        .write_all(&startup_message("sluice")[..6])
        .await
        .expect("half a startup message");
    wait_for_active(&server, 2).await;
    assert_too_many(&server).await;
    drop(half_open);
    let fourth = connect_eventually(&server).await;
    assert_eq!(select_one(&fourth).await, 1);

    let metrics = http_get(server.http_addr().expect("http"), "/metrics").await;
    assert!(
        metrics.contains("sluice_connections_active 2\n"),
        "{metrics}"
    );
    let refused = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sluice_connections_refused_total "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("refused counter");
    assert!(refused >= 3.0, "{metrics}");
    server.shutdown().await;
}

/// Wait until `sluice_connections_active` is `n`.
async fn wait_for_active(server: &Server, n: u64) {
    let addr = server.http_addr().expect("http");
    let wanted = format!("sluice_connections_active {n}\n");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = http_get(addr, "/metrics").await;
        if metrics.contains(&wanted) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {n} active connections: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}
