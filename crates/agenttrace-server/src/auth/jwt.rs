//! Access tokens: HS256 JWTs signed with the server secret, and where that secret comes from.
//!
//! Verification accepts exactly one shape: HS256, our issuer, our audience, the purpose the
//! caller expects, and a time window checked against the caller's clock (`now_unix`), so tests
//! and the lockout logic can move time without sleeping. Each token also carries the user's
//! security stamp; the caller compares it with the stored one on every request, which is how a
//! password change or a lock ends tokens already handed out.
//!
//! The secret is `JWT_SECRET_KEY` in production. In development, when it is unset, one is
//! generated on first start and kept in the data folder, readable by the owner only.

use crate::auth::error::{AuthError, TokenRejection};
use crate::auth::tokens::new_id;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::TryRng;
use secrecy::{ExposeSecret, SecretSlice};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::path::Path;
use std::time::Duration;

/// HS256 is only as strong as its key: below 32 bytes (256 bits) an offline search for the key
/// from a single token becomes thinkable (RFC 7518 §3.2 requires at least this much).
pub const MIN_SECRET_BYTES: usize = 32;

/// The file in the data folder that holds the generated development secret.
pub const SECRET_FILE_NAME: &str = "jwt-secret";

// Twice the minimum, so the generated secret is never the weakest link.
const GENERATED_SECRET_BYTES: usize = 64;

// Any random key of 32 bytes has far more distinct values than this; a key with fewer is a
// placeholder such as "xxxxxxxx…" or "changemechangeme…".
const MIN_DISTINCT_SECRET_BYTES: usize = 8;
/// Words that mark a secret copied from an example or a template instead of generated.
const PLACEHOLDER_WORDS: [&str; 12] = [
    "change-me",
    "changeme",
    "change_me",
    "change-this",
    "change_this",
    "changethis",
    "your-secret",
    "your_secret",
    "yoursecret",
    "placeholder",
    "replace-me",
    "secret-key-here",
];

/// Allowed clock difference between the instance that issued a token and the one checking it.
/// It applies to `nbf` and `iat` only: a token that another instance issued a moment ago must
/// not be refused because this one's clock is a few seconds behind. Expiry gets no leeway; a
/// token that ends a little early only costs the client a refresh.
pub const CLOCK_SKEW_LEEWAY_SECS: i64 = 30;

// Real tokens are a few hundred bytes; refusing anything far larger before decoding keeps a
// junk header from costing base64 and JSON work.
const MAX_TOKEN_LEN: usize = 4096;

// Longer than any session we would ever issue, and small enough that `now + ttl` cannot
// overflow.
const MAX_TTL_SECS: u64 = 100 * 365 * 24 * 3600;

/// Secret key material. Never printed: `Debug` shows `[redacted]`, and the bytes are wiped when
/// dropped.
pub struct SecretBytes(SecretSlice<u8>);

impl SecretBytes {
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }

    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        SecretBytes(SecretSlice::from(bytes))
    }
}

impl Clone for SecretBytes {
    fn clone(&self) -> Self {
        SecretBytes::from(self.expose_secret().to_vec())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes([redacted])")
    }
}

/// What a token may be used for. A token is accepted only where its purpose is expected, so
/// a token minted for one use cannot be replayed as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenPurpose {
    /// A bearer token for the JSON API.
    Access,
    /// The signed session of the web UI, carried in the `HttpOnly` cookie.
    Web,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Access => "access",
            TokenPurpose::Web => "web",
        }
    }
}

/// The claims of our tokens. Every field is required: a token missing any of them is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    /// A random id per token, for logs and for a deny list should one ever be needed.
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub purpose: TokenPurpose,
    /// The user's security stamp when the token was issued; compare with the stored one.
    pub stamp: String,
}

