//! Listener and per-connection Postgres wire handlers.
//!
//! A connection takes one of `max_connections` slots (refused with 53300 when none is free,
//! after the client's startup message, as PostgreSQL does) and gives it back however it ends.
//! TLS is offered when a certificate is configured. The startup handler authenticates (trust
//! or SCRAM-SHA-256, see [`crate::auth`]); a FATAL startup error is sent and the socket
//! closed, and no statement runs on a connection that has not authenticated.
//! Each accepted socket gets its own [`Connection`] holding a planner [`Session`]; the
//! simple protocol runs every statement of a query string in order, the extended protocol
//! prepares statements (parameter types and result columns from DataFusion's plan) and binds
//! parameters decoded by `arrow-pg`. Results are encoded from Arrow by `arrow-pg`, in text or
//! binary as the client asks. Planner errors become ErrorResponses with their SQLSTATE and
//! position; the connection stays usable.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use arrow_pg::encoder::{encode_value, Encoder};
use async_trait::async_trait;
use futures::{stream, Sink, SinkExt, StreamExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{send_execution_response, send_query_response, send_ready_for_query};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::FieldFormat;
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers, Type, METADATA_USER,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::messages::extendedquery::Execute;
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::{Authentication, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::TlsAcceptor;
use ring::rand::{SecureRandom, SystemRandom};
use sluice_planner::{
    Database, PlanError, PreparedStatement, Session, StatementResult, TransactionState,
};
use tokio::sync::{oneshot, Mutex, Notify};
use tokio::task::JoinHandle;

use crate::auth::{self, AuthMethod, ScramError, ScramPending, Users};
use crate::cancel::{CancelRegistration, CancelRegistry, Canceller};
use crate::http::{HttpEndpoint, ServerStats};
use crate::tls::{self, TlsError};
use crate::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("--auth password needs at least one user (--user NAME:PASSWORD or --users-file FILE)")]
    NoUsers,
    #[error("--tls-required needs a certificate and key (--tls-cert FILE --tls-key FILE)")]
    TlsRequiredWithoutCertificate,
    #[error("--max-connections must be at least 1")]
    NoConnectionsAllowed,
}

/// How long a connection refused for the connection limit may take to send its startup
/// message before it is dropped.
const REFUSED_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

impl ServerConfig {
    /// Check the options that do not need the network, and load the TLS certificate: the
    /// errors `start` would give, before anything else is opened.
    pub fn validate(&self) -> Result<Option<TlsAcceptor>, ServerError> {
        if self.auth == AuthMethod::Password && self.users.is_empty() {
            return Err(ServerError::NoUsers);
        }
        if self.tls_required && self.tls.is_none() {
            return Err(ServerError::TlsRequiredWithoutCertificate);
        }
        if self.max_connections == 0 {
            return Err(ServerError::NoConnectionsAllowed);
        }
        if self.auth == AuthMethod::Trust && !self.users.is_empty() {
            tracing::warn!(
                "users are configured but --auth is trust: every user is accepted without a password"
            );
        }
        match &self.tls {
            Some(files) => Ok(Some(tls::load_acceptor(files)?)),
            None => Ok(None),
        }
    }
}

/// A running server.
pub struct Server {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    http: Option<HttpEndpoint>,
}

