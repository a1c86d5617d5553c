//! Deciding whether a key names a secret.
//!
//! Keys are compared in a normalised form: lowercased, with everything that is not a letter or a
//! digit removed, so `api_key`, `API-KEY`, `apiKey`, `x-api-key` and `OPENAI_API_KEY` all end in
//! `apikey` (splitting camelCase and then joining the words gives the same string). A key names a
//! secret when that form ends with one of a family's suffixes, or equals one of its exact names,
//! unless it is a known non-secret such as `eos_token` or `next_page_token`. Usage counts never
//! match: `max_tokens`, `input_tokens`, `token_count` and `tokens_used` end in `tokens`, `count`
//! or `used`, not in `token`.
//!
//! This is called for every object key of every trace, so the common case (a key that names no
//! secret) is answered from a stack buffer and a last-byte table, without allocating.

use super::RedactError;
use super::rules::{CUSTOM_KEY_RULE, KEY_FAMILIES, NOT_SECRET_KEYS, SHELL_VARIABLES, ValuePolicy};

/// What a secret key means for the value under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyClass {
    /// Rule name used in the marker and the report (`password`, `api-key`, `custom-key`...).
    pub name: &'static str,
    pub policy: ValuePolicy,
    /// Whether a number under the key is redacted too.
    pub numbers: bool,
    /// Whether an unquoted text value after `key:` runs to the end of the line.
    pub to_line_end: bool,
}

#[derive(Debug)]
struct Entry {
    spelling: Vec<u8>,
    exact: bool,
    class: KeyClass,
}

/// Keys up to this many bytes are normalised on the stack.
const INLINE_KEY: usize = 64;

/// The compiled key-name matcher: built-in families plus configured extra keys.
#[derive(Debug)]
pub(crate) struct KeyMatcher {
    entries: Vec<Entry>,
    /// Last bytes of every spelling: a key whose normalised form ends in any other byte is not a
    /// secret, which settles most keys after one lookup.
    last_bytes: [bool; 256],
    /// Word lists of every spelling, for building the `key=value` text patterns.
    stems: Vec<Vec<String>>,
    /// Normalised endings of multi-word spellings that are not a spelling on their own (`key` of
    /// `api_key`, `accesskey` of `secret_access_key`): a key in text ending like that may be the
    /// last words of a key written with blanks (`API key`).
    partial_endings: Vec<String>,
}

impl KeyMatcher {
    pub(crate) fn new(extra_keys: &[String]) -> Result<KeyMatcher, RedactError> {
        let mut entries = Vec::new();
        let mut stems = Vec::new();
        for family in KEY_FAMILIES {
            let class = KeyClass {
                name: family.name,
                policy: family.policy,
                numbers: family.numbers,
                to_line_end: family.to_line_end,
            };
            for (spellings, exact) in [(family.suffixes, false), (family.exact, true)] {
                for spelling in spellings {
                    entries.push(Entry {
                        spelling: normalise(spelling).into_bytes(),
                        exact,
                        class,
                    });
                    stems.push(spelling.split('_').map(str::to_owned).collect());
                }
            }
        }
        let custom = KeyClass {
            name: CUSTOM_KEY_RULE,
            policy: ValuePolicy::Any,
            numbers: true,
            to_line_end: false,
        };
        for key in extra_keys {
            let spelling = normalise(key);
            if spelling.is_empty() {
                return Err(RedactError::InvalidKey { key: key.clone() });
            }
            entries.push(Entry {
                spelling: spelling.into_bytes(),
                exact: false,
                class: custom,
            });
            stems.push(key_words(key));
        }
        let mut partial_endings: Vec<String> = Vec::new();
        for words in &stems {
            for first in 1..words.len() {
                partial_endings.push(
                    words
                        .get(first..)
                        .unwrap_or_default()
                        .concat()
                        .to_lowercase(),
                );
            }
        }
        partial_endings.sort();
        partial_endings.dedup();
        let mut last_bytes = [false; 256];
        for entry in &entries {
            if let Some(&last) = entry.spelling.last() {
                last_bytes[usize::from(last)] = true;
            }
        }
        Ok(KeyMatcher {
            entries,
            last_bytes,
            stems,
            partial_endings,
        })
    }

    /// A matcher that matches nothing (only used if the built-in tables could not be loaded).
    pub(crate) fn empty() -> KeyMatcher {
        KeyMatcher {
            entries: Vec::new(),
            last_bytes: [false; 256],
            stems: Vec::new(),
            partial_endings: Vec::new(),
        }
    }

    /// The class of secret `key` names, or `None` when its value is not secret by name.
    pub(crate) fn classify(&self, key: &str) -> Option<KeyClass> {
        let bytes = key.as_bytes();
        if bytes.len() <= INLINE_KEY && key.is_ascii() {
            let mut buf = [0u8; INLINE_KEY];
            let mut len = 0;
            for &b in bytes {
                if b.is_ascii_alphanumeric()
                    && let Some(slot) = buf.get_mut(len)
                {
                    *slot = b.to_ascii_lowercase();
                    len += 1;
                }
            }
            self.classify_normalised(buf.get(..len)?, key)
        } else {
            self.classify_normalised(normalise(key).as_bytes(), key)
        }
    }

    fn classify_normalised(&self, norm: &[u8], raw: &str) -> Option<KeyClass> {
        let last = *norm.last()?;
        if !self.last_bytes[usize::from(last)] {
            return None;
        }
        let entry = self.entries.iter().find(|entry| {
            if entry.exact {
                norm == entry.spelling.as_slice()
            } else {
                norm.ends_with(&entry.spelling)
            }
        })?;
        if SHELL_VARIABLES.contains(&raw) || NOT_SECRET_KEYS.iter().any(|k| k.as_bytes() == norm) {
            return None;
        }
        Some(entry.class)
    }

    /// Whether `key` may be the last words of a secret key written with blanks between its words
    /// (`key` in `API key`), so the word before it is worth looking at.
    pub(crate) fn is_partial_ending(&self, key: &str) -> bool {
        let norm = normalise(key);
        self.partial_endings.contains(&norm)
    }

    /// Every spelling as a list of lowercase words (`["api", "key"]`), built-in ones first.
    pub(crate) fn stems(&self) -> &[Vec<String>] {
        &self.stems
    }
}

/// Lowercases `key` and drops everything that is not a letter or a digit.
pub(crate) fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Splits a key into lowercase words at separators and camelCase boundaries:
/// `xCustomKey` → `x custom key`, `HTTPAuthHeader` → `http auth header`, `db_PASS` → `db pass`.
pub(crate) fn key_words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_numeric()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}
