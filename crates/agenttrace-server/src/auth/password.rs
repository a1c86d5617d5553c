//! Passwords: the policy a new password must pass, and Argon2id hashing and verification.
//!
//! Hashing is deliberately slow, so it runs on tokio's blocking pool and never stalls the
//! threads that serve requests. Verification for an unknown account does the same work as for a
//! known one (it checks against a dummy hash), so response times do not reveal which emails
//! have accounts.

use crate::auth::error::AuthError;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::zeroize::Zeroize;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Shorter passwords fall to offline guessing too quickly once a hash leaks (NIST SP 800-63B
/// asks for at least 8; we ask for more because nothing else protects an account here).
pub const MIN_PASSWORD_LEN: usize = 12;

/// Long enough for any passphrase or password-manager output, short enough that a request
/// cannot make the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

// OWASP's minimum for Argon2id: 19 MiB of memory, two passes, one lane. On the two-core
// machines this runs on, a hash takes a few tens of milliseconds, which keeps sign-in usable
// while making each guess against a leaked hash cost real memory.
const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_LANES: u32 = 1;

// Below this length the local part of an email ("jo", "a") would match inside far too many
// good passwords to be a useful rule.
const MIN_EMAIL_PART_TO_MATCH: usize = 3;

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Why a new password was refused; each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error(
        "the password has {actual} characters; use at least {min} (a few unrelated words make \
         a long password that is still easy to remember)"
    )]
    TooShort { min: usize, actual: usize },

    #[error("the password is longer than {max} bytes; use a shorter one")]
    TooLong { max: usize },

    #[error(
        "the password is one of the most common passwords, or one with only digits or symbols \
         added; choose something less predictable"
    )]
    Common,

    #[error("the password repeats a single character; choose something less predictable")]
    Repetitive,

    #[error("the password contains your email address or the name before its @; choose another")]
    ContainsEmail,
}

/// Checks a new password (at registration, password change and admin user creation).
pub fn check_password_policy(password: &str, email: &str) -> Result<(), PasswordPolicyError> {
    // Bytes first: counting characters of a huge input is work an attacker should not get.
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordPolicyError::TooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    let actual = password.chars().count();
    if actual < MIN_PASSWORD_LEN {
        return Err(PasswordPolicyError::TooShort {
            min: MIN_PASSWORD_LEN,
            actual,
        });
    }
    let lowered = password.to_lowercase();
    if contains_email(&lowered, email) {
        return Err(PasswordPolicyError::ContainsEmail);
    }
    let mut chars = lowered.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordPolicyError::Repetitive);
    }
    if is_common(&lowered) {
        return Err(PasswordPolicyError::Common);
    }
    Ok(())
}

fn contains_email(lowered_password: &str, email: &str) -> bool {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return false;
    }
    if lowered_password.contains(&email) {
        return true;
    }
    let local = email
        .rsplit_once('@')
        .map_or(email.as_str(), |(local, _)| local);
    // "jane+agents@..." is still Jane: the tag is not part of the name people reuse.
    let name = local.split('+').next().unwrap_or(local);
    [local, name].iter().any(|part| {
        part.chars().count() >= MIN_EMAIL_PART_TO_MATCH && lowered_password.contains(part)
    })
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

fn is_common(lowered: &str) -> bool {
    let list = common_passwords();
    if list.contains(lowered) {
        return true;
    }
    // Padding a listed word with digits and symbols ("sunshine2024!") is how people stretch a
    // weak password past a length rule; it is the first thing guessing tools try.
    let core = lowered.trim_matches(|c: char| !c.is_alphabetic());
    !core.is_empty() && core.len() != lowered.len() && list.contains(core)
}

fn argon2() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .map_err(|error| AuthError::Hashing(error.into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into an Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with
/// a fresh random salt. The policy is the caller's job; only the size limit is enforced here.
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    let mut password = password;
    run_blocking(move || {
        let result = hash_blocking(password.as_bytes());
        password.zeroize();
        result
    })
    .await
}

fn hash_blocking(password: &[u8]) -> Result<String, AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordPolicyError::TooLong {
            max: MAX_PASSWORD_BYTES,
        }
        .into());
    }
    let hash = argon2()?
        .hash_password(password)
        .map_err(AuthError::Hashing)?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC string. Pass `None` when no account has the given