impl Server {
    /// Bind and start serving in background tasks on the current tokio runtime.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        Self::start_with(config, Database::new()).await
    }

    /// Serve an existing database.
    pub async fn start_with(
        config: ServerConfig,
        database: Arc<Database>,
    ) -> Result<Server, ServerError> {
        let tls = config.validate()?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let stats = Arc::new(ServerStats::default());
        let http = match config.http {
            Some(addr) => Some(
                HttpEndpoint::start(addr, database.clone(), stats.clone())
                    .await
                    .map_err(|source| ServerError::Bind { addr, source })?,
            ),
            None => None,
        };
        let access = Arc::new(Access {
            method: config.auth,
            users: config.users.clone(),
            tls_required: config.tls_required,
        });
        let max_connections = config.max_connections;
        let cancels = Arc::new(CancelRegistry::default());
        let max_message_size = config.max_message_size;
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let connections = Arc::new(AtomicI32::new(1000));
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => match accepted {
                        Ok((socket, peer)) => {
                            let _ = socket.set_nodelay(true);
                            let pid = connections.fetch_add(1, Ordering::Relaxed);
                            let slot = ConnectionSlot::acquire(&stats, max_connections);
                            let admitted = slot.is_some();
                            if admitted {
                                stats.connections_total.fetch_add(1, Ordering::Relaxed);
                            } else {
                                stats.connections_refused_total.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(%peer, max_connections, "connection refused: too many clients");
                            }
                            let control = Arc::new(ConnectionControl::default());
                            let handlers = Arc::new(Connection::new(
                                database.clone(),
                                pid,
                                StartupPolicy {
                                    access: access.clone(),
                                    admitted,
                                    stats: stats.clone(),
                                    peer,
                                },
                                control.clone(),
                                cancels.clone(),
                            ));
                            let tls = tls.clone();
                            tokio::spawn(async move {
                                // Frees the slot however the connection ends.
                                let _slot = slot;
                                tracing::debug!(%peer, pid, "connection opened");
                                let serve = async {
                                    tokio::select! {
                                        result = crate::wire_guard::process_socket(socket, tls, handlers, max_message_size) => {
                                            if let Err(error) = result {
                                                tracing::debug!(%peer, %error, "connection ended with an error");
                                            }
                                        }
                                        () = control.closed.notified() => {}
                                    }
                                };
                                if admitted {
                                    serve.await;
                                } else if tokio::time::timeout(REFUSED_CONNECTION_TIMEOUT, serve).await.is_err() {
                                    tracing::debug!(%peer, "refused connection timed out");
                                }
                                tracing::debug!(%peer, pid, "connection closed");
                            });
                        }
                        Err(error) => {
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        });
        tracing::info!(
            %local_addr,
            auth = ?config.auth,
            tls = config.tls.is_some(),
            tls_required = config.tls_required,
            max_connections,
            "sluice is listening"
        );
        Ok(Server {
            local_addr,
            stop: Some(stop),
            task,
            http,
        })
    }

    /// The address of the HTTP endpoint, if one was configured.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpEndpoint::local_addr)
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting connections.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        if let Some(http) = self.http.take() {
            http.shutdown().await;
        }
    }
}

/// One of `--max-connections` slots, counted in `connections_active`; freed on drop, so a
/// connection that ends in any way (including a client that vanishes mid-startup, or a panic)
/// gives its slot back.
struct ConnectionSlot {
    stats: Arc<ServerStats>,
}

impl ConnectionSlot {
    fn acquire(stats: &Arc<ServerStats>, max_connections: usize) -> Option<ConnectionSlot> {
        let max = max_connections as u64;
        stats
            .connections_active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |active| {
                (active < max).then_some(active + 1)
            })
            .ok()
            .map(|_| ConnectionSlot {
                stats: stats.clone(),
            })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.stats.connections_active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Who may connect, shared by all connections.
struct Access {
    method: AuthMethod,
    users: Users,
    tls_required: bool,
}

/// What the startup handler of one connection needs to decide on it.
struct StartupPolicy {
    access: Arc<Access>,
    /// False when the connection limit was reached: the startup is answered with 53300.
    admitted: bool,
    stats: Arc<ServerStats>,
    peer: SocketAddr,
}

/// Per-connection flags shared by the handlers and the task serving the socket.
#[derive(Default)]
struct ConnectionControl {
    /// Set once authentication succeeded; statements are refused before.
    authenticated: AtomicBool,
    /// Notified after a FATAL startup error was sent: the task drops the socket.
    closed: Notify,
}

impl ConnectionControl {
    fn ensure_authenticated(&self) -> PgWireResult<()> {
        if self.authenticated.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_string(),
                "28000".to_string(),
                "the connection is not authenticated".to_string(),
            ))))
        }
    }
}

/// One client connection: its session and the protocol handlers.
struct Connection {
    session: Arc<Mutex<Session>>,
    parser: Arc<SluiceQueryParser>,
    startup: Arc<Startup>,
    control: Arc<ConnectionControl>,
    cancels: Arc<CancelRegistry>,
}

impl Connection {
    fn new(
        database: Arc<Database>,
        pid: i32,
        policy: StartupPolicy,
        control: Arc<ConnectionControl>,
        cancels: Arc<CancelRegistry>,
    ) -> Self {
        let session = Session::new(database);
        let cancel_signal = session.cancel_signal();
        let session = Arc::new(Mutex::new(session));
        Self {
            parser: Arc::new(SluiceQueryParser {
                session: session.clone(),
                control: control.clone(),
            }),
            startup: Arc::new(Startup {
                parameters: server_parameters(),
                session: session.clone(),
                pid,
                policy,
                control: control.clone(),
                state: parking_lot::Mutex::new(StartupState::AwaitingStartup),
                cancels: cancels.clone(),
                cancel_signal: cancel_signal.clone(),
                cancel_registration: parking_lot::Mutex::new(None),
            }),
            session,
            control,
            cancels,
        }
    }

    fn handler(&self) -> Arc<Handler> {
        Arc::new(Handler {
            session: self.session.clone(),
            parser: self.parser.clone(),
            control: self.control.clone(),
            cancel_signal: self.startup.cancel_signal.clone(),
        })
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.handler()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.handler()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(Canceller(self.cancels.clone()))
    }
}

