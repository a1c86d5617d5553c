//! Credential primitives: password policy and hashing, access-token signing and checking, and
//! the opaque random tokens (refresh tokens, API keys, share links, CSRF tokens).
//!
//! Everything here is self-contained and free of HTTP and SQL: the handlers decide who may do
//! what and the store keeps the rows, while this module makes sure the secrets they rely on are
//! generated, stored and compared safely. Keeping it apart lets the dangerous parts be tested
//! exhaustively (tampered tokens, clocks, file permissions) without a server.
//!
//! - [`password`]: the policy for new passwords; Argon2id on a blocking thread; equal work for
//!   unknown accounts.
//! - [`jwt`]: HS256 access tokens with a purpose and a security stamp, checked against an
//!   injected clock; the server secret from the environment or the data folder.
//! - [`tokens`]: 256-bit random tokens with recognisable prefixes, stored as SHA-256 hashes and
//!   compared in constant time.
//! - [`error`]: [`AuthError`], whose variants never carry a secret.

pub mod error;
pub mod jwt;
pub mod password;
pub mod tokens;

pub use error::{AuthError, TokenRejection};
pub use jwt::{
    CLOCK_SKEW_LEEWAY_SECS, Claims, JwtKeys, MIN_SECRET_BYTES, SecretBytes, TokenPurpose,
    load_or_create_secret, secret_from_env_value,
};
pub use password::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_LEN, PasswordPolicyError, check_password_policy,
    hash_password, needs_rehash, verify_password,
};
pub use tokens::{
    hash_token, is_api_key, new_api_key, new_csrf_token, new_id, new_refresh_token,
    new_share_token, tokens_equal,
};
