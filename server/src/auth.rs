//! Client authentication: `trust`, or SCRAM-SHA-256 (RFC 5802 / RFC 7677) the way PostgreSQL
//! does it.
//!
//! Users are kept as SCRAM verifiers (`StoredKey`/`ServerKey` with their salt and iteration
//! count, the format of PostgreSQL's `pg_authid.rolpassword`), never as cleartext: a password
//! given on the command line is turned into a verifier when the server starts, and a users
//! file may hold verifiers copied from PostgreSQL. The server side of the exchange checks the
//! client's proof against `StoredKey` and answers with the server signature, so the client
//! also knows the server holds the verifier.
//!
//! Invariants:
//! - An unknown user gets a complete exchange with a mock salt derived from the user name
//!   (stable for a name, so it cannot be told apart from a real user by probing) and always
//!   fails, with the same message as a wrong password.
//! - Proofs are compared in constant time.
//! - Channel binding (`SCRAM-SHA-256-PLUS`) is not offered; a client that asks for it
//!   (`p=...`) is refused, a client that could use it but sees it is not offered (`y`) is
//!   accepted.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac, pbkdf2};

/// The SASL mechanism name.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// Iterations for verifiers made from a cleartext password (PostgreSQL's default).
pub const DEFAULT_ITERATIONS: u32 = 4096;
const KEY_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// How clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuthMethod {
    /// Any user is accepted without a password (local development).
    #[default]
    Trust,
    /// SCRAM-SHA-256 against the configured users.
    Password,
}

/// Errors in the configured users (command line or users file).
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read the users file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: expected NAME:PASSWORD or NAME:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>")]
    Syntax { origin: String },
    #[error("{origin}: the user name is empty")]
    EmptyName { origin: String },
    #[error("{origin}: the password of user \"{user}\" is empty")]
    EmptyPassword { origin: String, user: String },
    #[error("{origin}: invalid SCRAM-SHA-256 verifier for user \"{user}\": {reason}")]
    BadVerifier {
        origin: String,
        user: String,
        reason: String,
    },
    #[error("the system random number generator failed")]
    Random,
}

/// A SCRAM-SHA-256 verifier: what the server keeps instead of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramVerifier {
    /// A verifier for `password` with a fresh random salt.
    pub fn from_password(password: &str) -> Result<Self, UsersError> {
        let mut salt = vec![0u8; SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| UsersError::Random)?;
        Ok(Self::from_password_with_salt(
            password,
            salt,
            DEFAULT_ITERATIONS,
        ))
    }

    /// A verifier for `password` with the given salt and iteration count.
    pub fn from_password_with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> Self {
        // As PostgreSQL: SASLprep the password, or use it as is when it is not valid for it.
        let prepared = stringprep::saslprep(password)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| password.to_string());
        let mut salted = [0u8; KEY_LEN];
        let rounds = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &salt,
            prepared.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored_key = sha256(&client_key);
        let server_key = hmac_sha256(&salted, b"Server Key");
        Self {
            iterations: rounds.get(),
            salt,
            stored_key,
            server_key,
        }
    }

    /// Does `text` look like a stored verifier rather than a password?
    pub fn looks_like_verifier(text: &str) -> bool {
        text.starts_with("SCRAM-SHA-256$")
    }
}

/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as in PostgreSQL.
impl FromStr for ScramVerifier {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or("it does not start with SCRAM-SHA-256$")?;
        let (parameters, keys) = rest
            .split_once('$')
            .ok_or("expected <iterations>:<salt>$<StoredKey>:<ServerKey>")?;
        let (iterations, salt) = parameters
            .split_once(':')
            .ok_or("expected <iterations>:<salt> before the $")?;
        let (stored_key, server_key) = keys
            .split_once(':')
            .ok_or("expected <StoredKey>:<ServerKey> after the $")?;
        let iterations: u32 = iterations
            .parse()
            .ok()
            .filter(|&i| i > 0)
            .ok_or_else(|| format!("bad iteration count {iterations:?}"))?;
        let salt = BASE64
            .decode(salt)
            .map_err(|e| format!("the salt is not base64: {e}"))?;
        if salt.is_empty() {
            return Err("the salt is empty".into());
        }
        let key = |name: &str, text: &str| -> Result<[u8; KEY_LEN], String> {
            let bytes = BASE64
                .decode(text)
                .map_err(|e| format!("{name} is not base64: {e}"))?;
            bytes
                .try_into()
                .map_err(|_| format!("{name} is not {KEY_LEN} bytes"))
        };
        Ok(Self {
            iterations,
            salt,
            stored_key: key("StoredKey", stored_key)?,
            server_key: key("ServerKey", server_key)?,
        })
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }
}