/// The ParameterStatus values sent at startup (clients read server_version and TimeZone).
fn server_parameters() -> DefaultServerParameterProvider {
    let mut parameters = DefaultServerParameterProvider::default();
    parameters.server_version = "15.0 (Sluice)".to_string();
    parameters.time_zone = "UTC".to_string();
    parameters.search_path = "public".to_string();
    parameters
}

/// Where a connection is in its startup.
#[derive(Debug)]
enum StartupState {
    AwaitingStartup,
    /// SCRAM offered; waiting for the SASLInitialResponse.
    AwaitingClientFirst {
        user: String,
    },
    /// Server-first-message sent; waiting for the client's proof.
    AwaitingClientFinal {
        user: String,
        pending: Box<ScramPending>,
    },
    Authenticated,
    /// A FATAL error was sent; everything else the client sends is ignored.
    Refused,
}

/// A startup step that cannot go on.
enum StartupFailure {
    /// Tell the client (FATAL ErrorResponse) and close the connection.
    Refuse(Box<ErrorInfo>),
    /// The socket failed: nothing more can be sent.
    Wire(PgWireError),
}

impl From<PgWireError> for StartupFailure {
    fn from(error: PgWireError) -> Self {
        match error {
            PgWireError::IoError(_) => StartupFailure::Wire(error),
            other => {
                let mut info = ErrorInfo::from(other);
                info.severity = "FATAL".to_string();
                StartupFailure::Refuse(Box::new(info))
            }
        }
    }
}

fn fatal(code: &str, message: impl Into<String>) -> StartupFailure {
    StartupFailure::Refuse(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message.into(),
    )))
}

