//! Keyset pagination cursors: the position after the last item of a page, sent to clients as an
//! opaque token so the encoding can change without breaking them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The position of a trace in the newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at_us: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.created_at_us, self.id))
    }

    /// Reads a token made by [`Cursor::encode`]; `None` for anything else.
    pub fn decode(token: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (time, id) = text.split_once(':')?;
        if id.is_empty() || id.len() > 64 {
            return None;
        }
        Some(Cursor {
            created_at_us: time.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let cursor = Cursor {
            created_at_us: 1_705_329_022_123_456,
            id: "0190f3a2-7b7c-7cc0-8000-1234567890ab".to_owned(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
