//! The compiled rules and the string scanner.
//!
//! An [`Engine`] holds one `regex::Regex` per rule (linear-time matching, no backtracking) and one
//! Aho-Corasick automaton over every rule's literal hints. Scanning a string runs the automaton
//! once; only the rules whose hints occurred run their regex, so a string without any hint costs a
//! single pass and no allocation. Rules run one after another, each over the output of the previous
//! one, and a match that touches an existing `[REDACTED:...]` marker is left alone: that is what
//! makes redaction idempotent and lets the more specific rule (run first) name the secret.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::{CaptureLocations, Regex, RegexBuilder};

use super::keys::{KeyClass, KeyMatcher};
use super::rules::{
    AUTH_SCHEMES, CODE_WORDS, Check, GENERIC_RULES, PROSE_WORDS, VALUE_RULES, ValuePolicy,
    ValueRule,
};
use super::{RedactConfig, RedactError, RedactionReport};

/// Opening of every marker; a marker is `[REDACTED:<rule>]`.
pub(crate) const MARKER_PREFIX: &str = "[REDACTED:";
/// Longest rule name accepted (and recognised inside a marker).
pub(crate) const MAX_RULE_NAME: usize = 48;
/// Words that make a 40-character base64 run an AWS secret key. Plain literals in their usual
/// cases (rather than `(?i)`) let the regex engine search for them with a vectorised prefilter.
const AWS_CONTEXT: &str = r"aws|AWS|Aws|amazon|Amazon|AMAZON|secret.?access|Secret.?Access|SECRET.?ACCESS|(?-u:\b)(?:AKIA|ASIA)";
/// How far (bytes, each side) an AWS word may be from a 40-character candidate secret key.
const AWS_CONTEXT_WINDOW: usize = 512;
/// Length of an AWS secret access key.
const AWS_SECRET_LEN: usize = 40;
/// Regex size limit for configured patterns (the default is generous; this only bounds memory).
const EXTRA_PATTERN_SIZE_LIMIT: usize = 16 * (1 << 20);

/// Whether a failing built-in rule is an error or is skipped (and listed) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    Strict,
    SkipBroken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    /// A secret shape; the match (or its `s` group) is the secret.
    Pattern(Check),
    /// `key=value`, `key: value`, `"key": "value"` in text, where the key names a secret.
    KeyValue,
    /// `--password value` on a command line.
    CliFlag,
}

/// Capture group indices, looked up once when the rule is compiled.
#[derive(Debug, Default)]
struct Groups {
    /// The secret (`s` in built-in patterns, `secret` in configured ones); `None`: whole match.
    secret: Option<usize>,
    key: Option<usize>,
    sep: Option<usize>,
    /// Quoted value groups (`v1`..`v3` of the key-value pattern, `v1`, `v2` of the flag pattern).
    quoted: Vec<usize>,
    /// Bare-word value group (`v4` / `v3`).
    bare: Option<usize>,
}

impl Groups {
    fn of(regex: &Regex, secret_name: &str, kind: RuleKind) -> Groups {
        let index = |name: &str| regex.capture_names().position(|group| group == Some(name));
        let (quoted, bare): (&[&str], &str) = match kind {
            RuleKind::Pattern(_) => (&[], ""),
            RuleKind::KeyValue => (&["v1", "v2", "v3"], "v4"),
            RuleKind::CliFlag => (&["v1", "v2"], "v3"),
        };
        Groups {
            secret: index(secret_name),
            key: index("key"),
            sep: index("sep"),
            quoted: quoted.iter().filter_map(|name| index(name)).collect(),
            bare: index(bare),
        }
    }
}

#[derive(Debug)]
struct CompiledRule {
    name: String,
    regex: Regex,
    groups: Groups,
    kind: RuleKind,
    /// Bit in the prefilter mask; `None`: the rule has no hints and runs on every string.
    bit: Option<u32>,
    /// A byte the text must contain for the rule to run.
    requires: Option<u8>,
}

/// How a value was written, which decides how strict the value checks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueForm {
    /// A JSON string under a key, or a quoted value in text.
    Quoted,
    /// A bare word in text; `after_colon` for `key: value` (YAML, headers, prose).
    Unquoted { after_colon: bool },
}

/// One accepted redaction: the byte range replaced and the rule named in the marker.
struct Hit<'a> {
    span: Range<usize>,
    rule: &'a str,
    /// A key-value hit may swallow markers placed inside its value by earlier rules.
    may_cover_markers: bool,
}

#[derive(Debug)]
struct Prefilter {
    /// `None` only if the automaton could not be built; every rule then runs on every string.
    automaton: Option<AhoCorasick>,
    /// Rule bits for each automaton pattern, widened for the non-overlapping search.
    masks: Vec<u128>,
    /// The hints (lowercase) and their own rule bits, before widening: kept for the tests that
    /// check the widened search against a plain substring search.
    #[cfg_attr(not(test), allow(dead_code))]
    hints: Vec<(String, u128)>,
    /// All rule bits.
    all: u128,
}