fn password_failed(user: &str) -> StartupFailure {
    fatal(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

/// The startup handler: connection limit, TLS requirement, trust or SCRAM-SHA-256, then the
/// startup parameters into the session, the pid and secret key, and the server parameters.
struct Startup {
    parameters: DefaultServerParameterProvider,
    session: Arc<Mutex<Session>>,
    pid: i32,
    policy: StartupPolicy,
    control: Arc<ConnectionControl>,
    state: parking_lot::Mutex<StartupState>,
    /// Cancel requests for this connection notify `cancel_signal` while it is registered.
    cancels: Arc<CancelRegistry>,
    cancel_signal: Arc<Notify>,
    cancel_registration: parking_lot::Mutex<Option<CancelRegistration>>,
}

impl Startup {
    async fn step<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> Result<(), StartupFailure>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = std::mem::replace(&mut *self.state.lock(), StartupState::Refused);
        match (state, message) {
            (StartupState::Refused, _) => Ok(()),
            (StartupState::AwaitingStartup, PgWireFrontendMessage::Startup(startup)) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                if !self.policy.admitted {
                    return Err(fatal("53300", "sorry, too many clients already"));
                }
                let access = &self.policy.access;
                if access.tls_required && !client.is_secure() {
                    return Err(fatal(
                        "28000",
                        "the server requires TLS: connect with sslmode=require",
                    ));
                }
                let Some(user) = client.metadata().get(METADATA_USER).cloned() else {
                    return Err(fatal(
                        "28000",
                        "no PostgreSQL user name specified in startup packet",
                    ));
                };
                {
                    let mut session = self.session.lock().await;
                    for (key, value) in client.metadata() {
                        if key == "application_name" || key == "client_encoding" {
                            session.set(key, value);
                        }
                    }
                }
                let secret = secret_key(self.pid);
                client.set_pid_and_secret_key(self.pid, SecretKey::I32(secret));
                *self.cancel_registration.lock() = Some(self.cancels.register(
                    self.pid,
                    secret,
                    self.cancel_signal.clone(),
                ));
                match access.method {
                    AuthMethod::Trust => self.authenticated(client, &user).await,
                    AuthMethod::Password => {
                        client.set_state(PgWireConnectionState::AuthenticationInProgress);
                        client
                            .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                                vec![auth::SCRAM_SHA_256.to_string()],
                            )))
                            .await
                            .map_err(PgWireError::from)?;
                        *self.state.lock() = StartupState::AwaitingClientFirst { user };
                        Ok(())
                    }
                }
            }
            (
                StartupState::AwaitingClientFirst { user },
                PgWireFrontendMessage::PasswordMessageFamily(message),
            ) => {
                // pgwire's decoder panics on a SASL length past the end: check first.
                if let pgwire::messages::startup::PasswordMessageFamily::Raw(body) = &message {
                    crate::wire_guard::check_sasl_initial_response(body)
                        .map_err(|violation| fatal("08P01", violation.to_string()))?;
                }
                let initial = message.into_sasl_initial_response()?;
                if initial.auth_method != auth::SCRAM_SHA_256 {
                    return Err(fatal(
                        "28000",
                        format!(
                            "client selected an invalid SASL authentication mechanism {:?}",
                            initial.auth_method
                        ),
                    ));
                }
                let data = initial.data.ok_or_else(|| {
                    fatal(
                        "08P01",
                        "malformed SCRAM message: empty client-first-message",
                    )
                })?;
                let verifier = self.policy.access.users.get(&user);
                let (server_first, pending) = auth::server_first(&user, verifier, &data)
                    .map_err(|e| scram_failure(e, &user))?;
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::SASLContinue(server_first.into()),
                    ))
                    .await
                    .map_err(PgWireError::from)?;
                *self.state.lock() = StartupState::AwaitingClientFinal {
                    user,
                    pending: Box::new(pending),
                };
                Ok(())
            }
            (
                StartupState::AwaitingClientFinal { user, pending },
                PgWireFrontendMessage::PasswordMessageFamily(message),
            ) => {
                let response = message.into_sasl_response()?;
                let server_final = pending
                    .server_final(&response.data)
                    .map_err(|e| scram_failure(e, &user))?;
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::SASLFinal(server_final.into()),
                    ))
                    .await
                    .map_err(PgWireError::from)?;
                self.authenticated(client, &user).await
            }
            (StartupState::Authenticated, _) => {
                *self.state.lock() = StartupState::Authenticated;
                Ok(())
            }
            (_, PgWireFrontendMessage::PasswordMessageFamily(_)) => {
                Err(fatal("08P01", "unexpected password message"))
            }
            (_, _) => Err(fatal("08P01", "unexpected message during startup")),
        }
    }

    /// Authentication succeeded: AuthenticationOk, server parameters, BackendKeyData and
    /// ReadyForQuery.
    async fn authenticated<C>(&self, client: &mut C, user: &str) -> Result<(), StartupFailure>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        *self.state.lock() = StartupState::Authenticated;
        self.control.authenticated.store(true, Ordering::Release);
        finish_authentication(client, &self.parameters).await?;
        tracing::debug!(peer = %self.policy.peer, user, secure = client.is_secure(), "connection authorized");
        Ok(())
    }

    /// Send a FATAL error and have the connection closed, as PostgreSQL does.
    async fn refuse<C>(&self, client: &mut C, info: ErrorInfo) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        *self.state.lock() = StartupState::Refused;
        if info.code == "28P01" || info.code == "28000" {
            self.policy
                .stats
                .authentication_failures_total
                .fetch_add(1, Ordering::Relaxed);
        }
        tracing::info!(
            peer = %self.policy.peer,
            user = client.metadata().get(METADATA_USER).map(String::as_str).unwrap_or(""),
            code = %info.code,
            error = %info.message,
            "connection refused"
        );
        let sent = client
            .send(PgWireBackendMessage::ErrorResponse(info.into()))
            .await
            .map_err(PgWireError::from);
        // Close gracefully (TLS close_notify, FIN); the task drops the socket either way.
        let _ = client.close().await;
        self.control.closed.notify_one();
        sent
    }
}

fn scram_failure(error: ScramError, user: &str) -> StartupFailure {
    match error {
        ScramError::Failed => password_failed(user),
        ScramError::Malformed(_) | ScramError::ChannelBindingNotOffered => {
            fatal("08P01", error.to_string())
        }
        ScramError::Random => fatal("XX000", error.to_string()),
    }
}

/// The BackendKeyData secret: random, so that only this client can cancel its queries.
fn secret_key(pid: i32) -> i32 {
    let mut bytes = [0u8; 4];
    match SystemRandom::new().fill(&mut bytes) {
        Ok(()) => i32::from_ne_bytes(bytes),
        Err(_) => (pid as i64 * 7919 % i32::MAX as i64) as i32,
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self.step(client, message).await {
            Ok(()) => Ok(()),
            Err(StartupFailure::Refuse(info)) => self.refuse(client, *info).await,
            Err(StartupFailure::Wire(error)) => {
                *self.state.lock() = StartupState::Refused;
                self.control.closed.notify_one();
                Err(error)
            }
        }
    }
}

/// Parses statements for the extended protocol via the session.
struct SluiceQueryParser {
    session: Arc<Mutex<Session>>,
    control: Arc<ConnectionControl>,
}

/// A prepared statement with the parameter types the client declared.
#[derive(Debug, Clone)]
pub struct Prepared {
    statement: PreparedStatement,
    client_types: Vec<Option<Type>>,
}