/// The users that may log in with `--auth password`, by name.
#[derive(Clone, Default)]
pub struct Users {
    verifiers: BTreeMap<String, Arc<ScramVerifier>>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.verifiers.keys()).finish()
    }
}

impl Users {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.verifiers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.verifiers.len()
    }

    /// The verifier of `user`, if configured.
    pub fn get(&self, user: &str) -> Option<&ScramVerifier> {
        self.verifiers.get(user).map(Arc::as_ref)
    }

    /// Add or replace `user` with a verifier.
    pub fn insert(&mut self, user: impl Into<String>, verifier: ScramVerifier) {
        self.verifiers.insert(user.into(), Arc::new(verifier));
    }

    /// Add or replace `user` with a cleartext password (hashed here).
    pub fn insert_password(&mut self, user: &str, password: &str) -> Result<(), UsersError> {
        self.insert(user, ScramVerifier::from_password(password)?);
        Ok(())
    }

    /// Add one `NAME:PASSWORD` or `NAME:SCRAM-SHA-256$...` entry; `origin` names it in errors.
    pub fn add_entry(&mut self, entry: &str, origin: &str) -> Result<(), UsersError> {
        let (name, secret) = entry.split_once(':').ok_or_else(|| UsersError::Syntax {
            origin: origin.to_string(),
        })?;
        if name.is_empty() {
            return Err(UsersError::EmptyName {
                origin: origin.to_string(),
            });
        }
        if secret.is_empty() {
            return Err(UsersError::EmptyPassword {
                origin: origin.to_string(),
                user: name.to_string(),
            });
        }
        if ScramVerifier::looks_like_verifier(secret) {
            let verifier =
                secret
                    .parse::<ScramVerifier>()
                    .map_err(|reason| UsersError::BadVerifier {
                        origin: origin.to_string(),
                        user: name.to_string(),
                        reason,
                    })?;
            self.insert(name, verifier);
            Ok(())
        } else {
            self.insert_password(name, secret)
        }
    }

    /// Add the users of a file: one `NAME:PASSWORD` or `NAME:SCRAM-SHA-256$...` a line; blank
    /// lines and lines starting with `#` are skipped.
    pub fn add_file(&mut self, path: &Path) -> Result<(), UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
            path: path.display().to_string(),
            source,
        })?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            self.add_entry(trimmed, &format!("{}, line {}", path.display(), number + 1))?;
        }
        Ok(())
    }
}

/// Why a SCRAM exchange failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    /// Wrong password, or unknown user.
    #[error("password authentication failed")]
    Failed,
    #[error("malformed SCRAM message: {0}")]
    Malformed(String),
    #[error("the client asked for channel binding (SCRAM-SHA-256-PLUS), which was not offered")]
    ChannelBindingNotOffered,
    #[error("the system random number generator failed")]
    Random,
}

/// The server's state between its first message and the client's final one.
#[derive(Debug)]
pub struct ScramPending {
    verifier: ScramVerifier,
    /// False for the mock exchange of an unknown user: it never succeeds.
    known_user: bool,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Answer the client-first-message; `verifier` is `None` for an unknown `user`.
pub fn server_first(
    user: &str,
    verifier: Option<&ScramVerifier>,
    client_first: &[u8],
) -> Result<(String, ScramPending), ScramError> {
    let mut random = [0u8; 18];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| ScramError::Random)?;
    server_first_with_nonce(user, verifier, client_first, &BASE64.encode(random))
}