impl Prefilter {
    fn build(
        hints: HashMap<String, u128>,
        strictness: Strictness,
    ) -> Result<Prefilter, RedactError> {
        let all = hints.values().fold(0, |acc, mask| acc | mask);
        let mut pairs: Vec<(String, u128)> = hints.into_iter().collect();
        pairs.sort();
        let masks = widen_masks(&pairs);
        let hints = pairs.clone();
        let built = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(pairs.iter().map(|(hint, _)| hint.as_str()));
        match built {
            Ok(automaton) => Ok(Prefilter {
                automaton: Some(automaton),
                masks,
                hints,
                all,
            }),
            Err(error) if strictness == Strictness::Strict => Err(RedactError::Prefilter {
                message: error.to_string(),
            }),
            Err(_) => Ok(Prefilter {
                automaton: None,
                masks,
                hints,
                all,
            }),
        }
    }

    /// Bits of the rules whose hints occur in `text`.
    ///
    /// The search is non-overlapping (about twice as fast as reporting every overlapping hint), so
    /// a hint whose occurrence overlaps a reported one may go unreported; [`widen_masks`] gives
    /// every hint the bits of the hints it can hide, so no rule is skipped because of that.
    fn scan(&self, text: &str) -> u128 {
        let Some(automaton) = &self.automaton else {
            return self.all;
        };
        let Ok(matches) = automaton.try_find_iter(text) else {
            return self.all;
        };
        let mut mask = 0;
        for found in matches {
            mask |= self
                .masks
                .get(found.pattern().as_usize())
                .copied()
                .unwrap_or(self.all);
            if mask == self.all {
                break;
            }
        }
        mask
    }
}

/// Rule masks for a non-overlapping hint search. With standard semantics the automaton reports the
/// match that ends first and resumes after it, so an occurrence of hint `b` is skipped when it
/// overlaps a reported occurrence of `a` and ends later: `b` starts inside `a`, or `a` is a prefix of
/// `b`. Such an `a` also carries `b`'s bits. A hint lying inside another is implied by it, and may
/// be the one reported in its place, so those two carry each other's bits.
fn widen_masks(hints: &[(String, u128)]) -> Vec<u128> {
    let mut masks: Vec<u128> = hints.iter().map(|(_, mask)| *mask).collect();
    let mut by_first_byte: Vec<Vec<usize>> = vec![Vec::new(); 256];
    for (index, (hint, _)) in hints.iter().enumerate() {
        if let Some(&first) = hint.as_bytes().first() {
            by_first_byte[usize::from(first)].push(index);
        }
    }
    for (a, (hint_a, bits_a)) in hints.iter().enumerate() {
        let bytes_a = hint_a.as_bytes();
        for offset in 0..bytes_a.len() {
            let rest = bytes_a.get(offset..).unwrap_or_default();
            let Some(&first) = rest.first() else {
                continue;
            };
            for &b in &by_first_byte[usize::from(first)] {
                let Some((hint_b, bits_b)) = hints.get(b).filter(|_| b != a) else {
                    continue;
                };
                let bytes_b = hint_b.as_bytes();
                if rest.starts_with(bytes_b) {
                    masks[a] |= bits_b;
                    masks[b] |= bits_a;
                } else if bytes_b.starts_with(rest) {
                    masks[a] |= bits_b;
                }
            }
        }
    }
    masks
}

/// All rules, compiled.
#[derive(Debug)]
pub(crate) struct Engine {
    rules: Vec<CompiledRule>,
    prefilter: Prefilter,
    /// Whether some rule has no hints (configured extra patterns), so every string is scanned.
    has_unhinted: bool,
    allow: HashSet<String>,
    pub(crate) keys: KeyMatcher,
    aws_context: Option<Regex>,
    /// Built-in rules skipped because they failed to compile (only with `SkipBroken`; tested empty).
    disabled: Vec<String>,
}

impl Engine {
    pub(crate) fn build(
        config: &RedactConfig,
        strictness: Strictness,
    ) -> Result<Engine, RedactError> {
        let keys = KeyMatcher::new(&config.extra_keys)?;
        let mut builder = RuleListBuilder::new(strictness);

        for rule in VALUE_RULES {
            builder.add_builtin(rule)?;
        }
        for (name, pattern) in &config.extra_patterns {
            builder.add_extra(name, pattern)?;
        }
        for rule in GENERIC_RULES {
            builder.add_builtin(rule)?;
        }
        let stems = stem_alternation(keys.stems());
        let spellings = stem_spellings(keys.stems());
        builder.add_generated(
            "key-value",
            &key_value_pattern(&stems),
            RuleKind::KeyValue,
            &key_value_hints(&spellings),
        )?;
        builder.add_generated(
            "cli-flag",
            &cli_flag_pattern(&stems),
            RuleKind::CliFlag,
            &cli_flag_hints(&spellings),
        )?;

        let aws_context = match Regex::new(AWS_CONTEXT) {
            Ok(regex) => Some(regex),
            Err(error) if strictness == Strictness::Strict => {
                return Err(RedactError::BuiltIn {
                    name: "aws-secret-key".to_owned(),
                    message: error.to_string(),
                });
            }
            Err(_) => {
                builder.disabled.push("aws-secret-key".to_owned());
                None
            }
        };

        let prefilter = Prefilter::build(builder.hints, strictness)?;
        let has_unhinted = builder.rules.iter().any(|rule| rule.bit.is_none());
        Ok(Engine {
            rules: builder.rules,
            prefilter,
            has_unhinted,
            allow: config.allow.iter().cloned().collect(),
            keys,
            aws_context,
            disabled: builder.disabled,
        })
    }