/// email: the password is then checked against a dummy hash, the same work as a real check,
/// and the answer is `false`.
///
/// An error means the stored hash is unreadable or hashing failed, never that the password
/// was wrong.
pub async fn verify_password(password: String, phc: Option<String>) -> Result<bool, AuthError> {
    let mut password = password;
    run_blocking(move || {
        let result = verify_blocking(password.as_bytes(), phc.as_deref());
        password.zeroize();
        result
    })
    .await
}

fn verify_blocking(password: &[u8], phc: Option<&str>) -> Result<bool, AuthError> {
    let argon2 = argon2()?;
    match phc {
        Some(phc) if password.len() <= MAX_PASSWORD_BYTES => {
            let stored = PasswordHash::new(phc).map_err(|_| AuthError::MalformedPasswordHash)?;
            match argon2.verify_password(password, &stored) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(other) => Err(AuthError::Hashing(other)),
            }
        }
        // No such account, or a password longer than any account can have: do the same work
        // as a real check and say no.
        _ => {
            let dummy =
                PasswordHash::new(dummy_hash()?).map_err(|_| AuthError::MalformedPasswordHash)?;
            let capped = password.get(..MAX_PASSWORD_BYTES).unwrap_or(password);
            // The outcome is irrelevant: only the time spent matters.
            let _ = argon2.verify_password(capped, &dummy);
            Ok(false)
        }
    }
}

/// Computes the dummy hash now rather than on the first sign-in with an unknown email, where
/// the extra hash would make that one answer slower than the rest. Call it once at startup.
pub async fn warm_up() -> Result<(), AuthError> {
    run_blocking(|| dummy_hash().map(|_| ())).await
}

// A fixed password and salt make the dummy deterministic and need no randomness; it is never
// compared in a way that could let anyone in, because the unknown-user path always answers
// false.
fn dummy_hash() -> Result<&'static str, AuthError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = argon2()?
        .hash_password_with_salt(
            b"agenttrace-dummy-password-for-unknown-accounts",
            b"agenttrace-dummy",
        )
        .map_err(AuthError::Hashing)?
        .to_string();
    Ok(DUMMY.get_or_init(|| hash))
}

/// Whether a stored hash was made with other settings than today's (an older algorithm or
/// cheaper parameters), so the caller can re-hash the password after a successful sign-in.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return true;
    };
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    match Params::try_from(&hash) {
        Ok(params) => {
            params.m_cost() < ARGON2_MEMORY_KIB
                || params.t_cost() < ARGON2_ITERATIONS
                || params.p_cost() < ARGON2_LANES
        }
        Err(_) => true,
    }
}

