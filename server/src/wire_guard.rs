//! Frame validation in front of pgwire's message decoder, and the connection loop using it.
//!
//! pgwire 0.41's frontend decoders trust the bytes they are given: a Bind whose parameter
//! length runs past the message, an Execute without its row count or a message whose
//! length field is below 4 make them panic (`split_to`/`get_i32` out of bounds, `len - 4`
//! underflow), and fields without their terminating NUL are read from the next message.
//! (Found reading pgwire's decoders while writing the `wire_decoder` fuzz target; the
//! cases are tests here and in `server/tests/malformed_messages.rs`.)
//!
//! [`FrameGuard`] sits between the socket (after TLS) and pgwire's codec. It cuts the byte
//! stream into frames by their length field, checks each frame against the protocol's
//! layout (every field inside the frame, strings NUL-terminated, counts consistent, nothing
//! left over) and its size against `max_message_size`, and only then hands it on. A frame
//! that fails is a protocol violation: [`process_socket`] answers it with a FATAL
//! ErrorResponse (08P01, or 54000 for a message over the limit) and closes the connection.
//! A client that disconnects mid-message ends the connection quietly.
//!
//! [`process_socket`] is pgwire's `process_socket` (TLS negotiation, startup timeout,
//! dispatch to the handlers) with the guard inserted and those errors reported.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures::StreamExt;
use pgwire::api::{ClientInfo, ErrorHandler, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::PgWireFrontendMessage;
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use pgwire::tokio::TlsAcceptor;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

/// The default limit on one frontend message (PostgreSQL's is 1 GiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Packets before the startup message completes (SSLRequest, StartupMessage, CancelRequest)
/// are at most this long, as in PostgreSQL (`MAX_STARTUP_PACKET_LENGTH`) and pgwire.
const MAX_STARTUP_PACKET: usize = 10_000;

/// pgwire's limit for a client to finish its startup.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

const PROTOCOL_MAJOR_3: u16 = 3;
const CANCEL_REQUEST_CODE: u32 = 80_877_102;
const SSL_REQUEST_CODE: u32 = 80_877_103;
const GSSENC_REQUEST_CODE: u32 = 80_877_104;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("message of {size} bytes exceeds the maximum of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid message: {0}")]
    Malformed(String),
}

impl Violation {
    /// The SQLSTATE to report: 54000 (program_limit_exceeded) or 08P01 (protocol_violation).
    pub fn sqlstate(&self) -> &'static str {
        match self {
            Violation::TooLarge { .. } => "54000",
            Violation::Malformed(_) => "08P01",
        }
    }

    fn malformed(message: impl Into<String>) -> Violation {
        Violation::Malformed(message.into())
    }
}

/// Where the client's byte stream is: packets without a type byte until the startup
/// message, typed messages after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Startup,
    Typed,
}

/// Validates the frames of a client's byte stream: what it reads out is whole frames that
/// pgwire's decoder can decode without reading past them (see the module docs).
#[derive(Debug)]
pub struct FrameGuard {
    phase: Phase,
    max_message_size: usize,
    /// Bytes received and not yet checked (an incomplete frame).
    pending: BytesMut,
    /// Checked frames not yet read out.
    checked: BytesMut,
}

impl FrameGuard {
    pub fn new(max_message_size: usize) -> Self {
        Self {
            phase: Phase::Startup,
            max_message_size,
            pending: BytesMut::new(),
            checked: BytesMut::new(),
        }
    }

    /// Add received bytes; check every complete frame and move it to the checked output.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Violation> {
        self.pending.extend_from_slice(bytes);
        while let Some(length) = self.next_frame()? {
            let frame = self.pending.split_to(length);
            self.checked.unsplit(frame);
        }
        Ok(())
    }

    /// The checked bytes, to be read out.
    pub fn checked(&mut self) -> &mut BytesMut {
        &mut self.checked
    }

    /// Is a frame incomplete (the client stopped mid-message)?
    pub fn has_partial_frame(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The length of the complete, valid frame at the start of `pending`, if any.
    fn next_frame(&mut self) -> Result<Option<usize>, Violation> {
        let (header, body_start) = match self.phase {
            Phase::Startup => (0, 4),
            Phase::Typed => (1, 5),
        };
        if self.pending.len() < body_start {
            return Ok(None);
        }
        let length_field = read_i32(&self.pending[header..body_start]);
        let limit = match self.phase {
            Phase::Startup => MAX_STARTUP_PACKET,
            Phase::Typed => self.max_message_size,
        };
        if length_field < 4 {
            return Err(Violation::malformed(format!(
                "invalid message length {length_field}"
            )));
        }
        let length = length_field as usize;
        if length > limit && self.phase == Phase::Startup {
            return Err(Violation::malformed(format!(
                "invalid length of startup packet {length}"
            )));
        }
        if length > limit {
            return Err(Violation::TooLarge {
                size: length,
                limit,
            });
        }
        let frame_length = header + length;
        if self.pending.len() < frame_length {
            // Wait for the rest; room for it is allocated as it arrives, not up front.
            return Ok(None);
        }
        let body = &self.pending[body_start..frame_length];
        match self.phase {
            Phase::Startup => {
                if check_startup_packet(body)? {
                    self.phase = Phase::Typed;
                }
            }
            Phase::Typed => check_message(self.pending[0], body)?,
        }
        Ok(Some(frame_length))
    }
}