    /// Only the key-name rules: the last resort if even the lenient build failed.
    pub(crate) fn keys_only() -> Engine {
        Engine {
            rules: Vec::new(),
            prefilter: Prefilter {
                automaton: None,
                masks: Vec::new(),
                hints: Vec::new(),
                all: 0,
            },
            has_unhinted: false,
            allow: HashSet::new(),
            keys: KeyMatcher::new(&[]).unwrap_or_else(|_| KeyMatcher::empty()),
            aws_context: None,
            disabled: vec!["all value rules".to_owned()],
        }
    }

    pub(crate) fn disabled(&self) -> &[String] {
        &self.disabled
    }

    /// Names of the value rules in the order they run (key-name families are listed separately).
    pub(crate) fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .filter(|rule| matches!(rule.kind, RuleKind::Pattern(_)))
            .map(|rule| rule.name.as_str())
    }

    pub(crate) fn is_allowed(&self, value: &str) -> bool {
        !self.allow.is_empty() && self.allow.contains(value)
    }

    /// Replaces every secret found by the value rules in `text`.
    pub(crate) fn redact_text(
        &self,
        text: &mut String,
        pointer: &str,
        report: &mut RedactionReport,
    ) {
        if text.is_empty() || is_plain_data_uri(text) {
            return;
        }
        let mask = self.prefilter.scan(text);
        if mask == 0 && !self.has_unhinted {
            return;
        }
        for rule in &self.rules {
            let enabled = match rule.bit {
                Some(bit) => mask & (1u128 << bit) != 0,
                None => true,
            };
            if enabled
                && rule
                    .requires
                    .is_none_or(|byte| text.as_bytes().contains(&byte))
            {
                self.apply(rule, text, pointer, report);
            }
        }
    }

    /// A string under a secret key: the value goes (keeping an HTTP auth scheme in front of it),
    /// named after the most specific rule that recognises the whole value, else after the key.
    pub(crate) fn redact_keyed(
        &self,
        class: KeyClass,
        text: &mut String,
        pointer: &str,
        report: &mut RedactionReport,
    ) {
        let scheme_len = auth_scheme_len(text);
        let body = text.get(scheme_len..).unwrap_or_default();
        if !value_is_secret(class, body, ValueForm::Quoted)
            || self.is_allowed(body)
            || self.is_allowed(text)
        {
            self.redact_text(text, pointer, report);
            return;
        }
        // The scheme is part of the probe so that `Basic <base64>` can be named `basic-auth`.
        let mut probe = text.clone();
        let mut probe_report = RedactionReport::default();
        self.redact_text(&mut probe, pointer, &mut probe_report);
        let scheme = text.get(..scheme_len).unwrap_or_default();
        let recognised = probe_report.total > 0
            && probe.starts_with(scheme)
            && probe.get(scheme_len..).is_some_and(is_marker_only);
        if recognised {
            *text = probe;
            report.merge(probe_report);
        } else {
            text.truncate(scheme_len);
            push_marker(text, class.name);
            report.record(pointer, class.name);
        }
    }

    fn apply(
        &self,
        rule: &CompiledRule,
        text: &mut String,
        pointer: &str,
        report: &mut RedactionReport,
    ) {
        // Computed on the first candidate only: most rules find nothing in clean text.
        let mut markers: Option<Vec<Range<usize>>> = None;
        let mut out: Option<String> = None;
        let mut last = 0;
        let mut locations = rule.regex.capture_locations();
        let mut candidates = Vec::new();
        for range in self.search_ranges(rule, text) {
            let Some(haystack) = text.get(..range.end) else {
                continue;
            };
            let mut at = range.start;
            while at <= haystack.len() {
                let Some(found) = rule.regex.captures_read_at(&mut locations, haystack, at) else {
                    break;
                };
                at = if found.is_empty() {
                    next_boundary(haystack, found.end())
                } else {
                    found.end()
                };
                if let Some(hit) = self.confirm(rule, &locations, text) {
                    candidates.push(hit);
                }
            }
        }
        for hit in candidates {
            if hit.span.is_empty() || hit.span.start < last {
                continue;
            }
            let markers = markers.get_or_insert_with(|| marker_spans(text));
            if touches_marker(markers, &hit.span, hit.may_cover_markers) {
                continue;
            }
            let (Some(before), Some(secret)) =
                (text.get(last..hit.span.start), text.get(hit.span.clone()))
            else {
                continue;
            };
            if self.is_allowed(secret) {
                continue;
            }
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(before);
            push_marker(buf, hit.rule);
            last = hit.span.end;
            report.record(pointer, hit.rule);
        }
        if let Some(mut buf) = out {
            buf.push_str(text.get(last..).unwrap_or_default());
            *text = buf;
        }
    }

    /// The key ending at `stem` and its class. The key is the run of name characters before the
    /// stem (`db.password`, `OPENAI_API_KEY`); if that is only the end of a multi-word spelling
    /// (`key`), up to two more words joined by single blanks are tried (`API key`,
    /// `secret access key`), shortest first.
    fn classify_text_key(
        &self,
        text: &str,
        stem: Range<usize>,
    ) -> Option<(Range<usize>, KeyClass)> {
        let mut start = key_start(text, stem.start);
        for _ in 0..3 {
            let key = text.get(start..stem.end)?;
            if let Some(class) = self.keys.classify(key) {
                return Some((start..stem.end, class));
            }
            if !self.keys.is_partial_ending(key) {
                return None;
            }
            let blank = start.checked_sub(1)?;
            if text.as_bytes().get(blank) != Some(&b' ') {
                return None;
            }
            let word_start = key_start(text, blank);
            if word_start == blank {
                return None;
            }
            start = word_start;
        }
        None
    }

    /// Where `rule` may match: the whole text, except for the AWS secret key rule, whose candidates
    /// (any 40-character base64 run) are only looked for around AWS words, widened to whole runs.
    fn search_ranges(&self, rule: &CompiledRule, text: &str) -> Vec<Range<usize>> {
        let (RuleKind::Pattern(Check::AwsSecret), Some(context)) = (rule.kind, &self.aws_context)
        else {
            return std::iter::once(0..text.len()).collect();
        };
        let bytes = text.as_bytes();
        let is_run_byte = |index: usize| {
            bytes
                .get(index)
                .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+'))
        };
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for found in context.find_iter(text) {
            // A window edge inside a base64 run moves to the run's edge: outwards if the run may be
            // a 40-character candidate, inwards (dropping it) if it is longer than that anyway.
            let mut start = found.start().saturating_sub(AWS_CONTEXT_WINDOW);
            let outside =
                (1..=AWS_SECRET_LEN + 1).find(|&back| start < back || !is_run_byte(start - back));
            match outside {
                Some(back) => start -= back - 1,
                None => {
                    while is_run_byte(start) {
                        start += 1;
                    }
                }
            }
            let mut end = found
                .end()
                .saturating_add(AWS_CONTEXT_WINDOW)
                .min(bytes.len());
            let outside = (0..=AWS_SECRET_LEN).find(|&ahead| !is_run_byte(end + ahead));
            match outside {
                Some(ahead) => end += ahead,
                None => {
                    while end > start && is_run_byte(end - 1) {
                        end -= 1;
                    }
                }
            }
            let (start, end) = (
                floor_boundary(text, start),
                ceil_boundary(text, end.max(start)),
            );
            match ranges.last_mut() {
                Some(previous) if start <= previous.end => previous.end = previous.end.max(end),
                _ => ranges.push(start..end),
            }
        }
        ranges
    }

    fn confirm<'a>(
        &'a self,
        rule: &'a CompiledRule,
        found: &CaptureLocations,
        text: &str,
    ) -> Option<Hit<'a>> {
        let span = |group: Option<usize>| {
            group
                .and_then(|index| found.get(index))
                .map(|(start, end)| start..end)
        };
        match rule.kind {
            RuleKind::Pattern(check) => {
                let range = span(rule.groups.secret).or_else(|| span(Some(0)))?;
                let secret = text.get(range.clone())?;
                if is_placeholder(secret) || !self.passes(check, secret, text, range.clone()) {
                    return None;
                }
                Some(Hit {
                    span: range,
                    rule: &rule.name,
                    may_cover_markers: false,
                })
            }
            RuleKind::KeyValue | RuleKind::CliFlag => {
                // The pattern starts at the secret spelling (a literal the regex engine can search
                // for fast); the key is that spelling plus the name characters before it.
                let stem = span(rule.groups.key)?;
                let (key_range, class) = if rule.kind == RuleKind::CliFlag {
                    let key_range = key_start(text, stem.start)..stem.end;
                    let key = text.get(key_range.clone())?;
                    if !is_cli_flag(text, key_range.start, key) {
                        return None;
                    }
                    (key_range, self.keys.classify(key)?)
                } else {
                    self.classify_text_key(text, stem)?
                };
                let after_colon = span(rule.groups.sep)
                    .and_then(|sep| text.get(sep))
                    .is_some_and(|sep| sep == ":");
                let (value, form) = match rule
                    .groups
                    .quoted
                    .iter()
                    .find_map(|&group| span(Some(group)))
                {
                    Some(value) => (value, ValueForm::Quoted),
                    None => (span(rule.groups.bare)?, ValueForm::Unquoted { after_colon }),
                };
                let value_text = text.get(value.clone())?;
                if !value_is_secret(class, value_text, form)
                    || (form != ValueForm::Quoted
                        && self.looks_like_code(value_text, text, value.end))
                {
                    return None;
                }
                let mut range = value;
                if rule.kind == RuleKind::KeyValue
                    && after_colon
                    && class.to_line_end
                    && form != ValueForm::Quoted
                {
                    // A header quoted as a whole (`-H 'Cookie: a=1; b=2'`) ends at its quote.
                    let opener = text
                        .get(..key_range.start)
                        .and_then(|before| before.chars().next_back())
                        .filter(|c| matches!(c, '"' | '\''));
                    range.end = line_end(text, range.end, opener);
                }
                Some(Hit {
                    span: range,
                    rule: class.name,
                    may_cover_markers: true,
                })
            }
        }
    }

    /// An unquoted value that is source code rather than a secret: a call or an index
    /// (`os.getenv(...)`, `os.environ[...]`), a dotted name (`process.env.API_KEY`), a keyword
    /// (`await`, `str`), or a variable itself named like a secret (`password == confirm_password`).
    /// Coding agents put a lot of code in traces; `api_key=[REDACTED:api-key]('X')` helps nobody.
    fn looks_like_code(&self, value: &str, text: &str, end: usize) -> bool {
        let next = text.get(end..).and_then(|rest| rest.chars().next());
        if matches!(next, Some('(' | '[')) {
            return true;
        }
        if CODE_WORDS
            .iter()
            .any(|word| value.eq_ignore_ascii_case(word))
        {
            return true;
        }
        let dotted_name = value.contains('.')
            && value.split('.').all(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                    && chars.all(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            });
        dotted_name || self.keys.classify(value).is_some()
    }

    fn passes(&self, check: Check, secret: &str, text: &str, span: Range<usize>) -> bool {
        match check {
            Check::Pattern => true,
            Check::Generated => looks_generated(secret),
            Check::BasicAuth => looks_like_basic_credentials(secret),
            Check::AwsSecret => looks_like_aws_secret(secret) && self.near_aws_context(text, span),
        }
    }

    /// Whether an AWS word occurs within [`AWS_CONTEXT_WINDOW`] bytes before or after `span`
    /// (the candidate itself is not searched: random base64 may spell `aws`).
    fn near_aws_context(&self, text: &str, span: Range<usize>) -> bool {
        let Some(context) = &self.aws_context else {
            return false;
        };
        let start = floor_boundary(text, span.start.saturating_sub(AWS_CONTEXT_WINDOW));
        let end = ceil_boundary(text, span.end.saturating_add(AWS_CONTEXT_WINDOW));
        let before = text.get(start..span.start).unwrap_or_default();
        let after = text.get(span.end..end).unwrap_or_default();
        context.is_match(before) || context.is_match(after)
    }
}

