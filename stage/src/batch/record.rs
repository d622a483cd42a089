//! Records: checking that a line is one JSON object, without re-serialising it.
//!
//! Owns the rule for what a stage accepts as a record (docs/staging.md): valid
//! UTF-8, exactly one JSON value, that value an object, no duplicate keys in
//! any object, nesting at most 128 deep (serde_json's limit), no `NaN` or
//! `Infinity`, and numbers representable as a double. The bytes are never
//! rewritten: key order, number spellings and big integers survive staging.
//!
//! serde_json is the judge of the grammar: a record is valid if it parses
//! (keys compared after unescaping). The number rule is decided here, not by
//! serde_json's features: a number whose value overflows a double (`1e400`)
//! is refused even where serde_json's `arbitrary_precision` (which the guest
//! SDK switches on in workspace builds) would take it ([`number_in_range`]). Every record `weir stage` reads and every record a
//! transform writes is checked, so most are first scanned by a plain
//! validator (`certainly_valid`) that accepts only what it is sure serde_json
//! accepts (keys without escapes, numbers far from a double's range, nesting
//! well inside the limit) at a fraction of a parse's cost; anything else,
//! and every bad record, goes through the parse, whose error names the
//! problem. The fuzz target `record_patch` holds the two to the same verdict.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

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
    check_text(text)
}

/// [`check_record`] on a line already known to be UTF-8.
pub fn check_text(line: &str) -> Result<(), RecordProblem> {
    if certainly_valid(line.as_bytes()) {
        return Ok(());
    }
    check_parsed(line)
}

/// [`check_record`] by a full parse every time: the same verdict, slower.
/// For tests and fuzzing, which hold the two to agree.
#[doc(hidden)]
pub fn check_record_by_parse(line: &[u8]) -> Result<(), RecordProblem> {
    let text = std::str::from_utf8(line).map_err(|e| RecordProblem::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    check_parsed(text)
}

fn check_parsed(text: &str) -> Result<(), RecordProblem> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_any(NestedVisitor)
        .map_err(|e| RecordProblem::BadJson(explain(text, &e)))?;
    de.end()
        .map_err(|e| RecordProblem::BadJson(e.to_string()))?;
    numbers_in_range(text.as_bytes()).map_err(RecordProblem::BadJson)?;
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

/// serde_json's message, and for the non-numbers Python's `json` and
/// pandas write (`NaN`, `Infinity`, `-Infinity`) what it is and the field
/// it is the value of, so a transform or export that emits one is told
/// where.
fn explain(text: &str, e: &serde_json::Error) -> String {
    let message = e.to_string();
    if e.line() != 1 {
        return message;
    }
    // The column is 1-based and counts bytes; serde_json stops at or just
    // after the token's first byte.
    let at = e.column().saturating_sub(1).min(text.len());
    let Some((start, token)) = ["-Infinity", "Infinity", "NaN"].iter().find_map(|t| {
        (at.saturating_sub(2)..=at)
            .find(|&i| text.get(i..).is_some_and(|rest| rest.starts_with(t)))
            .map(|i| (i, *t))
    }) else {
        return message;
    };
    match field_before(&text[..start]) {
        Some(field) => format!(
            "{token} is not a JSON number (the value of field \"{field}\"); write null or a string instead ({message})"
        ),
        None => format!("{token} is not a JSON number; write null or a string instead ({message})"),
    }
}

/// The key of the member whose value starts after `before`: the string
/// just before the last `:`, if `before` ends with `"key":`.
fn field_before(before: &str) -> Option<&str> {
    let key = before
        .trim_end()
        .strip_suffix(':')?
        .trim_end()
        .strip_suffix('"')?;
    let bytes = key.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        if bytes[i] == b'"' && (i == 0 || bytes[i - 1] != b'\\') {
            return Some(&key[i + 1..]);
        }
    }
    None
}