async fn run_blocking<T, F>(work: F) -> Result<T, AuthError>
where
    F: FnOnce() -> Result<T, AuthError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AuthError::TaskFailed)?
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "jane.doe@example.com";

    #[test]
    fn accepts_a_long_uncommon_password() {
        assert_eq!(
            check_password_policy("violet kettle orbit 42", EMAIL),
            Ok(())
        );
    }

    #[test]
    fn refuses_short_passwords_counting_characters_not_bytes() {
        assert_eq!(
            check_password_policy("Sh0rt!pass", EMAIL),
            Err(PasswordPolicyError::TooShort {
                min: 12,
                actual: 10
            })
        );
        // Eleven two-byte characters: 22 bytes, but still too short.
        assert_eq!(
            check_password_policy(&"é".repeat(11), EMAIL),
            Err(PasswordPolicyError::TooShort {
                min: 12,
                actual: 11
            })
        );
        assert!(check_password_policy("violetkettle", EMAIL).is_ok());
    }

    #[test]
    fn refuses_passwords_over_the_byte_limit() {
        let long = "violet kettle orbit ".repeat(60);
        assert!(long.len() > MAX_PASSWORD_BYTES);
        assert_eq!(
            check_password_policy(&long, EMAIL),
            Err(PasswordPolicyError::TooLong { max: 1024 })
        );
        let just_fits = "v".repeat(MAX_PASSWORD_BYTES - 12) + "iolet kettle";
        assert!(check_password_policy(&just_fits, EMAIL).is_ok());
    }

    #[test]
    fn refuses_common_passwords_whatever_their_case() {
        for password in [
            "password123456",
            "qwertyuiop123",
            "PassWord123456",
            "123456789012",
            "1qaz2wsx3edc",
            "correcthorsebatterystaple",
        ] {
            assert_eq!(
                check_password_policy(password, EMAIL),
                Err(PasswordPolicyError::Common),
                "{password}"
            );
        }
    }

    #[test]
    fn refuses_a_common_word_padded_with_digits_and_symbols() {
        for password in ["Sunshine2024!!", "!!password!!99", "1234dragon5678"] {
            assert_eq!(
                check_password_policy(password, EMAIL),
                Err(PasswordPolicyError::Common),
                "{password}"
            );
        }
        // A listed word inside other words is fine: the padding rule is about digits and symbols.
        assert!(check_password_policy("sunshine over the bay", EMAIL).is_ok());
    }

    #[test]
    fn refuses_a_single_repeated_character() {
        assert_eq!(
            check_password_policy("zzzzzzzzzzzzzz", EMAIL),
            Err(PasswordPolicyError::Repetitive)
        );
    }

    #[test]
    fn refuses_passwords_containing_the_email_or_its_name() {
        for password in [
            "jane.doe@example.com",
            "JANE.DOE@EXAMPLE.COM",
            "jane.doe-secret-2024",
            "my name is Jane.Doe!",
        ] {
            assert_eq!(
                check_password_policy(password, EMAIL),
                Err(PasswordPolicyError::ContainsEmail),
                "{password}"
            );
        }
        assert_eq!(
            check_password_policy("bobby tables rule", "bobby+agents@example.com"),
            Err(PasswordPolicyError::ContainsEmail)
        );
        // A two-letter name would match inside too many good passwords to be refused.
        assert!(check_password_policy("violet kettle orbit", "vi@example.com").is_ok());
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let message = PasswordPolicyError::TooShort { min: 12, actual: 5 }.to_string();
        assert!(message.contains("at least 12"), "{message}");
        assert!(PasswordPolicyError::Common.to_string().contains("choose"));
    }

    #[test]
    fn the_common_list_is_large_lowercase_and_trimmed() {
        let list = common_passwords();
        assert!(list.len() >= 300, "{}", list.len());
        for entry in list {
            assert_eq!(*entry, entry.to_lowercase(), "{entry}");
            assert_eq!(*entry, entry.trim(), "{entry}");
        }
        assert!(list.contains("password123456"));
        assert!(list.contains("qwertyuiop123"));
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let phc = hash_password("violet kettle orbit 42".to_owned())
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify_password("violet kettle orbit 42".to_owned(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("violet kettle orbit 43".to_owned(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!needs_rehash(&phc));
    }

    #[tokio::test]
    async fn the_same_password_hashes_differently_each_time() {
        let first = hash_password("violet kettle orbit 42".to_owned())
            .await
            .unwrap();
        let second = hash_password("violet kettle orbit 42".to_owned())
            .await
            .unwrap();
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        warm_up().await.unwrap();
        assert!(
            !verify_password("anything at all".to_owned(), None)
                .await
                .unwrap()
        );
        // Not even with the dummy's own password.
        assert!(
            !verify_password(
                "agenttrace-dummy-password-for-unknown-accounts".to_owned(),
                None
            )
            .await
            .unwrap()
        );
    }

    #[tokio::test]
    async fn an_oversized_password_is_refused_without_error() {
        let phc = hash_password("violet kettle orbit 42".to_owned())
            .await
            .unwrap();
        let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(!verify_password(huge.clone(), Some(phc)).await.unwrap());
        assert!(matches!(
            hash_password(huge).await,
            Err(AuthError::PasswordPolicy(
                PasswordPolicyError::TooLong { .. }
            ))
        ));
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_wrong_password() {
        let result = verify_password("whatever".to_owned(), Some("not-a-phc".to_owned())).await;
        assert!(matches!(result, Err(AuthError::MalformedPasswordHash)));
    }

    #[test]
    fn cheaper_or_other_hashes_need_a_rehash() {
        assert!(needs_rehash(
            "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY"
        ));
        assert!(needs_rehash(
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY"
        ));
        assert!(needs_rehash("$2b$12$notargon"));
    }
}