/// Collects compiled rules and their hints while an [`Engine`] is built.
struct RuleListBuilder {
    strictness: Strictness,
    rules: Vec<CompiledRule>,
    hints: HashMap<String, u128>,
    next_bit: u32,
    disabled: Vec<String>,
}

impl RuleListBuilder {
    fn new(strictness: Strictness) -> RuleListBuilder {
        RuleListBuilder {
            strictness,
            rules: Vec::new(),
            hints: HashMap::new(),
            next_bit: 0,
            disabled: Vec::new(),
        }
    }

    fn add_builtin(&mut self, rule: &ValueRule) -> Result<(), RedactError> {
        let hints: Vec<String> = rule.hints.iter().map(|hint| (*hint).to_owned()).collect();
        self.add_generated(
            rule.name,
            rule.pattern,
            RuleKind::Pattern(rule.check),
            &hints,
        )?;
        if let Some(added) = self
            .rules
            .last_mut()
            .filter(|added| added.name == rule.name)
        {
            added.requires = rule.requires;
        }
        Ok(())
    }

    fn add_generated(
        &mut self,
        name: &str,
        pattern: &str,
        kind: RuleKind,
        hints: &[String],
    ) -> Result<(), RedactError> {
        let regex = match Regex::new(pattern) {
            Ok(regex) => regex,
            Err(error) if self.strictness == Strictness::Strict => {
                return Err(RedactError::BuiltIn {
                    name: name.to_owned(),
                    message: error.to_string(),
                });
            }
            Err(_) => {
                self.disabled.push(name.to_owned());
                return Ok(());
            }
        };
        let groups = Groups::of(&regex, "s", kind);
        self.push(name, regex, groups, kind, hints);
        Ok(())
    }