#[async_trait]
impl QueryParser for SluiceQueryParser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        self.control.ensure_authenticated()?;
        let statement = self
            .session
            .lock()
            .await
            .prepare(sql)
            .await
            .map_err(to_pg_error)?;
        Ok(Some(Prepared {
            statement,
            client_types: types.to_vec(),
        }))
    }

    fn get_parameter_types(&self, prepared: &Self::Statement) -> PgWireResult<Vec<Type>> {
        let count = prepared
            .statement
            .parameter_types
            .len()
            .max(prepared.client_types.len());
        (0..count)
            .map(|i| {
                if let Some(Some(client)) = prepared.client_types.get(i) {
                    if *client != Type::UNKNOWN {
                        return Ok(client.clone());
                    }
                }
                if let Some(pg_type) = prepared
                    .statement
                    .parameter_pg_type(i)
                    .and_then(Type::from_oid)
                {
                    return Ok(pg_type);
                }
                match prepared.statement.parameter_types.get(i) {
                    Some(Some(data_type)) => into_pg_type(data_type),
                    _ => Ok(Type::TEXT),
                }
            })
            .collect()
    }

    fn get_result_schema(
        &self,
        prepared: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match &prepared.statement.schema {
            Some(schema) => pg_fields(schema, column_format.unwrap_or(&Format::UnifiedText)),
            None => Ok(vec![]),
        }
    }
}

/// A portal's parameter values: arrow-pg's decoding, told the OID types the planner noted
/// (`$1::oid`), with the types arrow-pg does not decode read here: `oid[]` as `Int32`
/// lists (like the catalogs' OID columns), `json`/`jsonb` as their text (arrow-pg asks
/// for a Rust `String`, which refuses them).
fn decode_parameters(
    portal: &Portal<Prepared>,
    statement: &PreparedStatement,
) -> PgWireResult<datafusion::common::ParamValues> {
    use datafusion::common::ParamValues;
    let inferred: Vec<Option<&DataType>> = statement
        .parameter_types
        .iter()
        .map(|t| t.as_ref())
        .collect();
    let count = portal.parameter_len();
    let client_types = &portal.statement.parameter_types;
    let described: Vec<Option<Type>> = (0..count)
        .map(|i| statement.parameter_pg_type(i).and_then(Type::from_oid))
        .collect();
    // What the client encoded each parameter as: its declared type, or the described one.
    let encoded_as = |i: usize| match client_types.get(i) {
        Some(Some(declared)) if *declared != Type::UNKNOWN => Some(declared.clone()),
        _ => described[i].clone(),
    };
    let ours: Vec<(usize, Type)> = (0..count)
        .filter_map(|i| {
            encoded_as(i)
                .filter(|t| matches!(*t, Type::OID_ARRAY | Type::JSON | Type::JSONB))
                .map(|t| (i, t))
        })
        .collect();
    let server_types: Vec<Option<&Type>> = described.iter().map(|t| t.as_ref()).collect();
    if ours.is_empty() {
        return arrow_pg::datatypes::df::deserialize_parameters_with_server_types(
            portal,
            &inferred,
            &server_types,
        );
    }
    // arrow-pg decodes the others; ours it sees as NULL text and they are replaced below.
    let mut others: Portal<()> = Portal::default();
    others.parameter_format = portal.parameter_format.clone();
    others.parameters = portal.parameters.clone();
    let mut declared = client_types.clone();
    declared.resize(count, None);
    for &(i, _) in &ours {
        others.parameters[i] = None;
        declared[i] = Some(Type::TEXT);
    }
    others.statement = Arc::new(StoredStatement::new(String::new(), (), declared));
    let ParamValues::List(mut values) =
        arrow_pg::datatypes::df::deserialize_parameters_with_server_types(
            &others,
            &inferred,
            &server_types,
        )?
    else {
        return Err(PgWireError::ApiError(
            "positional parameters expected".into(),
        ));
    };
    for (i, pg_type) in ours {
        let value = decode_parameter(portal, i, &pg_type)?;
        if let Some(slot) = values.get_mut(i) {
            *slot = value.into();
        }
    }
    Ok(ParamValues::List(values))
}

