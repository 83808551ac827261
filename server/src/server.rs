//! Listener and per-connection Postgres wire handlers.
//!
//! Each accepted socket gets its own [`Connection`] holding a planner [`Session`]; the
//! simple protocol runs every statement of a query string in order, the extended protocol
//! prepares statements (parameter types and result columns from DataFusion's plan) and binds
//! parameters decoded by `arrow-pg`. Results are encoded from Arrow by `arrow-pg`, in text or
//! binary as the client asks. Planner errors become ErrorResponses with their SQLSTATE and
//! position; the connection stays usable.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use arrow_pg::encoder::{encode_value, Encoder};
use async_trait::async_trait;
use futures::{stream, Sink, StreamExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::FieldFormat;
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use sluice_planner::{Database, PlanError, PreparedStatement, Session, StatementResult};
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::http::{HttpEndpoint, ServerStats};
use crate::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
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
                            let handlers = Arc::new(Connection::new(database.clone(), pid));
                            let stats = stats.clone();
                            stats.connections_total.fetch_add(1, Ordering::Relaxed);
                            stats.connections_active.fetch_add(1, Ordering::Relaxed);
                            tokio::spawn(async move {
                                tracing::debug!(%peer, pid, "connection opened");
                                if let Err(error) = pgwire::tokio::process_socket(socket, None, handlers).await {
                                    tracing::debug!(%peer, %error, "connection ended with an error");
                                }
                                stats.connections_active.fetch_sub(1, Ordering::Relaxed);
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
        tracing::info!(%local_addr, "sluice is listening");
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

/// One client connection: its session and the protocol handlers.
struct Connection {
    session: Arc<Mutex<Session>>,
    parser: Arc<SluiceQueryParser>,
    parameters: DefaultServerParameterProvider,
    pid: i32,
}

impl Connection {
    fn new(database: Arc<Database>, pid: i32) -> Self {
        let session = Arc::new(Mutex::new(Session::new(database)));
        let parameters = server_parameters();
        Self {
            parser: Arc::new(SluiceQueryParser {
                session: session.clone(),
            }),
            session,
            parameters,
            pid,
        }
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::new(Handler {
            session: self.session.clone(),
            parser: self.parser.clone(),
        })
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::new(Handler {
            session: self.session.clone(),
            parser: self.parser.clone(),
        })
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(Startup {
            parameters: self.parameters.clone_provider(),
            session: self.session.clone(),
            pid: self.pid,
        })
    }
}

trait CloneProvider {
    fn clone_provider(&self) -> Self;
}

impl CloneProvider for DefaultServerParameterProvider {
    fn clone_provider(&self) -> Self {
        server_parameters()
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

struct Startup {
    parameters: DefaultServerParameterProvider,
    session: Arc<Mutex<Session>>,
    pid: i32,
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
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            protocol_negotiation(client, startup).await?;
            save_startup_parameters_to_metadata(client, startup);
            {
                let mut session = self.session.lock().await;
                for (key, value) in client.metadata() {
                    if key == "application_name" || key == "client_encoding" {
                        session.set(key, value);
                    }
                }
            }
            let secret = (self.pid as i64 * 7919 % i32::MAX as i64) as i32;
            client.set_pid_and_secret_key(self.pid, SecretKey::I32(secret));
            finish_authentication(client, &self.parameters).await?;
        }
        Ok(())
    }
}

/// Parses statements for the extended protocol via the session.
struct SluiceQueryParser {
    session: Arc<Mutex<Session>>,
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
            Some(schema) => arrow_schema_to_pg_fields(
                schema,
                column_format.unwrap_or(&Format::UnifiedText),
                None,
            ),
            None => Ok(vec![]),
        }
    }
}

struct Handler {
    session: Arc<Mutex<Session>>,
    parser: Arc<SluiceQueryParser>,
}

/// Convert a planner error into a Postgres ErrorResponse.
fn error_info(error: &PlanError) -> ErrorInfo {
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
    let fields = Arc::new(arrow_schema_to_pg_fields(schema, format, None)?);
    let mut rows: Vec<PgWireResult<DataRow>> = Vec::new();
    for batch in batches {
        encode_batch(&fields, &batch, &mut rows);
    }
    Ok(Response::Query(QueryResponse::new(
        fields,
        stream::iter(rows).boxed(),
    )))
}

/// Encode a batch into DataRows. NULLs are written here for every type (arrow-pg 0.16 reads
/// the slot of a NULL interval as a value); other values are encoded by arrow-pg.
fn encode_batch(
    fields: &Arc<Vec<FieldInfo>>,
    batch: &RecordBatch,
    rows: &mut Vec<PgWireResult<DataRow>>,
) {
    use arrow::array::Array;
    let schema = batch.schema();
    let mut encoder = DataRowEncoder::new(fields.clone());
    for row in 0..batch.num_rows() {
        let mut result = Ok(());
        for (index, column) in batch.columns().iter().enumerate() {
            let pg_field = &fields[index];
            result = if column.is_null(row) {
                Encoder::encode_field(&mut encoder, &None::<i8>, pg_field)
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
    }
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (results, error) = self.session.lock().await.execute(query).await;
        let mut responses = Vec::with_capacity(results.len() + 1);
        for result in results {
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

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = Prepared;
    type QueryParser = SluiceQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let inferred: Vec<Option<&DataType>> = prepared
            .statement
            .parameter_types
            .iter()
            .map(|t| t.as_ref())
            .collect();
        let parameters = if portal.parameter_len() == 0 {
            None
        } else {
            Some(arrow_pg::datatypes::df::deserialize_parameters(
                portal, &inferred,
            )?)
        };
        let result = self
            .session
            .lock()
            .await
            .execute_prepared(&prepared.statement, parameters)
            .await
            .map_err(to_pg_error)?;
        match result {
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