    fn add_extra(&mut self, name: &str, pattern: &str) -> Result<(), RedactError> {
        if !is_valid_rule_name(name) {
            return Err(RedactError::InvalidRuleName {
                name: name.to_owned(),
            });
        }
        let regex = RegexBuilder::new(pattern)
            .size_limit(EXTRA_PATTERN_SIZE_LIMIT)
            .build()
            .map_err(|source| RedactError::InvalidPattern {
                name: name.to_owned(),
                source,
            })?;
        if regex.is_match("") {
            return Err(RedactError::EmptyMatch {
                name: name.to_owned(),
            });
        }
        let kind = RuleKind::Pattern(Check::Pattern);
        let groups = Groups::of(&regex, "secret", kind);
        self.push(name, regex, groups, kind, &[]);
        Ok(())
    }

    fn push(&mut self, name: &str, regex: Regex, groups: Groups, kind: RuleKind, hints: &[String]) {
        let bit = if hints.is_empty() || self.next_bit >= u128::BITS {
            None
        } else {
            let bit = self.next_bit;
            self.next_bit += 1;
            for hint in hints {
                *self.hints.entry(hint.to_ascii_lowercase()).or_insert(0) |= 1u128 << bit;
            }
            Some(bit)
        };
        self.rules.push(CompiledRule {
            name: name.to_owned(),
            regex,
            groups,
            kind,
            bit,
            requires: None,
        });
    }
}