/// Whether a JSON number token's value is finite as a double: the rule for
/// every number of a record, whatever serde_json was built with. (Rust's
/// `f64` parse takes any length and rounds, overflowing to infinity.)
pub fn number_in_range(token: &str) -> bool {
    token.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Checks every number of `text`, valid JSON, with [`number_in_range`].
fn numbers_in_range(text: &[u8]) -> Result<(), String> {
    let mut at = 0;
    while at < text.len() {
        match text[at] {
            b'"' => {
                // Past the string: its closing quote is the first one not
                // escaped (the text is valid JSON).
                at += 1;
                while at < text.len() && text[at] != b'"' {
                    at += if text[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < text.len()
                    && matches!(text[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    at += 1;
                }
                let token = std::str::from_utf8(&text[start..at]).unwrap_or_default();
                if !number_in_range(token) {
                    return Err(format!(
                        "number out of range at column {}: {token}",
                        start + 1
                    ));
                }
            }
            _ => at += 1,
        }
    }
    Ok(())
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

/// Nesting deeper than this is left to the parse, which counts against
/// serde_json's limit of 128 exactly.
const SURE_DEPTH: usize = 100;

/// The most keys' room the scan keeps between records (256 kB).
const KEPT_KEYS: usize = 1 << 14;

/// Whether `line` is certainly a record by [`check_record`]'s rules, decided
/// by one scan of its bytes (already known to be UTF-8) that builds nothing:
/// `false` means "not sure", never "invalid". Sure of: JSON's grammar, the
/// escapes in strings (but not surrogate `\u` escapes), control characters,
/// duplicate keys written without escapes, numbers with fewer than 200
/// digits and an exponent of at most two digits, nesting up to
/// [`SURE_DEPTH`].
fn certainly_valid(line: &[u8]) -> bool {
    STACKS.with_borrow_mut(|stacks| {
        stacks.open.clear();
        stacks.keys.clear();
        let mut scan = Scan {
            bytes: line,
            at: 0,
            stacks,
            sets: Vec::new(),
        };
        let sure = scan.record().is_some();
        drop(scan);
        // A huge record (millions of keys) does not keep its memory for
        // the rest of the process.
        if stacks.keys.capacity() > KEPT_KEYS {
            stacks.keys = Vec::new();
        }
        if stacks.open.capacity() > SURE_DEPTH + 1 {
            stacks.open = Vec::new();
        }
        sure
    })
}

thread_local! {
    /// The scan's stacks, kept from one record to the next: checking a
    /// record allocates nothing (but for objects of many keys).
    static STACKS: RefCell<Stacks> = RefCell::default();
}

#[derive(Default)]
struct Stacks {
    /// The containers open around the scan, innermost last.
    open: Vec<Open>,
    /// The keys of the open objects, where each lies in the line.
    keys: Vec<Range<usize>>,
}

/// An open object or array.
struct Open {
    object: bool,
    /// Where its keys start in [`Stacks::keys`].
    first_key: usize,
    /// Past [`LINEAR_KEYS`] keys, an object's keys are also in a set: the
    /// last of [`Scan::sets`].
    wide: bool,
}

struct Scan<'a, 's> {
    bytes: &'a [u8],
    at: usize,
    stacks: &'s mut Stacks,
    sets: Vec<HashSet<&'a [u8]>>,
}

impl<'a> Scan<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Opens a container whose first member follows.
    fn open(&mut self, object: bool) -> Option<()> {
        if self.stacks.open.len() == SURE_DEPTH {
            return None;
        }
        self.stacks.open.push(Open {
            object,
            first_key: self.stacks.keys.len(),
            wide: false,
        });
        if object { self.key() } else { Some(()) }
    }

    /// The record: one object, and nothing but whitespace around it.
    fn record(&mut self) -> Option<()> {
        self.space();
        if self.peek()? != b'{' {
            return None;
        }
        // At the start of a value; a loop turn scans one value, opening or
        // closing containers as needed.
        loop {
            match self.peek()? {
                opening @ (b'{' | b'[') => {
                    let object = opening == b'{';
                    self.at += 1;
                    self.space();
                    if self.peek()? != if object { b'}' } else { b']' } {
                        self.open(object)?;
                        continue;
                    }
                    self.at += 1;
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                _ => self.number()?,
            }
            // After a value: the next one in its container, or the
            // container's end (and maybe the end of its parent, ...).
            loop {
                self.space();
                let Some(last) = self.stacks.open.last() else {
                    return (self.at == self.bytes.len()).then_some(());
                };
                match (self.peek()?, last.object) {
                    (b',', true) => {
                        self.at += 1;
                        self.space();
                        self.key()?;
                        break;
                    }
                    (b',', false) => {
                        self.at += 1;
                        self.space();
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        self.at += 1;
                        self.stacks.keys.truncate(last.first_key);
                        if last.wide {
                            self.sets.pop();
                        }
                        self.stacks.open.pop();
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A key of the innermost object, then its colon: a key new to that
    /// object.
    fn key(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at + 1;
        if self.string()? {
            // Escaped: its text is known only once unescaped.
            return None;
        }
        let range = start..self.at - 1;
        let key = &self.bytes[range.clone()];
        self.space();
        if self.peek()? != b':' {
            return None;
        }
        self.at += 1;
        self.space();
        let bytes = self.bytes;
        let object = self.stacks.open.last_mut()?;
        let siblings = &self.stacks.keys[object.first_key..];
        let new = if object.wide {
            self.sets.last_mut()?.insert(key)
        } else if siblings.len() < LINEAR_KEYS {
            !siblings.iter().any(|r| &bytes[r.clone()] == key)
        } else {
            let mut set: HashSet<&[u8]> = siblings.iter().map(|r| &bytes[r.clone()]).collect();
            let new = set.insert(key);
            self.sets.push(set);
            object.wide = true;
            new
        };
        self.stacks.keys.push(range);
        new.then_some(())
    }

    /// A string, from its opening quote: whether it holds escapes.
    fn string(&mut self) -> Option<bool> {
        self.at += 1;
        let mut escaped = false;
        loop {
            self.at = special_in_string(self.bytes, self.at)?;
            match self.bytes[self.at] {
                b'"' => {
                    self.at += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    match self.bytes.get(self.at + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                        b'u' => {
                            let hex = self.bytes.get(self.at + 2..self.at + 6)?;
                            let hex = std::str::from_utf8(hex).ok()?;
                            let unit = u16::from_str_radix(hex, 16).ok()?;
                            // Surrogates must pair up: the parse decides.
                            if (0xd800..0xe000).contains(&unit) || hex.starts_with('+') {
                                return None;
                            }
                            self.at += 6;
                        }
                        _ => return None,
                    }
                }
                // A control character, which JSON strings may not hold raw.
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.bytes[self.at..].starts_with(word) {
            return None;
        }
        self.at += word.len();
        Some(())
    }

    /// A number, far enough inside a double's range to be sure of.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = match self.peek()? {
            b'0' => {
                self.at += 1;
                1
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut fraction = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            fraction = self.digits();
            if fraction == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            // At most two digits: the value lies within 10^±(200 + 99).
            if !(1..=2).contains(&self.digits()) {
                return None;
            }
        }
        (digits + fraction < 200).then_some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }
}

/// The first quote, backslash or control character at or after `from`:
/// eight bytes at a time (bit tricks on a `u64`), then byte by byte.
pub(super) fn special_in_string(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte that is below `n` (or of a byte above the
    // first such one: only the lowest flag is exact, and only it is used).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(chunk);
        let x = u64::from_le_bytes(eight);
        let found = below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
            | below(x, 0x20);
        if found != 0 {
            return Some(i + found.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    let rest = bytes.get(i..)?;
    rest.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|n| i + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_numbers_name_the_field_they_are_the_value_of() {
        for (line, want) in [
            (
                r#"{"id":1,"score":NaN}"#,
                r#"NaN is not a JSON number (the value of field "score")"#,
            ),
            (
                r#"{"a": {"b" : -Infinity}}"#,
                r#"-Infinity is not a JSON number (the value of field "b")"#,
            ),
            (
                r#"{"x":Infinity,"y":1}"#,
                r#"Infinity is not a JSON number (the value of field "x")"#,
            ),
            (r#"{"v":[1,NaN]}"#, "NaN is not a JSON number; write null"),
        ] {
            let got = check_record(line.as_bytes()).unwrap_err().to_string();
            assert!(
                got.starts_with(&format!("invalid JSON: {want}")),
                "{line}: {got}"
            );
        }
        let plain = check_record(b"{\"a\":nope}").unwrap_err().to_string();
        assert!(!plain.contains("not a JSON number"), "{plain}");
    }

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
    fn numbers_overflowing_a_double_are_refused_whatever_serde_json_was_built_with() {
        // Refused by a default serde_json, accepted by one with
        // `arbitrary_precision`: the rule is Weir's, so both refuse.
        for bad in [
            &b"{\"n\":1e400}"[..],
            b"{\"n\":-1.5E+309}",
            b"{\"a\":[1,{\"n\":1e999}]}",
        ] {
            assert!(problem(bad).contains("out of range"), "{}", problem(bad));
            assert!(check_record_by_parse(bad).is_err());
        }
        let long_integer = format!("{{\"n\":1{}}}", "0".repeat(400));
        assert!(check_record(long_integer.as_bytes()).is_err());
        for ok in [
            &b"{\"n\":1e-400}"[..],
            b"{\"n\":1.7976931348623157e308}",
            b"{\"s\":\"1e400 \\\" 1e999\"}",
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
    fn the_quick_scan_is_sure_of_ordinary_records() {
        for ok in [
            &b"{}"[..],
            b" {\"id\": 1, \"ts\": \"2026-11-26T00:00:00Z\", \"n\": -0.5e-3, \"big\": 12345678901234567890123}\t",
            b"{\"text\":\"caf\xc3\xa9 \\\"quoted\\\" \\n \\u00e9 \\/\",\"a\":[1,[],{},[true,false,null]],\"o\":{\"a\":{\"a\":0}}}",
            b"{\"a\":{\"x\":1},\"b\":{\"x\":2},\"x\":3}",
        ] {
            assert!(certainly_valid(ok), "{}", String::from_utf8_lossy(ok));
        }
        let wide: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(certainly_valid(
            format!("{{{}}}", wide.join(",")).as_bytes()
        ));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(90), "]".repeat(90));
        assert!(certainly_valid(deep.as_bytes()));
    }

    #[test]
    fn the_quick_scan_leaves_what_it_cannot_be_sure_of_to_the_parse() {
        for (line, valid) in [
            (&b"{\"a\\u0062\":1}"[..], true),
            (b"{\"s\":\"\\ud83d\\ude00\"}", true),
            (b"{\"s\":\"\\ud83d\"}", false),
            (b"{\"n\":1e100}", true),
            (b"{\"n\":01}", false),
            (b"{\"a\":1,}", false),
            (b"{\"a\":[1,]}", false),
            (b"{\"a\":tru}", false),
            (b"{\"a\":\"\x01\"}", false),
            (b"{\"a\":\"\\x\"}", false),
            (b"{\"a\":\"\\u+123\"}", false),
            (b"{\"a\":1,\"a\":2}", false),
        ] {
            let text = String::from_utf8_lossy(line);
            assert!(!certainly_valid(line), "{text}");
            assert_eq!(check_record(line).is_ok(), valid, "{text}");
        }
        // Out of a double's range: refused, unless serde_json is built with
        // `arbitrary_precision` (as in a workspace build with the SDK); the
        // scan leaves it to the parse either way.
        let line = b"{\"n\":1e400}";
        assert!(!certainly_valid(line));
        assert_eq!(check_record(line), check_record_by_parse(line));
    }

    /// A small xorshift: `below(n)` is uniform enough for tests.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    const KEYS: [&str; 6] = ["a", "b", "text", "\\u0061", "a\\n", "é"];
    const STRINGS: [&str; 9] = [
        "",
        "x y",
        "café",
        "\\\"",
        "\\n\\t\\/",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\\ud800",
        "\\udc00x",
    ];
    const NUMBERS: [&str; 12] = [
        "0",
        "-1",
        "1.5",
        "-0.0e+0",
        "12345678901234567890123",
        "1e99",
        "1E-99",
        "1e400",
        "2e308",
        "0.1e-330",
        "123456789e300",
        "7",
    ];
    const NOISE: [&str; 14] = [
        "{", "}", "[", "]", ",", ":", " ", "\"", "\\", "\u{1}", "01", "nul", "e", ".",
    ];

    fn value(rng: &mut Rng, depth: usize, out: &mut String) {
        match rng.below(if depth > 3 { 4 } else { 6 }) {
            0 => out.push_str(rng.pick(&NUMBERS)),
            1 => out.push_str(rng.pick(&["true", "false", "null"])),
            2 | 3 => {
                out.push('"');
                out.push_str(rng.pick(&STRINGS));
                out.push('"');
            }
            4 => {
                out.push('[');
                for i in 0..rng.below(4) {
                    if i > 0 {
                        out.push(',');
                    }
                    value(rng, depth + 1, out);
                }
                out.push(']');
            }
            _ => object(rng, depth + 1, out),
        }
    }

    fn object(rng: &mut Rng, depth: usize, out: &mut String) {
        out.push('{');
        for i in 0..rng.below(5) {
            if i > 0 {
                out.push(',');
            }
            out.push_str(["", " "][rng.below(2)]);
            out.push('"');
            out.push_str(rng.pick(&KEYS));
            out.push_str("\":");
            value(rng, depth, out);
        }
        out.push('}');
    }

    /// Random records, a third of them then broken by a random edit:
    /// whatever the quick scan is sure of, the parse accepts, and the two
    /// checks agree.
    #[test]
    fn the_quick_scan_never_accepts_what_the_parse_refuses() {
        let mut rng = Rng(0x5eed_cafe);
        let (mut sure, mut valid) = (0, 0);
        for _ in 0..100_000 {
            let mut line = String::new();
            object(&mut rng, 0, &mut line);
            if rng.below(3) == 0 {
                let mut at = rng.below(line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                if rng.below(2) == 0 && at < line.len() {
                    line.remove(at);
                } else {
                    line.insert_str(at, rng.pick(&NOISE));
                }
            }
            let quick = certainly_valid(line.as_bytes());
            let parsed = check_record_by_parse(line.as_bytes()).is_ok();
            assert!(!quick || parsed, "the quick scan accepted {line:?}");
            assert_eq!(check_record(line.as_bytes()).is_ok(), parsed, "{line:?}");
            sure += usize::from(quick);
            valid += usize::from(parsed);
        }
        // Both kinds of line were made, and many valid ones took the quick way.
        assert!(valid > 20_000 && valid < 90_000, "{valid} valid");
        assert!(sure * 3 > valid, "{sure} of {valid} valid lines were sure");
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(problem(deep.as_bytes()).contains("recursion limit"));
    }
}