/// Parameter `i` of `portal`, encoded as `pg_type` (`oid[]`, `json` or `jsonb`).
fn decode_parameter(
    portal: &Portal<Prepared>,
    i: usize,
    pg_type: &Type,
) -> PgWireResult<datafusion::common::ScalarValue> {
    use datafusion::common::ScalarValue;
    let invalid = |message: String| to_pg_error(PlanError::InvalidTextRepresentation(message));
    if *pg_type == Type::OID_ARRAY {
        return match portal.parameter::<Vec<Option<u32>>>(i, pg_type)? {
            Some(oids) => {
                let elements: Vec<ScalarValue> = oids
                    .into_iter()
                    // An OID is an unsigned 32-bit number; catalogs keep it as Int32.
                    .map(|oid| ScalarValue::Int32(oid.map(|o| o as i32)))
                    .collect();
                Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                    &elements,
                    &DataType::Int32,
                )))
            }
            None => ScalarValue::try_from(DataType::new_list(DataType::Int32, true))
                .map_err(|e| PgWireError::ApiError(Box::new(e))),
        };
    }
    let Some(Some(raw)) = portal.parameters.get(i) else {
        return Ok(ScalarValue::Utf8(None));
    };
    let mut text: &[u8] = raw;
    if *pg_type == Type::JSONB && portal.parameter_format.is_binary(i) {
        // jsonb_send: a version byte (1), then the text.
        match text.split_first() {
            Some((1, rest)) => text = rest,
            _ => {
                return Err(invalid(format!(
                    "unsupported jsonb version in binary parameter ${}",
                    i + 1
                )))
            }
        }
    }
    match std::str::from_utf8(text) {
        Ok(text) => Ok(ScalarValue::Utf8(Some(text.to_string()))),
        Err(_) => Err(invalid(format!("parameter ${} is not valid UTF-8", i + 1))),
    }
}

struct Handler {
    session: Arc<Mutex<Session>>,
    parser: Arc<SluiceQueryParser>,
    control: Arc<ConnectionControl>,
    /// Notified by a CancelRequest for this connection.
    cancel_signal: Arc<Notify>,
}

impl Handler {
    /// The ReadyForQuery status: the session's transaction block.
    async fn transaction_status(&self) -> TransactionStatus {
        match self.session.lock().await.transaction_state() {
            TransactionState::Idle => TransactionStatus::Idle,
            TransactionState::InBlock => TransactionStatus::Transaction,
            TransactionState::Failed => TransactionStatus::Error,
        }
    }

    /// Stream a subscription until it ends; the error that ended it is returned to be
    /// reported (the session's transaction block, if any, fails with it).
    async fn stream_subscription<C>(
        &self,
        client: &mut C,
        subscription: sluice_planner::Subscription,
        format: &Format,
        describe: bool,
    ) -> PgWireResult<ErrorInfo>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let ended =
            crate::subscribe::stream(client, subscription, format, describe, &self.cancel_signal)
                .await?;
        tracing::debug!(code = %ended.code, message = %ended.message, "subscription stream ended");
        self.session.lock().await.statement_failed();
        Ok(ended)
    }
}

/// Convert a planner error into a Postgres ErrorResponse.
pub(crate) fn error_info(error: &PlanError) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        "ERROR".to_string(),
        error.sqlstate().to_string(),
        error.to_string(),
    );
    info.position = error.position().map(|p| p.to_string());
    info
}

fn to_pg_error(error: PlanError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&error)))
}

fn rows_response(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    format: &Format,
) -> PgWireResult<Response> {
    let fields = Arc::new(pg_fields(schema, format)?);
    let mut rows: Vec<PgWireResult<DataRow>> = Vec::new();
    for batch in batches {
        encode_batch(&fields, &batch, &mut rows);
    }
    Ok(Response::Query(QueryResponse::new(
        fields,
        stream::iter(rows).boxed(),
    )))
}

/// The RowDescription fields of `schema`: arrow-pg's, with JSON columns (Arrow's JSON
/// extension type, what DataSQRL's JSON functions return) described as `jsonb`.
pub(crate) fn pg_fields(schema: &SchemaRef, format: &Format) -> PgWireResult<Vec<FieldInfo>> {
    // Values holding maps (which arrow-pg cannot describe) are sent as JSON text.
    let described = arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .map(|field| {
                if sluice_planner::streaming::json::contains_map(field.data_type()) {
                    Arc::new(arrow::datatypes::Field::new(
                        field.name(),
                        arrow::datatypes::DataType::Utf8,
                        true,
                    ))
                } else {
                    untag_cast_char(field)
                }
            })
            .collect::<Vec<_>>(),
    );
    let mut fields = arrow_schema_to_pg_fields(&described, format, None)?;
    for (index, field) in schema.fields().iter().enumerate() {
        if sluice_planner::streaming::json::shown_as_jsonb(field) {
            if let Some(info) = fields.get_mut(index) {
                *info = FieldInfo::new(
                    info.name().to_string(),
                    None,
                    None,
                    Type::JSONB,
                    info.format(),
                );
            }
        }
    }
    Ok(fields)
}