/// Rule names: 1 to [`MAX_RULE_NAME`] characters of `a-z`, `0-9` and `-`, starting with a letter
/// or digit (they go inside markers, which must stay recognisable).
pub(crate) fn is_valid_rule_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_RULE_NAME
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `key|KEY|Key|password|PASSWORD|Password|...`: the last word of every key spelling, in the
/// three usual cases. Plain literals let the regex engine find candidates with a vectorised
/// search; the whole key is then rebuilt leftwards and classified ([`KeyMatcher::classify`]), so
/// `monkey=` or `keyboard:` go no further. (A key cased like `PassWord` is not found in text.)
fn stem_alternation(stems: &[Vec<String>]) -> String {
    let mut alternatives: Vec<String> = Vec::new();
    for word in stems.iter().filter_map(|words| words.last()) {
        let lower = word.to_lowercase();
        let mut capitalised: String = lower.chars().take(1).flat_map(char::to_uppercase).collect();
        capitalised.extend(lower.chars().skip(1));
        for form in [word.to_uppercase(), capitalised, lower] {
            alternatives.push(regex::escape(&form));
        }
    }
    alternatives.sort();
    alternatives.dedup();
    // Longest first, so `secrets` is preferred to `secret` at the same position.
    alternatives.sort_by_key(|alternative| std::cmp::Reverse(alternative.len()));
    alternatives.join("|")
}

/// Every literal spelling of every key stem: each separator between its words (`api_key`,
/// `api-key`, `apikey`, `api.key`, `api key`). Stems of more than three words contribute their
/// longest word instead (a sound, if broader, hint).
fn stem_spellings(stems: &[Vec<String>]) -> Vec<String> {
    const SEPARATORS: [&str; 5] = ["", "_", "-", ".", " "];
    let mut spellings: Vec<String> = Vec::new();
    for words in stems {
        let Some((first, rest)) = words.split_first() else {
            continue;
        };
        if rest.len() > 2 {
            spellings.extend(words.iter().max_by_key(|word| word.len()).cloned());
            continue;
        }
        let mut variants = vec![first.clone()];
        for word in rest {
            variants = variants
                .iter()
                .flat_map(|prefix| {
                    SEPARATORS
                        .iter()
                        .map(move |sep| format!("{prefix}{sep}{word}"))
                })
                .collect();
        }
        spellings.extend(variants);
    }
    spellings.sort();
    spellings.dedup();
    spellings
}

/// Hints for `key=value` pairs: a spelling followed by what can follow a key in the pattern
/// (a separator, a closing quote, an escape, blanks). Prose such as "the token limit" or
/// "reset your password" then never runs the pattern.
fn key_value_hints(spellings: &[String]) -> Vec<String> {
    const FOLLOWERS: [&str; 10] = ["=", ":", "\"", "'", "\\", " =", " :", "  ", "\t", " \t"];
    spellings
        .iter()
        .flat_map(|spelling| {
            FOLLOWERS
                .iter()
                .map(move |follower| format!("{spelling}{follower}"))
        })
        .collect()
}

/// Hints for `--flag value`: the spelling right after a dash (`--password`, `--db-password`).
fn cli_flag_hints(spellings: &[String]) -> Vec<String> {
    spellings
        .iter()
        .map(|spelling| format!("-{spelling}"))
        .collect()
}

/// Schemes allowed (and kept) between a key and its value: `Authorization: Bearer <secret>`.
fn scheme_pattern() -> String {
    let schemes: Vec<String> = AUTH_SCHEMES
        .iter()
        .map(|scheme| regex::escape(scheme))
        .collect();
    format!("(?:(?i:{})[ \\t]+)?", schemes.join("|"))
}

/// `key=value`, `key: value`, `"key": "value"`, `'key': 'value'`, `key => value`, `\"key\": \"value\"`
/// (JSON inside a JSON string), where `key` ends with a secret spelling. The value groups are
/// `v1` (double-quoted), `v2` (escaped double quotes), `v3` (single-quoted), `v4` (bare word).
fn key_value_pattern(stems: &str) -> String {
    let scheme = scheme_pattern();
    format!(
        concat!(
            r#"(?P<key>{stems})(?:\\?["'])?[ \t]*(?P<sep>=>|:=|=|:)[ \t]*"#,
            r#"(?:\\"{scheme}(?P<v2>(?:[^"\\\r\n]|\\[^"\r\n])*)\\""#,
            r#"|"{scheme}(?P<v1>(?:[^"\\\r\n]|\\.)*)""#,
            r#"|'{scheme}(?P<v3>[^'\r\n]*)'"#,
            r#"|{scheme}(?P<v4>[^\s"'`,;&<>(){{}}\[\]\\]+))"#,
        ),
        stems = stems,
        scheme = scheme,
    )
}

/// `--password value`, `-token value` (the `--password=value` form is a key-value pair).
fn cli_flag_pattern(stems: &str) -> String {
    format!(
        r#"(?P<key>{stems})[ \t]+(?:"(?P<v1>[^"\r\n]*)"|'(?P<v2>[^'\r\n]*)'|(?P<v3>[^\s"'\-][^\s"']*))"#
    )
}

