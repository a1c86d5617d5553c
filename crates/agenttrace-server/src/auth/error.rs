//! The one error type of the credential primitives.
//!
//! Every variant is safe to log and to show an operator: none of them carries a password, a
//! token, a secret or a hash. Token rejections keep their reason as a separate enum so the
//! caller can log why a token was refused while answering every client with the same 401.

use crate::auth::password::PasswordPolicyError;
use std::path::PathBuf;

/// Why a presented JWT was refused. Only for logs and tests: clients must get the same answer
/// whatever the reason, or the answer tells an attacker which part of a forgery to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    WrongAlgorithm,
    #[error("bad signature")]
    BadSignature,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("wrong token purpose")]
    WrongPurpose,
    #[error("expired")]
    Expired,
    #[error("not valid yet")]
    NotYetValid,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("token rejected: {0}")]
    InvalidToken(TokenRejection),

    #[error(transparent)]
    PasswordPolicy(#[from] PasswordPolicyError),

    #[error(
        "the JWT secret is {actual} bytes long; it must be at least {min} bytes \
         (generate one with `openssl rand -base64 48`)"
    )]
    SecretTooShort { min: usize, actual: usize },

    #[error(
        "the JWT secret uses only {distinct} different byte values and cannot be random; \
         generate one with `openssl rand -base64 48`"
    )]
    SecretNotRandom { distinct: usize },

    #[error(
        "the JWT secret is a placeholder from an example (it contains {word:?}); \
         generate a random one with `openssl rand -base64 48`"
    )]
    SecretPlaceholder { word: &'static str },

    #[error(
        "the secret file {} can be read or written by group or others (mode {mode:o}); \
         run `chmod 600 {}` and start again",
        path.display(),
        path.display()
    )]
    InsecureSecretFile { path: PathBuf, mode: u32 },

    #[error(
        "the secret file {} holds {actual} bytes, fewer than the {min} needed; \
         delete it to have a new one generated (every signed-in user will have to sign in again)",
        path.display()
    )]
    SecretFileTooShort {
        path: PathBuf,
        min: usize,
        actual: usize,
    },

    #[error("the secret file {} is not a regular file", path.display())]
    SecretFileNotRegular { path: PathBuf },

    #[error("could not {action} the secret file {}: {source}", path.display())]
    SecretFileIo {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the operating system's random number generator failed")]
    Random,

    #[error("the JWT issuer and audience must not be empty")]
    InvalidJwtConfig,

    #[error("the token lifetime must be between one second and a hundred years")]
    InvalidTtl,

    #[error("could not sign the token: {0}")]
    TokenIssue(String),

    // The argon2 error says which step failed (salt, parameters, output); it never holds the
    // password.
    #[error("password hashing failed: {0}")]
    Hashing(#[source] argon2::password_hash::Error),

    #[error("the stored password hash is not a valid Argon2 PHC string")]
    MalformedPasswordHash,

    #[error("the password hashing task stopped before it finished")]
    TaskFailed,
}

impl AuthError {
    /// The rejection reason when this error is a refused token, for logging.
    pub fn token_rejection(&self) -> Option<TokenRejection> {
        match self {
            AuthError::InvalidToken(reason) => Some(*reason),
            _ => None,
        }
    }
}
