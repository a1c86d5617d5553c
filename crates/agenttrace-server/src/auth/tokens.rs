//! Opaque random tokens (refresh tokens, API keys, share links, CSRF tokens) and how to store
//! and compare them.
//!
//! These tokens carry no meaning of their own: the database row they point to does. The
//! database keeps only [`hash_token`] of each, so a leaked database or backup hands out no
//! usable credential. A plain SHA-256 is enough here (unlike passwords) because each token
//! holds 256 random bits: there is nothing to guess. The prefixes (`atr_`, `atk_`, `ats_`)
//! tell a human and a secret scanner what kind of credential they are looking at.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const REFRESH_TOKEN_PREFIX: &str = "atr_";
pub const API_KEY_PREFIX: &str = "atk_";
pub const SHARE_TOKEN_PREFIX: &str = "ats_";

/// How many leading characters of an API key are stored in clear to identify it in lists
/// ("atk_AbCd1234…"): enough to tell keys apart, far too few to help guess the rest.
pub const API_KEY_DISPLAY_PREFIX_LEN: usize = 12;

// 256 bits: beyond any online or offline guessing, and what the issue asks for refresh tokens.
const TOKEN_BYTES: usize = 32;
// Ids are not secrets; 128 bits only has to make collisions impossible in practice.
const ID_BYTES: usize = 16;

/// `n` bytes from the thread-local CSPRNG (ChaCha12, seeded and periodically reseeded from the
/// operating system), as URL-safe base64 without padding so the token fits in URLs and headers
/// unescaped.
pub(crate) fn random_urlsafe(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(&bytes)
}

/// A refresh token: `atr_` and 43 characters.
pub fn new_refresh_token() -> String {
    format!("{REFRESH_TOKEN_PREFIX}{}", random_urlsafe(TOKEN_BYTES))
}

/// A new API key and its display prefix: `(full key, shown once; prefix such as "atk_AbCd1234")`.
/// Store the prefix and [`hash_token`] of the key, never the key.
pub fn new_api_key() -> (String, String) {
    let key = format!("{API_KEY_PREFIX}{}", random_urlsafe(TOKEN_BYTES));
    let prefix = key
        .get(..API_KEY_DISPLAY_PREFIX_LEN)
        .unwrap_or(&key)
        .to_owned();
    (key, prefix)
}

/// Whether a presented bearer credential is shaped like one of our API keys, so the caller can
/// tell it apart from a JWT before looking it up (by its hash).
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with(API_KEY_PREFIX)
}

/// A share link token: `ats_` and 43 characters.
pub fn new_share_token() -> String {
    format!("{SHARE_TOKEN_PREFIX}{}", random_urlsafe(TOKEN_BYTES))
}

/// A CSRF token for cookie sessions (43 characters, no prefix: it never leaves the browser
/// session it belongs to, so no scanner needs to recognise it).
pub fn new_csrf_token() -> String {
    random_urlsafe(TOKEN_BYTES)
}

/// The CSRF token of a browser session, derived from its (secret, HttpOnly) cookie token, so a
/// page can carry it without the server keeping it: whoever can compute it already holds the
/// session. Distinct from the token's stored hash, so a database copy does not reveal it.
pub fn csrf_for_session(session_token: &str) -> String {
    hash_token(&format!("agenttrace-csrf:{session_token}"))
}

/// A random identifier (32 lowercase hex characters) for rows that want one without a
/// database round trip, such as JWT ids and refresh-token families.
pub fn new_id() -> String {
    let mut bytes = [0u8; ID_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    to_hex(&bytes)
}

/// SHA-256 of a token, as 64 lowercase hex characters: the form tokens are stored and looked
/// up in.
pub fn hash_token(token: &str) -> String {
    to_hex(&Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they first differ, so a
/// response time cannot be used to guess a token character by character. (Lengths may leak;
/// token lengths are public.)
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn assert_urlsafe(body: &str) {
        assert!(
            body.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{body}"
        );
    }

    fn assert_unique(make: impl Fn() -> String) {
        let drawn: HashSet<String> = (0..1000).map(|_| make()).collect();
        assert_eq!(drawn.len(), 1000);
    }

    #[test]
    fn refresh_tokens_have_prefix_256_bits_and_never_repeat() {
        let token = new_refresh_token();
        let body = token.strip_prefix("atr_").unwrap();
        assert_eq!(body.len(), 43); // 32 bytes in unpadded base64
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert_urlsafe(body);
        assert_unique(new_refresh_token);
    }

    #[test]
    fn api_keys_come_with_their_display_prefix() {
        let (key, prefix) = new_api_key();
        assert!(key.starts_with("atk_"));
        assert_eq!(key.len(), 4 + 43);
        assert_eq!(prefix.len(), 12);
        assert!(key.starts_with(&prefix));
        assert!(is_api_key(&key));
        assert!(!is_api_key("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert_urlsafe(&key[4..]);
        assert_unique(|| new_api_key().0);
    }

    #[test]
    fn share_csrf_and_ids_have_their_formats() {
        let share = new_share_token();
        assert!(share.starts_with("ats_"));
        assert_eq!(share.len(), 47);
        assert_unique(new_share_token);

        let csrf = new_csrf_token();
        assert_eq!(csrf.len(), 43);
        assert_urlsafe(&csrf);
        assert_unique(new_csrf_token);

        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_unique(new_id);
    }

    #[test]
    fn hash_is_stable_lowercase_hex_sha256() {
        // The SHA-256 test vector of "abc" (FIPS 180-2).
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = new_refresh_token();
        assert_eq!(hash_token(&token), hash_token(&token));
        assert_ne!(hash_token(&token), hash_token(&new_refresh_token()));
        assert_eq!(hash_token(&token).len(), 64);
    }

    #[test]
    fn tokens_equal_compares_whole_values() {
        let token = new_share_token();
        assert!(tokens_equal(&token, &token.clone()));
        assert!(!tokens_equal(&token, &new_share_token()));
        assert!(!tokens_equal(&token, &token[..token.len() - 1]));
        assert!(!tokens_equal(&token, ""));
        assert!(tokens_equal("", ""));
    }
}