/// Whether a value found under a secret key really is a secret rather than a placeholder, a
/// count, an auth scheme name or a word of prose.
pub(crate) fn value_is_secret(class: KeyClass, value: &str, form: ValueForm) -> bool {
    let value = value.trim();
    if value.is_empty() || is_placeholder(value) {
        return false;
    }
    if AUTH_SCHEMES
        .iter()
        .any(|scheme| value.eq_ignore_ascii_case(scheme))
    {
        return false;
    }
    if class.policy == ValuePolicy::Credential
        && (value.chars().any(char::is_whitespace) || value.chars().count() < 6)
    {
        return false;
    }
    if let ValueForm::Unquoted { after_colon } = form {
        if is_number(value) {
            return class.numbers;
        }
        if value.chars().count() < 3 {
            return false;
        }
        let word = value.trim_end_matches(|c: char| c.is_ascii_punctuation());
        if after_colon
            && PROSE_WORDS
                .iter()
                .any(|prose| word.eq_ignore_ascii_case(prose))
        {
            return false;
        }
    }
    true
}

fn is_number(value: &str) -> bool {
    value.bytes().any(|b| b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E' | b'_'))
}

/// Values that stand for a secret without being one: masks, variable references, nulls and
/// markers. Left in place so a reader still sees `${OPENAI_API_KEY}` or `****`.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() || is_marker_only(value) {
        return true;
    }
    if value.chars().all(|c| matches!(c, '*' | '•' | '·' | '●')) {
        return true;
    }
    let wrapped = |open: &str, close: &str| {
        value.len() > open.len() + close.len() && value.starts_with(open) && value.ends_with(close)
    };
    if wrapped("${", "}") || wrapped("{{", "}}") || wrapped("<", ">") || wrapped("%", "%") {
        return true;
    }
    if let Some(name) = value.strip_prefix('$') {
        let mut chars = name.chars();
        if chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return true;
        }
    }
    const WORDS: [&str; 10] = [
        "null",
        "none",
        "nil",
        "undefined",
        "true",
        "false",
        "redacted",
        "[redacted]",
        "[filtered]",
        "<redacted>",
    ];
    WORDS.iter().any(|word| value.eq_ignore_ascii_case(word))
}

/// At least 8 characters with a letter, and a digit or (from 16 characters) both cases: what a
/// generated token looks like, and what an English word after `Bearer` does not.
pub(crate) fn looks_generated(value: &str) -> bool {
    let (mut len, mut digit, mut upper, mut lower) = (0usize, false, false, false);
    for c in value.chars() {
        len += 1;
        digit |= c.is_ascii_digit();
        upper |= c.is_ascii_uppercase();
        lower |= c.is_ascii_lowercase();
    }
    len >= 8 && (upper || lower) && (digit || (len >= 16 && upper && lower))
}

/// Base64 of printable `user:password` text, or a long generated-looking value.
fn looks_like_basic_credentials(value: &str) -> bool {
    if let Some(decoded) = decode_base64(value)
        && decoded.contains(&b':')
        && decoded.iter().all(|b| (0x20..0x7f).contains(b))
    {
        return true;
    }
    value.len() >= 16 && looks_generated(value) && value.bytes().any(|b| b.is_ascii_digit())
}

fn looks_like_aws_secret(value: &str) -> bool {
    value.len() == AWS_SECRET_LEN
        && value.bytes().any(|b| b.is_ascii_uppercase())
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && value
            .bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
}

/// Standard base64 with optional padding; `None` if `value` is not that.
fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let body = value.trim_end_matches('=');
    if body.len() % 4 == 1 || value.len() - body.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in body.bytes() {
        let sextet = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// `data:<type>/<subtype>;base64,<payload>` whose payload is nothing but base64: screenshots and
/// images, often most of a trace's bytes. No rule can match inside a base64 run (every pattern needs
/// a boundary or a character outside the alphabet), so such a string is skipped after one cheap pass.
fn is_plain_data_uri(text: &str) -> bool {
    const MARK: &[u8] = b";base64,";
    let Some(rest) = text.as_bytes().strip_prefix(b"data:") else {
        return false;
    };
    let head = rest.get(..rest.len().min(80)).unwrap_or_default();
    let Some(mark) = head.windows(MARK.len()).position(|window| window == MARK) else {
        return false;
    };
    let (media_type, payload) = (
        rest.get(..mark).unwrap_or_default(),
        rest.get(mark + MARK.len()..).unwrap_or_default(),
    );
    let media_type_ok = media_type.iter().filter(|b| **b == b'/').count() == 1
        && media_type
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'+' | b'-'));
    media_type_ok
        && payload
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Length of a leading HTTP auth scheme and the blanks after it (`Bearer `), or 0.
fn auth_scheme_len(text: &str) -> usize {
    let word_end = text.find(char::is_whitespace).unwrap_or(text.len());
    let word = text.get(..word_end).unwrap_or_default();
    if !AUTH_SCHEMES
        .iter()
        .any(|scheme| word.eq_ignore_ascii_case(scheme))
    {
        return 0;
    }
    let rest = text.get(word_end..).unwrap_or_default();
    let body = rest.trim_start();
    if body.is_empty() {
        return 0;
    }
    text.len() - body.len()
}