/// A field tagged as PostgreSQL's `"char"` (the catalogs' `relkind`, ...) whose type is no
/// longer the catalog's `Utf8`: a cast (`relkind::text`) kept the tag. It is text, as in
/// PostgreSQL; arrow-pg would describe it as `"char"` and read it as a `Utf8` array.
fn char_tag_outlived_cast(field: &arrow::datatypes::Field) -> bool {
    arrow_pg::datatypes::is_pg_char_field(field)
        && *field.data_type() != arrow::datatypes::DataType::Utf8
}

/// `field` without the `"char"` tag if [`char_tag_outlived_cast`].
fn untag_cast_char(field: &arrow::datatypes::FieldRef) -> arrow::datatypes::FieldRef {
    if !char_tag_outlived_cast(field) {
        return field.clone();
    }
    let mut metadata = field.metadata().clone();
    metadata.remove(arrow_pg::datatypes::PG_CHAR_KEY);
    Arc::new(field.as_ref().clone().with_metadata(metadata))
}

/// Encode a batch into DataRows. NULLs are written here for every type (arrow-pg 0.16 reads
/// the slot of a NULL interval as a value); other values are encoded by arrow-pg.
pub(crate) fn encode_batch(
    fields: &Arc<Vec<FieldInfo>>,
    batch: &RecordBatch,
    rows: &mut Vec<PgWireResult<DataRow>>,
) {
    use arrow::array::{Array, AsArray};
    let schema = batch.schema();
    let schema = if schema.fields().iter().any(|f| char_tag_outlived_cast(f)) {
        Arc::new(arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .map(untag_cast_char)
                .collect::<Vec<_>>(),
        ))
    } else {
        schema
    };
    // The JSON text of each value of the columns holding maps.
    let mut map_texts = Vec::with_capacity(batch.num_columns());
    for column in batch.columns() {
        if !sluice_planner::streaming::json::contains_map(column.data_type()) {
            map_texts.push(None);
            continue;
        }
        match sluice_runtime::connectors::format::json_texts(column) {
            Ok(texts) => map_texts.push(Some(texts)),
            Err(error) => {
                rows.push(Err(PgWireError::ApiError(Box::new(error))));
                return;
            }
        }
    }
    let mut encoder = DataRowEncoder::new(fields.clone());
    for row in 0..batch.num_rows() {
        let mut result = Ok(());
        for (index, column) in batch.columns().iter().enumerate() {
            let pg_field = &fields[index];
            result = if column.is_null(row) {
                Encoder::encode_field(&mut encoder, &None::<i8>, pg_field)
            } else if let Some(texts) = &map_texts[index] {
                let text = texts[row].as_deref().unwrap_or("null");
                Encoder::encode_field(&mut encoder, &crate::text::JsonbText(text), pg_field)
            } else if *pg_field.datatype() == Type::JSONB {
                match column.as_string_opt::<i32>() {
                    Some(json) => Encoder::encode_field(
                        &mut encoder,
                        &crate::text::JsonbText(json.value(row)),
                        pg_field,
                    ),
                    None => encode_value(&mut encoder, column, row, schema.field(index), pg_field),
                }
            } else if let (FieldFormat::Text, Some(text)) =
                (pg_field.format(), crate::text::postgres_text(column, row))
            {
                Encoder::encode_field(&mut encoder, &text, pg_field)
            } else {
                encode_value(&mut encoder, column, row, schema.field(index), pg_field)
            };
            if result.is_err() {
                break;
            }
        }
        match result {
            Ok(()) => rows.push(Ok(encoder.take_row())),
            Err(error) => {
                rows.push(Err(error));
                return;
            }
        }
    }
}