fn read_i32(bytes: &[u8]) -> i32 {
    i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Reads a message body field by field, never past its end.
struct Fields<'a> {
    body: &'a [u8],
    what: char,
}

impl<'a> Fields<'a> {
    fn error(&self, field: &str) -> Violation {
        Violation::malformed(format!(
            "message '{}': {field} missing or truncated",
            self.what
        ))
    }

    fn take(&mut self, count: usize, field: &str) -> Result<&'a [u8], Violation> {
        if self.body.len() < count {
            return Err(self.error(field));
        }
        let (taken, rest) = self.body.split_at(count);
        self.body = rest;
        Ok(taken)
    }

    fn cstring(&mut self, field: &str) -> Result<&'a [u8], Violation> {
        let end = self
            .body
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.error(field))?;
        let text = &self.body[..end];
        self.body = &self.body[end + 1..];
        Ok(text)
    }

    fn i16(&mut self, field: &str) -> Result<i16, Violation> {
        let bytes = self.take(2, field)?;
        Ok(i16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn i32(&mut self, field: &str) -> Result<i32, Violation> {
        Ok(read_i32(self.take(4, field)?))
    }

    /// A count of following items; negative counts are refused.
    fn count(&mut self, field: &str) -> Result<usize, Violation> {
        let count = self.i16(field)?;
        usize::try_from(count).map_err(|_| self.error(field))
    }

    fn end(&self) -> Result<(), Violation> {
        if self.body.is_empty() {
            Ok(())
        } else {
            Err(Violation::malformed(format!(
                "message '{}' has {} bytes after its last field",
                self.what,
                self.body.len()
            )))
        }
    }
}

/// Check a packet of the startup phase; true if it is the startup message (typed messages
/// follow it).
fn check_startup_packet(body: &[u8]) -> Result<bool, Violation> {
    let mut fields = Fields { body, what: '0' };
    let code = fields.i32("protocol version or request code")? as u32;
    match code {
        SSL_REQUEST_CODE | GSSENC_REQUEST_CODE => {
            fields.end()?;
            Ok(false)
        }
        CANCEL_REQUEST_CODE => {
            fields.i32("process id")?;
            // A secret key of 4 bytes (protocol 3.0) or up to 256 (3.2).
            if fields.body.len() < 4 || fields.body.len() > 256 {
                return Err(Violation::malformed("cancel request: invalid secret key"));
            }
            Ok(false)
        }
        _ if (code >> 16) as u16 == PROTOCOL_MAJOR_3 => {
            // Name/value pairs, ended by an empty name.
            loop {
                let name = fields.cstring("startup parameter")?;
                if name.is_empty() {
                    break;
                }
                fields.cstring("startup parameter value")?;
            }
            fields.end()?;
            Ok(true)
        }
        _ => Err(Violation::malformed(format!(
            "unsupported frontend protocol {}.{}",
            code >> 16,
            code & 0xffff
        ))),
    }
}

/// Check a typed message's body against its layout.
fn check_message(kind: u8, body: &[u8]) -> Result<(), Violation> {
    let mut fields = Fields {
        body,
        what: kind as char,
    };
    match kind {
        // Query, CopyFail: one string.
        b'Q' | b'f' => {
            fields.cstring("text")?;
        }
        // Parse: statement name, query, parameter type OIDs.
        b'P' => {
            fields.cstring("statement name")?;
            fields.cstring("query")?;
            let types = fields.count("parameter type count")?;
            fields.take(types.saturating_mul(4), "parameter types")?;
        }
        // Bind: portal, statement, format codes, parameter values, result format codes.
        b'B' => {
            fields.cstring("portal name")?;
            fields.cstring("statement name")?;
            let formats = fields.count("parameter format count")?;
            fields.take(formats * 2, "parameter formats")?;
            let parameters = fields.count("parameter count")?;
            for _ in 0..parameters {
                let length = fields.i32("parameter length")?;
                if length >= 0 {
                    fields.take(length as usize, "parameter value")?;
                } else if length != -1 {
                    return Err(Violation::malformed(format!(
                        "message 'B': invalid parameter length {length}"
                    )));
                }
            }
            let results = fields.count("result format count")?;
            fields.take(results * 2, "result formats")?;
        }
        // Describe, Close: 'S' or 'P' and a name.
        b'D' | b'C' => {
            let target = fields.take(1, "target")?;
            if target != b"S" && target != b"P" {
                return Err(Violation::malformed(format!(
                    "message '{}': invalid target {:?}",
                    kind as char, target[0] as char
                )));
            }
            fields.cstring("name")?;
        }
        // Execute: portal and row limit.
        b'E' => {
            fields.cstring("portal name")?;
            fields.i32("row limit")?;
        }
        // Flush, Sync, Terminate, CopyDone: no body.
        b'H' | b'S' | b'X' | b'c' => {}
        // Password family and CopyData: opaque bytes (SASL bodies are checked where
        // they are read, see `check_sasl_initial_response`).
        b'p' | b'd' => return Ok(()),
        _ => {
            return Err(Violation::malformed(format!(
                "invalid frontend message type {}",
                if kind.is_ascii_graphic() {
                    format!("'{}'", kind as char)
                } else {
                    format!("{kind}")
                }
            )))
        }
    }
    fields.end()
}

/// Check the body of a SASLInitialResponse (mechanism, then -1 or the length of the rest)
/// before pgwire decodes it: its decoder panics on a length past the end.
pub fn check_sasl_initial_response(body: &[u8]) -> Result<(), Violation> {
    let mut fields = Fields { body, what: 'p' };
    fields.cstring("SASL mechanism")?;
    let length = fields.i32("SASL data length")?;
    if length == -1 && fields.body.is_empty() {
        return Ok(());
    }
    if length < 0 || length as usize != fields.body.len() {
        return Err(Violation::malformed(
            "message 'p': SASL data length does not match the message",
        ));
    }
    Ok(())
}

/// An IO stream whose reads pass through a [`FrameGuard`]; writes go through unchanged.
pub struct GuardedStream<S> {
    inner: S,
    guard: FrameGuard,
    /// The violation found, reported by every later read.
    failed: Option<Violation>,
}

impl<S> GuardedStream<S> {
    pub fn new(inner: S, max_message_size: usize) -> Self {
        Self {
            inner,
            guard: FrameGuard::new(max_message_size),
            failed: None,
        }
    }

    /// Bytes already received from `inner` (by TLS negotiation) go first.
    fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if let Err(violation) = self.guard.push(bytes) {
                self.failed = Some(violation);
            }
        }
    }
}