/// Signing and verification keys plus the issuer and audience every token must name.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("secret", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str) -> Result<JwtKeys, AuthError> {
        check_secret_strength(secret)?;
        if issuer.is_empty() || audience.is_empty() {
            return Err(AuthError::InvalidJwtConfig);
        }
        ensure_crypto_provider();
        let encoding = EncodingKey::from_secret(secret)
            .map_err(|error| AuthError::TokenIssue(error.to_string()))?;
        let decoding = DecodingKey::from_secret(secret)
            .map_err(|error| AuthError::TokenIssue(error.to_string()))?;

        // The library checks algorithm, signature, issuer and audience. Time is ours: its own
        // checks read the system clock, which would make `now_unix` a lie.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.validate_aud = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        // Presence of every claim is enforced by `Claims` having no optional field.
        validation.required_spec_claims.clear();

        Ok(JwtKeys {
            encoding,
            decoding,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Issues a token valid from `now_unix` for `ttl` (whole seconds).
    pub fn issue(
        &self,
        user_id: &str,
        stamp: &str,
        purpose: TokenPurpose,
        ttl: Duration,
        now_unix: i64,
    ) -> Result<(String, Claims), AuthError> {
        let ttl_secs = ttl.as_secs();
        if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
            return Err(AuthError::InvalidTtl);
        }
        let exp = i64::try_from(ttl_secs)
            .ok()
            .and_then(|ttl| now_unix.checked_add(ttl))
            .ok_or(AuthError::InvalidTtl)?;
        let claims = Claims {
            sub: user_id.to_owned(),
            exp,
            iat: now_unix,
            nbf: now_unix,
            jti: new_id(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            purpose,
            stamp: stamp.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| AuthError::TokenIssue(error.to_string()))?;
        Ok((token, claims))
    }

    /// Verifies a token and returns its claims. The security stamp and whether the user still
    /// exists and is not locked are the caller's to check.
    pub fn verify(
        &self,
        token: &str,
        expected: TokenPurpose,
        now_unix: i64,
    ) -> Result<Claims, AuthError> {
        let reject = |reason| Err(AuthError::InvalidToken(reason));
        if token.len() > MAX_TOKEN_LEN {
            return reject(TokenRejection::Malformed);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| {
                let reason = match rejection_of(error.kind()) {
                    // The library cannot even parse `"alg": "none"`; say what it was, since a
                    // downgrade attempt deserves its own log line.
                    TokenRejection::Malformed if header_names_another_alg(token) => {
                        TokenRejection::WrongAlgorithm
                    }
                    reason => reason,
                };
                AuthError::InvalidToken(reason)
            })?
            .claims;

        // Defence in depth: the library compares these too, but a changed setting there must
        // not be able to widen what we accept.
        if claims.iss != self.issuer {
            return reject(TokenRejection::WrongIssuer);
        }
        if claims.aud != self.audience {
            return reject(TokenRejection::WrongAudience);
        }
        if claims.purpose != expected {
            return reject(TokenRejection::WrongPurpose);
        }
        if claims.sub.is_empty() || claims.jti.is_empty() || claims.exp <= claims.nbf {
            return reject(TokenRejection::Malformed);
        }
        // The token is valid for now in [nbf, exp).
        if now_unix >= claims.exp {
            return reject(TokenRejection::Expired);
        }
        let latest_start = now_unix.saturating_add(CLOCK_SKEW_LEEWAY_SECS);
        if claims.nbf > latest_start || claims.iat > latest_start {
            return reject(TokenRejection::NotYetValid);
        }
        Ok(claims)
    }
}

fn rejection_of(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::InvalidSignature => TokenRejection::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => TokenRejection::WrongAlgorithm,
        ErrorKind::InvalidIssuer => TokenRejection::WrongIssuer,
        ErrorKind::InvalidAudience => TokenRejection::WrongAudience,
        ErrorKind::ExpiredSignature => TokenRejection::Expired,
        ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
        _ => TokenRejection::Malformed,
    }
}

