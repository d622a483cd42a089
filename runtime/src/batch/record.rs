//! Records: checking that a line is one JSON object, without re-serialising it.
//!
//! Owns the rule for what a stage accepts as a record (docs/staging.md): valid
//! UTF-8, exactly one JSON value, that value an object, no duplicate keys in
//! any object, nesting at most 128 deep (serde_json's limit), no `NaN` or
//! `Infinity`, and numbers representable as a double. The bytes are never
//! rewritten: key order, number spellings and big integers survive staging.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Why a line is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    /// The bytes are not UTF-8; `valid_up_to` bytes are.
    NotUtf8 {
        /// The length of the valid prefix.
        valid_up_to: usize,
    },
    /// Not JSON, or JSON Weir refuses (duplicate keys, too deep).
    BadJson(String),
    /// Valid JSON, but not an object.
    NotAnObject(&'static str),
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 { valid_up_to } => {
                write!(f, "invalid UTF-8 after byte {valid_up_to}")
            }
            Self::BadJson(m) => write!(f, "invalid JSON: {m}"),
            Self::NotAnObject(kind) => write!(f, "a JSON {kind} where an object belongs"),
        }
    }
}

/// Checks that `line` (without its line end) is a single JSON object.
pub fn check_record(line: &[u8]) -> Result<(), RecordProblem> {
    let text = std::str::from_utf8(line).map_err(|e| RecordProblem::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_any(NestedVisitor)
        .map_err(|e| RecordProblem::BadJson(e.to_string()))?;
    de.end()
        .map_err(|e| RecordProblem::BadJson(e.to_string()))?;
    // The value is valid JSON; its first byte says what it is. (Not a
    // visitor: with serde_json's `arbitrary_precision`, which a workspace
    // build may switch on, numbers are visited as maps.)
    match text.trim_start().as_bytes().first() {
        Some(b'{') => Ok(()),
        Some(b'[') => Err(RecordProblem::NotAnObject("array")),
        Some(b'"') => Err(RecordProblem::NotAnObject("string")),
        Some(b't' | b'f') => Err(RecordProblem::NotAnObject("boolean")),
        Some(b'n') => Err(RecordProblem::NotAnObject("null")),
        _ => Err(RecordProblem::NotAnObject("number")),
    }
}

/// Walks any nested value, checking the objects inside it for duplicate keys.
struct Nested;

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(NestedVisitor)
    }
}

struct NestedVisitor;

impl<'de> Visitor<'de> for NestedVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        check_map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        check_seq(seq)
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

fn check_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element_seed(Nested)?.is_some() {}
    Ok(())
}

/// A key, borrowed from the input unless it had escapes. Two keys are the
/// same if their text is, however each was written (`"text"` and
/// `"\u0074ext"` are one key).
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key<'_> {}

impl std::hash::Hash for Key<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// Objects with more keys than this are checked with a hash set.
const LINEAR_KEYS: usize = 16;

fn check_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    let mut keys: Vec<Key<'de>> = Vec::new();
    let mut set: Option<HashSet<Key<'de>>> = None;
    while let Some(key) = map.next_key::<Key<'de>>()? {
        let duplicate = match &mut set {
            Some(set) => set.contains(&key),
            None => keys.iter().any(|k| k.as_str() == key.as_str()),
        };
        if duplicate {
            return Err(de::Error::custom(format_args!(
                "duplicate key {:?}",
                key.as_str()
            )));
        }
        map.next_value_seed(Nested)?;
        match &mut set {
            Some(set) => {
                set.insert(key);
            }
            None if keys.len() < LINEAR_KEYS => keys.push(key),
            None => {
                let mut s: HashSet<Key<'de>> = keys.drain(..).collect();
                s.insert(key);
                set = Some(s);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: &[u8]) -> String {
        match check_record(line) {
            Ok(()) => panic!("{:?} accepted", String::from_utf8_lossy(line)),
            Err(p) => p.to_string(),
        }
    }

    #[test]
    fn accepts_objects_with_big_numbers_and_escapes() {
        for ok in [
            &b"{}"[..],
            b"{\"a\":123456789012345678901234567890,\"b\":1.50}",
            b"{\"a\\u0062\":1,\"ac\":2}",
            b"  {\"nested\":{\"x\":[1,{\"y\":null}]}}  ",
        ] {
            assert_eq!(check_record(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(problem(b"[1,2]").contains("array"));
        assert!(problem(b"42").contains("number"));
        assert!(problem(b"\"s\"").contains("string"));
        assert!(problem(b"null").contains("null"));
        assert!(problem(b"{\"a\":1").contains("invalid JSON"));
        assert!(problem(b"{\"a\":NaN}").contains("invalid JSON"));
        assert!(problem(b"{\"a\":Infinity}").contains("invalid JSON"));
        assert!(problem(b"{} {}").contains("trailing"));
        assert!(problem(b"{\"a\":\xff}").contains("invalid UTF-8 after byte 5"));
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        assert!(problem(b"{\"a\":1,\"a\":2}").contains("duplicate key \"a\""));
        assert!(problem(b"{\"o\":[{\"k\":1,\"k\":1}]}").contains("duplicate key \"k\""));
        // An escaped spelling of the same key is the same key.
        assert!(problem(b"{\"ab\":1,\"a\\u0062\":2}").contains("duplicate key"));
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let line = format!("{{{},\"k7\":0}}", many.join(","));
        assert!(problem(line.as_bytes()).contains("duplicate key \"k7\""));
        // Past the linear check too, an escaped spelling is the same key.
        let line = format!("{{{},\"k\\u0037\":0}}", many.join(","));
        assert!(
            problem(line.as_bytes()).contains("duplicate key \"k7\""),
            "{line}"
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(problem(deep.as_bytes()).contains("recursion limit"));
    }
}