/// End of the line starting at `from`: a line break, a backslash (an escaped `\r\n` in
/// JSON-in-a-string), or the quote that opened the header, whichever comes first.
fn line_end(text: &str, from: usize, quote: Option<char>) -> usize {
    let rest = text.get(from..).unwrap_or_default();
    let end = rest
        .find(|c: char| matches!(c, '\r' | '\n' | '\\') || Some(c) == quote)
        .unwrap_or(rest.len());
    from + end
}

/// Appends `[REDACTED:<rule>]`.
pub(crate) fn push_marker(out: &mut String, rule: &str) {
    out.push_str(MARKER_PREFIX);
    out.push_str(rule);
    out.push(']');
}

/// Byte ranges of the well-formed markers in `text`.
pub(crate) fn marker_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for (start, _) in text.match_indices(MARKER_PREFIX) {
        let name_start = start + MARKER_PREFIX.len();
        let rest = text.as_bytes().get(name_start..).unwrap_or_default();
        let name_len = rest
            .iter()
            .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'-')
            .count();
        if (1..=MAX_RULE_NAME).contains(&name_len) && rest.get(name_len) == Some(&b']') {
            spans.push(start..name_start + name_len + 1);
        }
    }
    spans
}

/// Whether `text` holds at least one marker and nothing else but whitespace.
pub(crate) fn is_marker_only(text: &str) -> bool {
    let spans = marker_spans(text);
    if spans.is_empty() {
        return false;
    }
    let mut last = 0;
    for span in spans {
        if !text
            .get(last..span.start)
            .unwrap_or_default()
            .trim()
            .is_empty()
        {
            return false;
        }
        last = span.end;
    }
    text.get(last..).unwrap_or_default().trim().is_empty()
}

/// Whether `span` must be skipped because of markers: any overlap for a pattern hit; for a
/// key-value hit only a partial overlap (a value holding whole markers is redacted as a whole).
fn touches_marker(markers: &[Range<usize>], span: &Range<usize>, may_cover: bool) -> bool {
    markers.iter().any(|marker| {
        let overlaps = marker.start < span.end && span.start < marker.end;
        let covered = span.start <= marker.start && marker.end <= span.end;
        overlaps && !(may_cover && covered)
    })
}

/// Start of the key whose secret spelling starts at `stem_start`: name characters
/// (`A-Z a-z 0-9 _ . -`) are taken leftwards, so `db.password` or `OPENAI_API_KEY` is whole.
fn key_start(text: &str, stem_start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = stem_start.min(bytes.len());
    while start > 0
        && bytes
            .get(start - 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        start -= 1;
    }
    start
}

/// `--password` / `-token`: the key starts with one or two dashes, at the start of the text or
/// after a blank or a quote.
fn is_cli_flag(text: &str, key_start: usize, key: &str) -> bool {
    let dashes = key.bytes().take_while(|b| *b == b'-').count();
    let before = text
        .get(..key_start)
        .and_then(|head| head.chars().next_back());
    (1..=2).contains(&dashes) && before.is_none_or(|c| c.is_whitespace() || c == '"' || c == '\'')
}

/// The char boundary after `index` (to step over an empty match).
fn next_boundary(text: &str, index: usize) -> usize {
    text.get(index..)
        .and_then(|rest| rest.chars().next())
        .map_or(text.len() + 1, |c| index + c.len_utf8())
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while index < text.len() && !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    //! The non-overlapping hint search must never enable fewer rules than a plain search for every
    //! hint would: texts made of overlapping hint fragments are the hard case.

    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use proptest::prelude::*;

    use super::{Engine, Strictness};
    use crate::redact::RedactConfig;

    fn exact_mask(engine: &Engine, text: &str) -> u128 {
        let lower = text.to_ascii_lowercase();
        engine
            .prefilter
            .hints
            .iter()
            .filter(|(hint, _)| lower.contains(hint.as_str()))
            .fold(0, |mask, (_, bits)| mask | bits)
    }

    proptest! {
        #[test]
        fn the_fast_search_enables_every_rule_a_plain_search_would(
            pieces in prop::collection::vec((any::<prop::sample::Index>(), 0usize..8, 0usize..8, "[ =:a-z_-]{0,2}"), 1..12)
        ) {
            static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
            let engine = ENGINE.get_or_init(|| match Engine::build(&RedactConfig::default(), Strictness::Strict) {
                Ok(engine) => engine,
                Err(error) => panic!("built-in rules: {error}"),
            });
            let hints = &engine.prefilter.hints;
            let mut text = String::new();
            for (pick, cut_front, cut_back, glue) in pieces {
                let hint = &hints[pick.index(hints.len())].0;
                let end = hint.len().saturating_sub(cut_back % 3);
                let start = (cut_front % 4).min(end);
                text.push_str(hint.get(start..end).unwrap_or(hint));
                text.push_str(&glue);
            }
            let fast = engine.prefilter.scan(&text);
            let exact = exact_mask(engine, &text);
            prop_assert_eq!(fast & exact, exact, "text {:?}", text);
        }
    }
}