fn header_names_another_alg(token: &str) -> bool {
    let Some(header) = token.split('.').next() else {
        return false;
    };
    let Ok(json) = URL_SAFE_NO_PAD.decode(header) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&json)
        .ok()
        .and_then(|header| {
            header
                .get("alg")
                .and_then(|alg| alg.as_str().map(str::to_owned))
        })
        .is_some_and(|alg| alg != "HS256")
}

// jsonwebtoken picks its crypto backend at run time and panics on first use when it cannot
// decide (for example if another crate ever turns on its `aws_lc_rs` feature as well). Naming
// ours up front turns that into a non-event. Losing the race to another installer is fine:
// then a provider is installed, which is all that matters.
fn ensure_crypto_provider() {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_none() {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
}

fn check_secret_strength(secret: &[u8]) -> Result<(), AuthError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::SecretTooShort {
            min: MIN_SECRET_BYTES,
            actual: secret.len(),
        });
    }
    let lower = String::from_utf8_lossy(secret).to_ascii_lowercase();
    if let Some(word) = PLACEHOLDER_WORDS.iter().find(|w| lower.contains(**w)) {
        return Err(AuthError::SecretPlaceholder { word });
    }
    let mut seen = [false; 256];
    for byte in secret {
        seen[usize::from(*byte)] = true;
    }
    let distinct = seen.iter().filter(|seen| **seen).count();
    if distinct < MIN_DISTINCT_SECRET_BYTES {
        return Err(AuthError::SecretNotRandom { distinct });
    }
    Ok(())
}

/// The secret from `JWT_SECRET_KEY`. Its bytes are used as they are (after trimming the
/// whitespace an env file or a `$(cat …)` tends to add), so any long random string works:
/// base64, hex or a passphrase.
pub fn secret_from_env_value(value: &str) -> Result<SecretBytes, AuthError> {
    let value = value.trim().as_bytes();
    check_secret_strength(value)?;
    Ok(SecretBytes::from(value.to_vec()))
}

/// The development secret: read from `data_dir/jwt-secret`, or generated there (64 random
/// bytes, mode 0600) on first start. A file that group or others could read is refused rather
/// than used, since anyone who can read it can sign in as anyone.
pub fn load_or_create_secret(data_dir: &Path) -> Result<SecretBytes, AuthError> {
    let path = data_dir.join(SECRET_FILE_NAME);
    let mut secret = vec![0u8; GENERATED_SECRET_BYTES];
    rand::rngs::SysRng
        .try_fill_bytes(&mut secret)
        .map_err(|_| AuthError::Random)?;

    // `create_new` makes "is it there?" and "create it" one step, so two starting processes
    // cannot both write, and a file someone else planted is never overwritten.
    match new_owner_only_file(&path) {
        Ok(mut file) => {
            let written = file.write_all(&secret).and_then(|()| file.sync_all());
            if let Err(source) = written {
                // A half-written secret would be read back on the next start; better none.
                let _ = std::fs::remove_file(&path);
                return Err(AuthError::SecretFileIo {
                    action: "write",
                    path,
                    source,
                });
            }
            Ok(SecretBytes::from(secret))
        }
        Err(error) if error.kind() == IoErrorKind::AlreadyExists => {
            drop(SecretBytes::from(secret)); // wipe the unused bytes
            read_secret_file(&path)
        }
        Err(source) => Err(AuthError::SecretFileIo {
            action: "create",
            path,
            source,
        }),
    }
}