fn server_first_with_nonce(
    user: &str,
    verifier: Option<&ScramVerifier>,
    client_first: &[u8],
    server_nonce: &str,
) -> Result<(String, ScramPending), ScramError> {
    let message = std::str::from_utf8(client_first)
        .map_err(|_| ScramError::Malformed("client-first-message is not UTF-8".into()))?;
    // gs2-header: cbind-flag "," [authzid] ","
    let mut parts = message.splitn(3, ',');
    let flag = parts.next().unwrap_or_default();
    let authzid = parts.next();
    let bare = parts.next();
    let (Some(authzid), Some(bare)) = (authzid, bare) else {
        return Err(ScramError::Malformed(
            "client-first-message has no GS2 header".into(),
        ));
    };
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => return Err(ScramError::ChannelBindingNotOffered),
        _ => {
            return Err(ScramError::Malformed(format!(
                "unexpected channel binding flag {flag:?}"
            )))
        }
    }
    if !authzid.is_empty() {
        return Err(ScramError::Malformed(
            "authorization identities (a=) are not supported".into(),
        ));
    }
    let mut attributes = bare.split(',');
    let username = attributes.next().unwrap_or_default();
    if username.starts_with("m=") {
        return Err(ScramError::Malformed(
            "mandatory extensions (m=) are not supported".into(),
        ));
    }
    // As PostgreSQL: the user name of the startup message counts; this one may be empty.
    if !username.starts_with("n=") {
        return Err(ScramError::Malformed("expected n=<user name>".into()));
    }
    let client_nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| ScramError::Malformed("expected r=<nonce>".into()))?;
    if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(ScramError::Malformed("invalid client nonce".into()));
    }
    let (verifier, known_user) = match verifier {
        Some(verifier) => (verifier.clone(), true),
        None => (mock_verifier(user), false),
    };
    let nonce = format!("{client_nonce}{server_nonce}");
    let server_first = format!(
        "r={nonce},s={},i={}",
        BASE64.encode(&verifier.salt),
        verifier.iterations
    );
    let pending = ScramPending {
        verifier,
        known_user,
        gs2_header: format!("{flag},{authzid},"),
        client_first_bare: bare.to_string(),
        server_first: server_first.clone(),
        nonce,
    };
    Ok((server_first, pending))
}

