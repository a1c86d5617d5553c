//! Input limits and the checks that run before a document is decoded.
//!
//! The checks are ordered so that the cheapest refusal comes first and so that hostile input
//! (a binary file, invalid UTF-8, 100,000 levels of nesting) is refused by a linear scan before the
//! JSON parser ever recurses into it.

use crate::error::IngestError;

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;

/// The deepest nesting the JSON parser itself can take; `max_depth` may not exceed it.
pub const PARSER_MAX_DEPTH: u32 = 127;

/// Limits on what one ingest may contain. Defaults follow the security guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A whole request body or uploaded file (after decompression).
    pub max_body_bytes: u64,
    /// One trace document.
    pub max_trace_bytes: u64,
    /// Steps in one trace.
    pub max_steps: u32,
    /// Nesting of JSON arrays and objects.
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * MIB,
            max_trace_bytes: 5 * MIB,
            max_steps: 1000,
            max_depth: 100,
        }
    }
}

impl Limits {
    /// Checks that the limits can be enforced; returns what to fix otherwise.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_depth == 0 || self.max_depth > PARSER_MAX_DEPTH {
            return Err(format!(
                "max depth must be between 1 and {PARSER_MAX_DEPTH}, got {}",
                self.max_depth
            ));
        }
        if self.max_trace_bytes == 0 || self.max_body_bytes == 0 || self.max_steps == 0 {
            return Err("size and step limits must be greater than zero".to_owned());
        }
        Ok(())
    }
}

/// Strips a UTF-8 byte order mark, which some editors on Windows write.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// Runs every check that needs no parsing: emptiness, size, "is this JSON at all", UTF-8 and
/// nesting depth. On success the bytes are valid UTF-8 JSON text that the parser can take safely.
pub fn precheck<'a>(bytes: &'a [u8], limits: &Limits) -> Result<&'a str, IngestError> {
    let bytes = strip_bom(bytes);
    let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Err(IngestError::Empty);
    };
    if !matches!(bytes[first], b'{' | b'[') && !is_json_scalar(bytes, limits) {
        return Err(IngestError::NotJson {
            found: describe_start(&bytes[first..]),
        });
    }
    if bytes.len() as u64 > limits.max_trace_bytes {
        return Err(IngestError::TooLarge {
            what: "the trace document",
            limit: limits.max_trace_bytes,
            found: bytes.len() as u64,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| IngestError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    check_depth(text, limits.max_depth)?;
    Ok(text)
}

/// Whether a document that does not start like an object or array is still JSON (a lone number,
/// string or literal): then it is JSON that is not a trace (422), not something else (415).
fn is_json_scalar(bytes: &[u8], limits: &Limits) -> bool {
    bytes.len() as u64 <= limits.max_trace_bytes
        && serde_json::from_slice::<serde_json::Value>(bytes)
            .is_ok_and(|v| !v.is_array() && !v.is_object())
}

/// A short, safe description of how a non-JSON input begins (never its content beyond a known
/// file signature), for the error message.
fn describe_start(bytes: &[u8]) -> String {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG image signature"),
        (b"\xFF\xD8\xFF", "a JPEG image signature"),
        (b"GIF8", "a GIF image signature"),
        (b"%PDF", "a PDF signature"),
        (b"PK\x03\x04", "a ZIP archive signature"),
        (
            b"\x1F\x8B",
            "a gzip signature (send it with Content-Encoding: gzip)",
        ),
        (b"\x28\xB5\x2F\xFD", "a zstd signature"),
        (b"<", "'<' (HTML or XML?)"),
    ];
    for (signature, description) in SIGNATURES {
        if bytes.starts_with(signature) {
            return (*description).to_owned();
        }
    }
    match bytes.first() {
        Some(b) if b.is_ascii_graphic() => format!("the character {:?}", char::from(*b)),
        Some(b) => format!("the byte 0x{b:02X}"),
        None => "nothing".to_owned(),
    }
}

/// Refuses nesting deeper than `limit` with a linear scan that understands strings and escapes.
/// Inside strings, where most of an agent trace's bytes are, it jumps from quote to backslash
/// with `memchr` instead of looking at every byte.
pub fn check_depth(text: &str, limit: u32) -> Result<(), IngestError> {
    let bytes = text.as_bytes();
    let mut depth: u32 = 0;
    let mut offset = 0;
    while offset < bytes.len() {
        match bytes[offset] {
            b'"' => {
                // Skip to the closing quote, stepping over escaped characters.
                let mut cursor = offset + 1;
                loop {
                    let rest = bytes.get(cursor..).unwrap_or_default();
                    match memchr::memchr2(b'"', b'\\', rest) {
                        Some(i) if rest[i] == b'\\' => cursor += i + 2,
                        Some(i) => {
                            cursor += i;
                            break;
                        }
                        None => {
                            cursor = bytes.len();
                            break;
                        }
                    }
                }
                offset = cursor + 1;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    let (line, column) = line_column(text, offset);
                    return Err(IngestError::TooDeep {
                        limit,
                        line,
                        column,
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        offset += 1;
    }
    Ok(())
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Parses checked text into a JSON value, turning parser errors into [`IngestError::Malformed`].
pub fn parse_json(text: &str) -> Result<serde_json::Value, IngestError> {
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        // serde_json appends " at line X column Y"; we report those as fields instead.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        IngestError::Malformed {
            message,
            line: e.line(),
            column: e.column(),
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn refuses_deep_nesting_without_recursing() {
        let text = "[".repeat(100_000);
        let err = precheck(text.as_bytes(), &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            IngestError::TooDeep {
                limit: 100,
                line: 1,
                column: 101
            }
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = format!("{{\"a\": \"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(precheck(text.as_bytes(), &Limits::default()).is_ok());
    }

    #[test]
    fn classifies_non_json() {
        let png = b"\x89PNG\r\n\x1a\n\0\0";
        match precheck(png, &Limits::default()) {
            Err(IngestError::NotJson { found }) => assert!(found.contains("PNG")),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            precheck(b"  \n", &Limits::default()),
            Err(IngestError::Empty)
        );
        assert_eq!(
            precheck(b"{\"a\": \"\xff\"}", &Limits::default()),
            Err(IngestError::InvalidUtf8 { offset: 7 })
        );
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let err = parse_json("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        match err {
            IngestError::Malformed { line, column, .. } => assert_eq!((line, column), (3, 7)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
    }
}
