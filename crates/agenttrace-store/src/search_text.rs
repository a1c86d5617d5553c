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
use std::hash::BuildHasher;

/// Words longer than this (base64 blobs, minified data) are not indexed.
pub const MAX_WORD_CHARS: usize = 64;

/// The distinct lowercase words of a trace, separated by spaces.
pub fn trace_text(trace: &Trace) -> String {
    let mut words = WordSet::new(foldhash::fast::RandomState::default());
    words.add_text(&trace.name);
    if let Some(description) = &trace.description {
        words.add_text(description);
    }
    for tag in &trace.tags {
        words.add_text(tag);
    }
    add_steps(&mut words, &trace.steps);
    words.finish()
}

fn add_steps(words: &mut WordSet, steps: &[agenttrace_core::Step]) {
    for step in steps {
        words.add_text(&step.name);
        if let Some(model) = &step.model {
            words.add_text(model);
        }
        if let Some(error) = &step.error {
            words.add_text(&error.message);
            if let Some(error_type) = &error.error_type {
                words.add_text(error_type);
            }
            if let Some(stack) = &error.stack {
                words.add_text(stack);
            }
        }
        for value in [&step.input, &step.output].into_iter().flatten() {
            push_strings(words, value);
        }
        for value in step.metadata.values() {
            push_strings(words, value);
        }
    }
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Distinct words in order of first appearance.
///
/// Words are remembered by a 64-bit hash (seeded at random per trace), not by their text: that
/// halves the cost of the common case, a word seen before. Two different words of one trace
/// with the same hash (odds around 1 in 10^8 for a million distinct words) would leave the
/// second out of the index.
struct WordSet {
    hasher: foldhash::fast::RandomState,
    seen: HashSet<u64, std::hash::BuildHasherDefault<PassThrough>>,
    out: String,
    /// The current word, lowercased; reused so no word costs an allocation.
    word: String,
}

impl WordSet {
    fn new(hasher: foldhash::fast::RandomState) -> WordSet {
        WordSet {
            hasher,
            seen: HashSet::default(),
            out: String::new(),
            word: String::new(),
        }
    }

    fn add_text(&mut self, text: &str) {
        for_each_word(text, |raw| {
            // Most words are lowercase ASCII already: hash them as they are.
            let word = if raw.len() <= MAX_WORD_CHARS
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                raw
            } else if lowercase_word(raw, &mut self.word) {
                self.word.as_str()
            } else {
                return;
            };
            if self.seen.insert(self.hasher.hash_one(word)) {
                if !self.out.is_empty() {
                    self.out.push(' ');
                }
                self.out.push_str(word);
            }
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
            Value::String(s) => words.add_text(s),
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
    fn every_word_of_a_large_trace_is_indexed_once() {
        use agenttrace_core::synth::{SynthSpec, generate};
        let mut doc = generate(SynthSpec {
            steps: 300,
            target_bytes: 300_000,
            seed: 3,
        });
        doc["steps"][10]["name"] = serde_json::json!("Quetzalcoatl first-half");
        doc["steps"][290]["name"] = serde_json::json!("Zanzibar second_half");
        let decoded = agenttrace_core::native::decode(doc, &agenttrace_core::Limits::default(), 0)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let text = trace_text(&decoded.trace);
        let words: Vec<&str> = text.split(' ').collect();
        for expected in [
            "quetzalcoatl",
            "first",
            "zanzibar",
            "second",
            "half",
            "weather",
        ] {
            assert!(words.contains(&expected), "{expected} missing from {text}");
        }
        let mut unique = words.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), words.len(), "every word once");
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