fn to_response(result: StatementResult, format: &Format) -> PgWireResult<Response> {
    match result {
        StatementResult::Query { schema, batches } => rows_response(&schema, batches, format),
        StatementResult::Command { tag, .. } => Ok(Response::Execution(Tag::new(&tag))),
        StatementResult::Transaction { tag, begin } => Ok(if begin {
            Response::TransactionStart(Tag::new(&tag))
        } else {
            Response::TransactionEnd(Tag::new(&tag))
        }),
        StatementResult::Deallocate { name } => {
            Ok(Response::Execution(Tag::new(if name.is_some() {
                "DEALLOCATE"
            } else {
                "DEALLOCATE ALL"
            })))
        }
        // Streamed by the handlers before they get here.
        StatementResult::Subscribe(_) => Err(PgWireError::UserError(Box::new(error_info(
            &PlanError::Internal("a subscription cannot be buffered".into()),
        )))),
    }
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    /// pgwire's simple-query flow, except that a SUBSCRIBE streams its rows as they come,
    /// and ReadyForQuery reports the session's transaction block (so that `ROLLBACK TO
    /// SAVEPOINT` leaves a failed block usable again, as in PostgreSQL).
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        self.control.ensure_authenticated()?;
        client.set_state(PgWireConnectionState::QueryInProgress);
        let text = query.query;
        if text.chars().all(|c| c == ';' || c.is_whitespace()) {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        } else {
            let (results, error) = self.session.lock().await.execute(&text).await;
            for result in results {
                match result {
                    StatementResult::Subscribe(subscription) => {
                        let ended = self
                            .stream_subscription(client, subscription, &Format::UnifiedText, true)
                            .await?;
                        client
                            .feed(PgWireBackendMessage::ErrorResponse(ended.into()))
                            .await?;
                    }
                    other => {
                        if let StatementResult::Deallocate { name: Some(name) } = &other {
                            client.portal_store().rm_statement(name);
                        }
                        match to_response(other, &Format::UnifiedText)? {
                            Response::Query(rows) => {
                                send_query_response(client, rows, true).await?
                            }
                            Response::Execution(tag)
                            | Response::TransactionStart(tag)
                            | Response::TransactionEnd(tag) => {
                                send_execution_response(client, tag).await?
                            }
                            Response::Error(info) => {
                                client
                                    .feed(PgWireBackendMessage::ErrorResponse((*info).into()))
                                    .await?
                            }
                            _ => {}
                        }
                    }
                }
            }
            if let Some(error) = error {
                tracing::debug!(%error, query = %text, "statement failed");
                client
                    .feed(PgWireBackendMessage::ErrorResponse(
                        error_info(&error).into(),
                    ))
                    .await?;
            }
        }
        let status = self.transaction_status().await;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        send_ready_for_query(client, status).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.control.ensure_authenticated()?;
        let (results, error) = self.session.lock().await.execute(query).await;
        let mut responses = Vec::with_capacity(results.len() + 1);
        for result in results {
            if let StatementResult::Subscribe(subscription) = result {
                let ended = self
                    .stream_subscription(client, subscription, &Format::UnifiedText, true)
                    .await?;
                responses.push(Response::Error(Box::new(ended)));
                continue;
            }
            if let StatementResult::Deallocate { name: Some(name) } = &result {
                client.portal_store().rm_statement(name);
            }
            responses.push(to_response(result, &Format::UnifiedText)?);
        }
        if let Some(error) = error {
            tracing::debug!(%error, query, "statement failed");
            responses.push(Response::Error(Box::new(error_info(&error))));
        }
        Ok(responses)
    }
}

/// The largest row limit an Execute message may ask for in one fetch.
pub const MAX_EXECUTE_ROWS: i32 = 1 << 16;

/// The row limit pgwire gets for an Execute message's `max_rows`. pgwire reserves room for
/// `max_rows` rows before it fetches (`Vec::with_capacity(max_rows as usize)`): a client's
/// limit of 0x7c000000 rows made it allocate 83 GB and abort the whole server, a negative
/// limit overflowed the capacity. A limit of zero or below means all rows, as in
/// PostgreSQL; a limit over [`MAX_EXECUTE_ROWS`] is lowered to it, so the portal is
/// suspended after that many rows and the client's next Execute continues it (a client
/// that asked for a row limit handles PortalSuspended).
pub fn execute_row_limit(max_rows: i32) -> i32 {
    max_rows.clamp(0, MAX_EXECUTE_ROWS)
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = Prepared;
    type QueryParser = SluiceQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    /// pgwire's Execute (with its row limit bounded, see [`execute_row_limit`]), then the
    /// session's transaction block as the status the next ReadyForQuery reports.
    async fn on_execute<C>(&self, client: &mut C, mut message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        message.max_rows = execute_row_limit(message.max_rows);
        let outcome = self._on_execute(client, message).await;
        let status = self.transaction_status().await;
        client.set_transaction_status(status);
        outcome
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.control.ensure_authenticated()?;
        let prepared = &portal.statement.statement;
        let parameters = if portal.parameter_len() == 0 {
            None
        } else {
            Some(decode_parameters(portal, &prepared.statement)?)
        };
        let result = self
            .session
            .lock()
            .await
            .execute_prepared(&prepared.statement, parameters)
            .await
            .map_err(to_pg_error)?;
        match result {
            Some(StatementResult::Subscribe(subscription)) => {
                let ended = self
                    .stream_subscription(client, subscription, &portal.result_column_format, false)
                    .await?;
                Err(PgWireError::UserError(Box::new(ended)))
            }
            Some(result) => to_response(result, &portal.result_column_format),
            None => Ok(Response::EmptyQuery),
        }
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        statement: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let parameters = self.parser.get_parameter_types(&statement.statement)?;
        let fields = self.parser.get_result_schema(&statement.statement, None)?;
        Ok(DescribeStatementResponse::new(parameters, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let fields = self.parser.get_result_schema(
            &portal.statement.statement,
            Some(&portal.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(fields))
    }
}