fn violation_error(violation: &Violation) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, violation.clone())
}

impl<S: AsyncRead + Unpin> AsyncRead for GuardedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let checked = this.guard.checked();
            if !checked.is_empty() {
                let count = checked.len().min(out.remaining());
                out.put_slice(&checked[..count]);
                checked.advance(count);
                return Poll::Ready(Ok(()));
            }
            if let Some(violation) = &this.failed {
                return Poll::Ready(Err(violation_error(violation)));
            }
            let mut buffer = [0u8; 8192];
            let mut read = ReadBuf::new(&mut buffer);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // End of stream; an incomplete frame is dropped (the client went away).
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    if this.guard.has_partial_frame() {
                        tracing::debug!("client disconnected in the middle of a message");
                    }
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(())) => {
                    let filled = read.filled().to_vec();
                    this.push(&filled);
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for GuardedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The violation behind a read error of a [`GuardedStream`], if that is what it is.
fn violation_of(error: &PgWireError) -> Option<Violation> {
    let PgWireError::IoError(io) = error else {
        return None;
    };
    io.get_ref()?.downcast_ref::<Violation>().cloned()
}

/// Serve one client: pgwire's `process_socket` with every frame checked by a
/// [`FrameGuard`] (see the module docs).
pub async fn process_socket<H>(
    tcp_socket: TcpStream,
    tls_acceptor: Option<TlsAcceptor>,
    handlers: H,
    max_message_size: usize,
) -> io::Result<()>
where
    H: PgWireServerHandlers,
{
    let startup_timeout = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_timeout);
    let negotiated = tokio::select! {
        _ = &mut startup_timeout => return Ok(()),
        socket = negotiate_tls(tcp_socket, tls_acceptor) => socket?,
    };
    // A client that asked for TLS directly while none is configured is not served.
    let Some(negotiated) = negotiated else {
        return Ok(());
    };
    let parts = negotiated.into_parts();
    let mut guarded = GuardedStream::new(parts.io, max_message_size);
    guarded.push(&parts.read_buf);
    let mut socket = Framed::from_parts(FramedParts::new(guarded, parts.codec));
    socket.set_state(PgWireConnectionState::AwaitingStartup);

    let startup_handler = handlers.startup_handler();
    let simple_query_handler = handlers.simple_query_handler();
    let extended_query_handler = handlers.extended_query_handler();
    let copy_handler = handlers.copy_handler();
    let cancel_handler = handlers.cancel_handler();
    let error_handler = handlers.error_handler();
    loop {
        let next = if matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        ) {
            tokio::select! {
                _ = &mut startup_timeout => None,
                next = socket.next() => next,
            }
        } else {
            socket.next().await
        };
        let message = match next {
            None => break,
            Some(Ok(message)) => message,
            Some(Err(error)) => {
                // A frame the guard refused gets a FATAL error before the socket closes;
                // any other read error ends the connection as in pgwire.
                if let Some(violation) = violation_of(&error) {
                    tracing::info!(%violation, "closing a connection after a protocol violation");
                    let info = ErrorInfo::new(
                        "FATAL".to_string(),
                        violation.sqlstate().to_string(),
                        violation.to_string(),
                    );
                    let _ =
                        process_error(&mut socket, PgWireError::UserError(Box::new(info)), false)
                            .await;
                } else {
                    tracing::debug!(%error, "connection read failed");
                }
                break;
            }
        };
        // Terminate: the client is leaving; close (asyncpg waits for the close).
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let is_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(is_extended_query) => is_extended_query,
            _ => message.is_extended_query(),
        };
        if let Err(mut error) = process_message(
            message,
            &mut socket,
            startup_handler.clone(),
            simple_query_handler.clone(),
            extended_query_handler.clone(),
            copy_handler.clone(),
            cancel_handler.clone(),
        )
        .await
        {
            error_handler.on_error(&socket, &mut error);
            process_error(&mut socket, error, is_extended_query).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Vec<u8> {
        let body = b"\0\x03\0\0user\0sluice\0\0";
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

    fn check(stream: &[u8]) -> Result<usize, Violation> {
        let mut guard = FrameGuard::new(1024);
        guard.push(stream)?;
        Ok(guard.checked().len())
    }

    #[test]
    fn valid_messages_pass_whole() {
        let mut stream = startup();
        stream.extend(message(b'Q', b"SELECT 1\0"));
        stream.extend(message(b'P', b"s\0SELECT $1\0\0\x01\0\0\0\x17"));
        stream.extend(message(
            b'B',
            b"\0s\0\0\x01\0\x01\0\x01\0\0\0\x04\0\0\0\x01\0\x01\0\x01",
        ));
        stream.extend(message(b'D', b"P\0"));
        stream.extend(message(b'E', b"\0\0\0\0\0"));
        stream.extend(message(b'S', b""));
        assert_eq!(check(&stream), Ok(stream.len()));
        // A partial frame is held back.
        assert_eq!(check(&stream[..stream.len() - 2]), Ok(stream.len() - 5));
    }

    #[test]
    fn malformed_and_oversized_frames_are_refused() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            // Length below 4, negative, over the limit.
            (
                message(b'Q', b"x\0")[..1]
                    .iter()
                    .chain(&2u32.to_be_bytes())
                    .copied()
                    .collect(),
                "08P01",
            ),
            (b"Q\xff\xff\xff\xff".to_vec(), "08P01"),
            (b"Q\x40\0\0\0".to_vec(), "54000"),
            // Bind parameter running past the message; Execute without row limit.
            (
                message(b'B', b"\0\0\0\0\0\x01\x7f\xff\xff\xff\0\0"),
                "08P01",
            ),
            (message(b'E', b"\0"), "08P01"),
            (message(b'Q', b"no terminator"), "08P01"),
            (message(b'S', b"extra"), "08P01"),
            (message(b'D', b"Z\0"), "08P01"),
            (message(b'?', b""), "08P01"),
        ];
        for (bytes, sqlstate) in cases {
            let mut stream = startup();
            stream.extend(bytes);
            let error = check(&stream).unwrap_err();
            assert_eq!(error.sqlstate(), sqlstate, "{stream:?}: {error}");
        }
        assert!(check(b"\0\0\0\x08\x04\xd2\x16\x2f").is_ok()); // SSLRequest
        assert!(check(b"\x40\0\0\0").is_err()); // huge startup packet
        assert!(check(b"GET / HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn sasl_initial_response_layout() {
        assert!(check_sasl_initial_response(b"SCRAM-SHA-256\0\0\0\0\x02ab").is_ok());
        assert!(check_sasl_initial_response(b"SCRAM-SHA-256\0\xff\xff\xff\xff").is_ok());
        assert!(check_sasl_initial_response(b"SCRAM-SHA-256\0\0\0\0\x09ab").is_err());
        assert!(check_sasl_initial_response(b"SCRAM-SHA-256\0\0").is_err());
        assert!(check_sasl_initial_response(b"").is_err());
    }
}