impl ScramPending {
    /// Check the client-final-message; on success, the server-final-message to send.
    pub fn server_final(self, client_final: &[u8]) -> Result<String, ScramError> {
        let message = std::str::from_utf8(client_final)
            .map_err(|_| ScramError::Malformed("client-final-message is not UTF-8".into()))?;
        let (without_proof, proof) = message
            .rsplit_once(",p=")
            .ok_or_else(|| ScramError::Malformed("expected p=<proof>".into()))?;
        let mut attributes = without_proof.split(',');
        let binding = attributes
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or_else(|| ScramError::Malformed("expected c=<channel binding>".into()))?;
        let binding = BASE64
            .decode(binding)
            .map_err(|_| ScramError::Malformed("channel binding is not base64".into()))?;
        if binding != self.gs2_header.as_bytes() {
            return Err(ScramError::Malformed(
                "channel binding does not match the GS2 header".into(),
            ));
        }
        let nonce = attributes
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or_else(|| ScramError::Malformed("expected r=<nonce>".into()))?;
        if nonce != self.nonce {
            return Err(ScramError::Malformed("nonce mismatch".into()));
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not base64".into()))?;
        if proof.len() != KEY_LEN {
            return Err(ScramError::Malformed(format!(
                "proof is not {KEY_LEN} bytes"
            )));
        }
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_signature = hmac_sha256(&self.verifier.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; KEY_LEN];
        for (i, byte) in client_key.iter_mut().enumerate() {
            *byte = proof[i] ^ client_signature[i];
        }
        let matches = constant_time_eq(&sha256(&client_key), &self.verifier.stored_key);
        if !(matches && self.known_user) {
            return Err(ScramError::Failed);
        }
        let server_signature = hmac_sha256(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", BASE64.encode(server_signature)))
    }
}

/// A verifier for a user that does not exist: a salt that is stable per name (derived with a
/// per-process secret) and keys no password produces.
fn mock_verifier(user: &str) -> ScramVerifier {
    static SECRET: OnceLock<[u8; KEY_LEN]> = OnceLock::new();
    let secret = SECRET.get_or_init(|| {
        let mut secret = [0u8; KEY_LEN];
        if SystemRandom::new().fill(&mut secret).is_err() {
            // Only the mock salt's unpredictability depends on it; the exchange fails anyway.
            secret = sha256(b"sluice mock authentication");
        }
        secret
    });
    let salt = hmac_sha256(secret, user.as_bytes())[..SALT_LEN].to_vec();
    ScramVerifier {
        iterations: DEFAULT_ITERATIONS,
        salt,
        stored_key: [0; KEY_LEN],
        server_key: [0; KEY_LEN],
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; KEY_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut out = [0u8; KEY_LEN];
    out.copy_from_slice(hmac::sign(&key, message).as_ref());
    out
}

fn sha256(message: &[u8]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    out.copy_from_slice(digest::digest(&digest::SHA256, message).as_ref());
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677, section 3: user "user", password "pencil".
    #[test]
    fn rfc7677_example_exchange() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = ScramVerifier::from_password_with_salt("pencil", salt, 4096);
        let (server_first, pending) = server_first_with_nonce(
            "user",
            Some(&verifier),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        )
        .unwrap();
        assert_eq!(
            server_first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let server_final = pending
            .server_final(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                  p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            )
            .unwrap();
        assert_eq!(
            server_final,
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn wrong_proof_and_unknown_user_fail_alike() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = ScramVerifier::from_password_with_salt("pencil", salt, 4096);
        let client_final = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                             p=AAAAZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let (_, pending) = server_first_with_nonce(
            "user",
            Some(&verifier),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        )
        .unwrap();
        assert_eq!(pending.server_final(client_final), Err(ScramError::Failed));

        let (first, pending) = server_first_with_nonce(
            "nobody",
            None,
            b"n,,n=,r=rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        )
        .unwrap();
        let (again, _) = server_first_with_nonce(
            "nobody",
            None,
            b"n,,n=,r=rOprNGfwEbeRWgbNEkqO",
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        )
        .unwrap();
        assert_eq!(first, again, "the mock salt is stable for a name");
        assert_eq!(pending.server_final(client_final), Err(ScramError::Failed));
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let verifier = ScramVerifier::from_password_with_salt("pw", vec![1; 16], 4096);
        for first in [
            &b""[..],
            b"n",
            b"n,,",
            b"x,,n=,r=abc",
            b"n,a=admin,n=,r=abc",
            b"n,,m=ext,n=,r=abc",
            b"n,,n=,r=",
            b"n,,n=,q=abc",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(
                    server_first_with_nonce("u", Some(&verifier), first, "s"),
                    Err(ScramError::Malformed(_))
                ),
                "{first:?}"
            );
        }
        assert_eq!(
            server_first_with_nonce("u", Some(&verifier), b"p=tls-server-end-point,,n=,r=a", "s")
                .unwrap_err(),
            ScramError::ChannelBindingNotOffered
        );
        for last in [
            &b""[..],
            b"c=biws,r=as",
            b"c=biws,r=as,p=!!",
            b"c=eSws,r=as,p=AAAA",
            b"c=biws,r=other,p=AAAA",
            b"c=biws,r=as,p=AAAA",
        ] {
            let (_, pending) =
                server_first_with_nonce("u", Some(&verifier), b"n,,n=,r=a", "s").unwrap();
            assert!(
                matches!(pending.server_final(last), Err(ScramError::Malformed(_))),
                "{last:?}"
            );
        }
    }

    /// A verifier PostgreSQL 15 stored for `CREATE ROLE .. PASSWORD 'secret'`.
    #[test]
    fn postgres_verifier_round_trips_and_matches_the_password() {
        let text = POSTGRES_VERIFIER;
        let verifier: ScramVerifier = text.parse().unwrap();
        assert_eq!(verifier.to_string(), text);
        let again = ScramVerifier::from_password_with_salt("secret", verifier.salt.clone(), 4096);
        assert_eq!(again, verifier);
        for bad in [
            "SCRAM-SHA-256$",
            "SCRAM-SHA-256$4096:c2FsdA==",
            "SCRAM-SHA-256$0:c2FsdA==$a:b",
            "SCRAM-SHA-256$4096:@@$a:b",
            "SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:c2hvcnQ=",
        ] {
            assert!(bad.parse::<ScramVerifier>().is_err(), "{bad}");
        }
    }

    const POSTGRES_VERIFIER: &str = "SCRAM-SHA-256$4096:u3Tx6GKFMP8Xgso+ItdBJg==$wBW6j+rxLbY2+Tc8Yq3ETR0JQ155tOZHB2CkLsc3F94=:2j8vHtUh/N37ZuQY9mX+jwUUQeT/TP9i1JE3wh4B7o0=";

    #[test]
    fn users_file_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(
            &path,
            format!("# comment\n\nann:pass:with:colons\r\nbob:{POSTGRES_VERIFIER}\n"),
        )
        .unwrap();
        let mut users = Users::new();
        users.add_file(&path).unwrap();
        assert_eq!(users.len(), 2);
        assert!(users.get("ann").is_some());
        assert_eq!(
            users.get("bob").unwrap().to_string(),
            POSTGRES_VERIFIER.to_string()
        );
        assert!(format!("{users:?}").contains("ann"));
        assert!(!format!("{users:?}").contains("pass"));

        std::fs::write(&path, "ann:ok\nno-colon\n").unwrap();
        let error = Users::new().add_file(&path).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        let error = Users::new()
            .add_file(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing"), "{error}");
        assert!(matches!(
            Users::new().add_entry("ann:", "--user"),
            Err(UsersError::EmptyPassword { .. })
        ));
        assert!(matches!(
            Users::new().add_entry(":pw", "--user"),
            Err(UsersError::EmptyName { .. })
        ));
        assert!(matches!(
            Users::new().add_entry("ann:SCRAM-SHA-256$x", "--user"),
            Err(UsersError::BadVerifier { .. })
        ));
    }
}
