//! The words a trace is found by: those of its name, description and tags and, for each step, of
//! its name, model, error and every string inside its input, output and metadata.
//!
//! Search answers "which traces contain all these words (as prefixes)", so the index needs each
//! distinct word once, not the full text: agent traces repeat their prompts on every turn, and
//! indexing the distinct words of a 5 MB trace is several times faster than indexing its text.
//! The words are cut here, in Rust, for documents and queries alike, so both engines (SQLite FTS5
//! and PostgreSQL) see the same words and answer the same queries.

use agenttrace_core::Trace;
use serde_json::Value;
use std::collections::HashSet;

/// A fast hasher with a per-process random seed: hashing every word of a 5 MB trace with SipHash
/// took most of the indexing time.
type FastSet = HashSet<String, foldhash::fast::RandomState>;

/// Words longer than this (base64 blobs, minified data) are not indexed.
pub const MAX_WORD_CHARS: usize = 64;

/// The distinct lowercase words of a trace, separated by spaces.
pub fn trace_text(trace: &Trace) -> String {
    let mut words = WordSet::default();
    push(&mut words, &trace.name);
    if let Some(description) = &trace.description {
        push(&mut words, description);
    }
    for tag in &trace.tags {
        push(&mut words, tag);
    }
    for step in &trace.steps {
        push(&mut words, &step.name);
        if let Some(model) = &step.model {
            push(&mut words, model);
        }
        if let Some(error) = &step.error {
            push(&mut words, &error.message);
            if let Some(error_type) = &error.error_type {
                push(&mut words, error_type);
            }
            if let Some(stack) = &error.stack {
                push(&mut words, stack);
            }
        }
        for value in [&step.input, &step.output].into_iter().flatten() {
            push_strings(&mut words, value);
        }
        for value in step.metadata.values() {
            push_strings(&mut words, value);
        }
    }
    words.finish()
}

fn push(words: &mut WordSet, piece: &str) {
    words.add_text(piece);
}

/// Distinct words in order of first appearance.
#[derive(Default)]
struct WordSet {
    seen: FastSet,
    out: String,
    /// The current word, lowercased; reused so known words cost no allocation.
    word: String,
}

impl WordSet {
    fn add_text(&mut self, text: &str) {
        for_each_word(text, |raw| {
            // Most words are lowercase ASCII already: look them up without copying.
            if raw.len() <= MAX_WORD_CHARS
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                if self.seen.contains(raw) {
                    return;
                }
                self.word.clear();
                self.word.push_str(raw);
            } else if !lowercase_word(raw, &mut self.word) || self.seen.contains(self.word.as_str())
            {
                return;
            }
            if !self.out.is_empty() {
                self.out.push(' ');
            }
            self.out.push_str(&self.word);
            self.seen.insert(self.word.clone());
        });
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Writes `raw` lowercased into `out`; false when it is empty or longer than [`MAX_WORD_CHARS`].
fn lowercase_word(raw: &str, out: &mut String) -> bool {
    out.clear();
    if raw.is_empty() || raw.len() > MAX_WORD_CHARS * 4 {
        return false;
    }
    if raw.is_ascii() {
        if raw.len() > MAX_WORD_CHARS {
            return false;
        }
        out.push_str(raw);
        out.make_ascii_lowercase();
        return true;
    }
    if raw.chars().count() > MAX_WORD_CHARS {
        return false;
    }
    out.extend(raw.chars().flat_map(char::to_lowercase));
    true
}

/// Calls `f` with each run of letters and digits in `text`. ASCII, the bulk of any trace, is
/// classified byte by byte; only other characters are decoded.
fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let (is_word, width) = if bytes[i].is_ascii() {
            (bytes[i].is_ascii_alphanumeric(), 1)
        } else {
            match text.get(i..).and_then(|rest| rest.chars().next()) {
                Some(c) => (c.is_alphanumeric(), c.len_utf8()),
                None => (false, 1),
            }
        };
        match (is_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if let Some(word) = text.get(s..i) {
                    f(word);
                }
                start = None;
            }
            _ => {}
        }
        i += width;
    }
    if let Some(word) = start.and_then(|s| text.get(s..)) {
        f(word);
    }
}

/// Splits text into lowercase words: runs of letters and digits of at most [`MAX_WORD_CHARS`].
pub fn words(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for_each_word(text, |raw| {
        let mut word = String::new();
        if lowercase_word(raw, &mut word) {
            found.push(word);
        }
    });
    found
}

/// Appends every string leaf of a JSON value, iteratively.
fn push_strings(words: &mut WordSet, value: &Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(s) => push(words, s),
            Value::Array(items) => pending.extend(items.iter().rev()),
            Value::Object(map) => pending.extend(map.values().rev()),
            _ => {}
        }
    }
}

/// Splits a user's query into the words it must find, cut as documents are. Each word matches
/// as a prefix; all must match. `get_weather` finds traces with `get` and `weather`.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in words(query) {
        if !terms.contains(&word) {
            terms.push(word);
        }
    }
    terms.truncate(32);
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercase_alphanumeric_runs() {
        let found = words("Get_Weather(city='Zürich') -> 200 OK; sha=ab12 naïve");
        assert_eq!(
            found,
            [
                "get", "weather", "city", "zürich", "200", "ok", "sha", "ab12", "naïve"
            ]
        );
        assert!(words(&"a".repeat(65)).is_empty());
        assert_eq!(words("ÉCOLE"), ["école"]);
    }

    #[test]
    fn queries_are_cut_like_documents() {
        assert_eq!(
            query_terms("  get_weather  GET \"x\" * "),
            ["get", "weather", "x"]
        );
        assert!(query_terms("--- * \"").is_empty());
    }
}