fn new_owner_only_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    // The mode is applied at creation, so the file is never readable by others, not even for
    // the moment between creating it and a later chmod.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn read_secret_file(path: &Path) -> Result<SecretBytes, AuthError> {
    let io_error = |action, source| AuthError::SecretFileIo {
        action,
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(|source| io_error("open", source))?;
    // Metadata of the opened file, not of the path, so what we check is what we read.
    let metadata = file
        .metadata()
        .map_err(|source| io_error("inspect", source))?;
    if !metadata.is_file() {
        return Err(AuthError::SecretFileNotRegular {
            path: path.to_path_buf(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AuthError::InsecureSecretFile {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let mut bytes = Vec::with_capacity(GENERATED_SECRET_BYTES);
    // Read at most a little more than we need: a huge file is not a secret we wrote.
    let limit = u64::try_from(GENERATED_SECRET_BYTES * 16).unwrap_or(u64::MAX);
    (&mut file)
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|source| io_error("read", source))?;
    let secret = SecretBytes::from(bytes);
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::SecretFileTooShort {
            path: path.to_path_buf(),
            min: MIN_SECRET_BYTES,
            actual: secret.len(),
        });
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
    const NOW: i64 = 1_750_000_000;
    const TTL: Duration = Duration::from_secs(30 * 60);

    fn keys() -> JwtKeys {
        JwtKeys::new(SECRET, "agenttrace", "agenttrace-api").unwrap()
    }

    fn issue(keys: &JwtKeys) -> (String, Claims) {
        keys.issue("user-1", "stamp-1", TokenPurpose::Access, TTL, NOW)
            .unwrap()
    }

    fn rejection(result: Result<Claims, AuthError>) -> TokenRejection {
        match result {
            Err(AuthError::InvalidToken(reason)) => reason,
            other => panic!("expected a rejected token, got {other:?}"),
        }
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn parts(token: &str) -> (String, String, String) {
        let mut split = token.split('.');
        let header = split.next().unwrap().to_owned();
        let payload = split.next().unwrap().to_owned();
        let signature = split.next().unwrap().to_owned();
        assert!(split.next().is_none());
        (header, payload, signature)
    }

    fn payload_json(claims: &Claims) -> String {
        b64(&serde_json::to_vec(claims).unwrap())
    }

    #[test]
    fn round_trip() {
        let keys = keys();
        let (token, issued) = issue(&keys);
        assert_eq!(issued.sub, "user-1");
        assert_eq!(issued.stamp, "stamp-1");
        assert_eq!(issued.iat, NOW);
        assert_eq!(issued.nbf, NOW);
        assert_eq!(issued.exp, NOW + 1800);
        assert_eq!(issued.iss, "agenttrace");
        assert_eq!(issued.aud, "agenttrace-api");
        let verified = keys.verify(&token, TokenPurpose::Access, NOW + 60).unwrap();
        assert_eq!(verified, issued);

        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts(&token).0).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts(&token).1).unwrap()).unwrap();
        assert_eq!(payload["purpose"], "access");
    }

    #[test]
    fn every_token_gets_its_own_jti() {
        let keys = keys();
        assert_ne!(issue(&keys).1.jti, issue(&keys).1.jti);
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = keys();
        let (_, claims) = issue(&keys);
        let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = payload_json(&claims);
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
            format!("{}.{payload}.", b64(br#"{"alg":"None","typ":"JWT"}"#)),
        ] {
            assert_eq!(
                rejection(keys.verify(&token, TokenPurpose::Access, NOW)),
                TokenRejection::WrongAlgorithm,
                "{token}"
            );
        }
    }

    #[test]
    fn hs512_and_hs384_with_the_same_secret_are_refused() {
        let keys = keys();
        let (_, claims) = issue(&keys);
        for alg in [Algorithm::HS512, Algorithm::HS384] {
            let token = jsonwebtoken::encode(
                &Header::new(alg),
                &claims,
                &EncodingKey::from_secret(SECRET).unwrap(),
            )
            .unwrap();
            assert_eq!(
                rejection(keys.verify(&token, TokenPurpose::Access, NOW)),
                TokenRejection::WrongAlgorithm
            );
        }
    }

    #[test]
    fn a_flipped_signature_byte_is_refused() {
        let keys = keys();
        let (token, _) = issue(&keys);
        let (header, payload, signature) = parts(&token);
        let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
        raw[7] ^= 0x01;
        let forged = format!("{header}.{payload}.{}", b64(&raw));
        assert_eq!(
            rejection(keys.verify(&forged, TokenPurpose::Access, NOW)),
            TokenRejection::BadSignature
        );
    }

    #[test]
    fn a_changed_payload_under_the_original_signature_is_refused() {
        let keys = keys();
        let (token, claims) = issue(&keys);
        let (header, _, signature) = parts(&token);
        let promoted = Claims {
            sub: "admin".to_owned(),
            ..claims
        };
        let forged = format!("{header}.{}.{signature}", payload_json(&promoted));
        assert_eq!(
            rejection(keys.verify(&forged, TokenPurpose::Access, NOW)),
            TokenRejection::BadSignature
        );
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let ours = keys();
        let theirs = JwtKeys::new(
            b"another secret that is long enough 12345",
            "agenttrace",
            "agenttrace-api",
        )
        .unwrap();
        let (token, _) = issue(&theirs);
        assert_eq!(
            rejection(ours.verify(&token, TokenPurpose::Access, NOW)),
            TokenRejection::BadSignature
        );
    }

    #[test]
    fn expiry_follows_the_injected_clock() {
        let keys = keys();
        let (token, claims) = issue(&keys);
        // Far in the past by the system clock, yet valid by the injected one.
        assert!(
            keys.verify(&token, TokenPurpose::Access, claims.exp - 1)
                .is_ok()
        );
        assert_eq!(
            rejection(keys.verify(&token, TokenPurpose::Access, claims.exp)),
            TokenRejection::Expired
        );
        assert_eq!(
            rejection(keys.verify(&token, TokenPurpose::Access, claims.exp + 3600)),
            TokenRejection::Expired
        );
    }

    #[test]
    fn a_token_from_the_future_is_refused_beyond_the_leeway() {
        let keys = keys();
        let (token, _) = issue(&keys);
        assert!(
            keys.verify(&token, TokenPurpose::Access, NOW - CLOCK_SKEW_LEEWAY_SECS)
                .is_ok()
        );
        assert_eq!(
            rejection(keys.verify(
                &token,
                TokenPurpose::Access,
                NOW - CLOCK_SKEW_LEEWAY_SECS - 1
            )),
            TokenRejection::NotYetValid
        );
    }

    #[test]
    fn wrong_issuer_audience_or_purpose_is_refused() {
        let keys = keys();
        let other_issuer = JwtKeys::new(SECRET, "someone-else", "agenttrace-api").unwrap();
        let (token, _) = issue(&other_issuer);
        assert_eq!(
            rejection(keys.verify(&token, TokenPurpose::Access, NOW)),
            TokenRejection::WrongIssuer
        );

        let other_audience = JwtKeys::new(SECRET, "agenttrace", "agenttrace-web").unwrap();
        let (token, _) = issue(&other_audience);
        assert_eq!(
            rejection(keys.verify(&token, TokenPurpose::Access, NOW)),
            TokenRejection::WrongAudience
        );

        let (token, _) = keys
            .issue("user-1", "stamp-1", TokenPurpose::Web, TTL, NOW)
            .unwrap();
        assert_eq!(
            rejection(keys.verify(&token, TokenPurpose::Access, NOW)),
            TokenRejection::WrongPurpose
        );
        assert!(keys.verify(&token, TokenPurpose::Web, NOW).is_ok());
    }

    #[test]
    fn an_opaque_or_garbage_token_is_refused() {
        let keys = keys();
        for token in [
            "",
            "atr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "a.b.c",
            &"x".repeat(5000),
        ] {
            assert_eq!(
                rejection(keys.verify(token, TokenPurpose::Access, NOW)),
                TokenRejection::Malformed
            );
        }
    }

    #[test]
    fn a_token_missing_a_claim_is_refused() {
        let keys = keys();
        let (token, _) = issue(&keys);
        let (header, payload, _) = parts(&token);
        let mut value: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        value.as_object_mut().unwrap().remove("stamp");
        let payload = b64(&serde_json::to_vec(&value).unwrap());
        let signature = jsonwebtoken::crypto::sign(
            format!("{header}.{payload}").as_bytes(),
            &EncodingKey::from_secret(SECRET).unwrap(),
            Algorithm::HS256,
        )
        .unwrap();
        let token = format!("{header}.{payload}.{signature}");
        assert_eq!(
            rejection(keys.verify(&token, TokenPurpose::Access, NOW)),
            TokenRejection::Malformed
        );
    }

    #[test]
    fn weak_secrets_and_empty_names_are_refused() {
        assert!(matches!(
            JwtKeys::new(b"too short", "a", "b"),
            Err(AuthError::SecretTooShort { min: 32, actual: 9 })
        ));
        assert!(matches!(
            JwtKeys::new(&[b'x'; 64], "a", "b"),
            Err(AuthError::SecretNotRandom { distinct: 1 })
        ));
        assert!(matches!(
            secret_from_env_value("your-super-secret-jwt-key-Change-This-in-production"),
            Err(AuthError::SecretPlaceholder {
                word: "change-this"
            })
        ));
        assert!(matches!(
            JwtKeys::new(SECRET, "", "b"),
            Err(AuthError::InvalidJwtConfig)
        ));
        assert!(matches!(
            keys().issue("u", "s", TokenPurpose::Access, Duration::ZERO, NOW),
            Err(AuthError::InvalidTtl)
        ));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let keys = keys();
        let printed = format!("{keys:?}");
        assert!(printed.contains("[redacted]"));
        assert!(!printed.contains("0123456789abcdef"), "{printed}");

        let secret = secret_from_env_value(std::str::from_utf8(SECRET).unwrap()).unwrap();
        let printed = format!("{secret:?}");
        assert_eq!(printed, "SecretBytes([redacted])");
    }

    #[test]
    fn env_secrets_must_be_long_enough() {
        assert!(matches!(
            secret_from_env_value("short"),
            Err(AuthError::SecretTooShort { actual: 5, .. })
        ));
        // 31 bytes once the newline an env file adds is trimmed.
        assert!(matches!(
            secret_from_env_value("0123456789abcdefghijklmnopqrstu\n"),
            Err(AuthError::SecretTooShort { actual: 31, .. })
        ));
        let secret = secret_from_env_value(" 0123456789abcdefghijklmnopqrstuv\n").unwrap();
        assert_eq!(secret.expose_secret(), b"0123456789abcdefghijklmnopqrstuv");
        assert!(JwtKeys::new(secret.expose_secret(), "a", "b").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn the_dev_secret_is_created_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_secret(dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        let path = dir.path().join(SECRET_FILE_NAME);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = load_or_create_secret(dir.path()).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(std::fs::read(&path).unwrap(), first.expose_secret());
    }

    #[cfg(unix)]
    #[test]
    fn a_group_or_world_readable_secret_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_create_secret(dir.path()).unwrap();
        let path = dir.path().join(SECRET_FILE_NAME);
        for mode in [0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = load_or_create_secret(dir.path()).unwrap_err();
            assert!(
                matches!(error, AuthError::InsecureSecretFile { mode: found, .. } if found == mode),
                "{error:?}"
            );
            assert!(error.to_string().contains("chmod 600"), "{error}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_or_create_secret(dir.path()).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_truncated_secret_file_is_refused() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_FILE_NAME);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        file.write_all(b"only sixteen byt").unwrap();
        drop(file);
        assert!(matches!(
            load_or_create_secret(dir.path()),
            Err(AuthError::SecretFileTooShort { actual: 16, .. })
        ));
    }

    #[test]
    fn a_missing_data_dir_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("not-there");
        let error = load_or_create_secret(&missing).unwrap_err();
        assert!(matches!(
            error,
            AuthError::SecretFileIo {
                action: "create",
                ..
            }
        ));
        assert!(error.to_string().contains("jwt-secret"), "{error}");
    }
}
