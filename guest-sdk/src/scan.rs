//! Finding the fields of a record by scanning its text, without parsing it.
//!
//! A transform that looks at one or two fields of a wide record (a
//! spellchecker on `text`, a classifier on `subject`) pays mostly for
//! turning the whole record into a [`serde_json::Value`] and back. Here one
//! scan of a record's text ([`Members`]) checks all of it as serde_json
//! would and notes where each top-level value is, skipping every other value
//! without building it; [`Members::locate`] then finds a [`FieldPath`] among
//! them, and a `Patch` writes the record back with only its changes.
//!
//! Where the text is not simple enough to be sure of what a parse would
//! read (it is not well formed, the path runs into something that is not an
//! object, a key on the path is repeated, an object on the path has a key
//! written with escapes, or a key is one serde_json reads as a number or raw
//! value in disguise), the scan answers [`Unsure`] and the transform should
//! parse the record instead, which reports the problem the usual way.
//! Repeated keys elsewhere in the record, which staged data never holds
//! (staging refuses them), are copied as they are, where a parse would keep
//! one of them.
//!
//! This module knows records as text: it imports `bytes` and `field`, and
//! nothing of records, outputs, patches, chunks or the host.

use std::borrow::Cow;
use std::ops::Range;

use crate::bytes::{STRING_SPECIAL, find, has, has_below};
use crate::field::FieldPath;

/// A value found in a record's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<'a> {
    text: &'a str,
    span: Range<usize>,
}

impl<'a> Located<'a> {
    /// The value's JSON text, as it is in the record.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Where that text is in the record, in bytes.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The value, if it is a string: borrowed from the record unless it
    /// holds escapes.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        let inner = self.text.strip_prefix('"')?.strip_suffix('"')?;
        if find(inner.as_bytes(), 0, |x| has(x, b'\\'), |b| b == b'\\').is_none() {
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(self.text)
            .ok()
            .map(Cow::Owned)
    }
}

/// Why a value could not be located by scanning: parse the record instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsure;

/// A record's top-level members, found by one scan of its text (which
/// checks all of it): where each key's value is. Fields are located among
/// them without scanning the record again, and a `Patch` is built on them.
/// Made by `Record::members`.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    /// The record's text.
    text: &'a str,
    /// Each member's key (its text between the quotes) and value, as spans.
    list: Vec<(Range<usize>, Range<usize>)>,
    /// Where the record's closing brace is.
    close: usize,
    /// The whitespace between tokens, in order.
    spaces: Vec<Range<usize>>,
}

impl<'a> Members<'a> {
    /// Scans a record's text once for its top-level members.
    ///
    /// # Errors
    ///
    /// [`Unsure`] when the text is not a well-formed JSON object, or one of
    /// its top-level keys is written with escapes (nested objects may have
    /// them).
    pub(crate) fn scan(text: &'a str) -> Result<Members<'a>, Unsure> {
        let bytes = text.as_bytes();
        let mut noted = Vec::new();
        let spaces = &mut noted;
        let open = skip_space(bytes, 0, spaces);
        // Room for the members of most records: one allocation.
        let mut list = Vec::with_capacity(16);
        let close = walk_object(bytes, open, 0, false, spaces, |key, value| {
            list.push((key, value));
            Ok(())
        })?;
        if skip_space(bytes, close + 1, spaces) != bytes.len() {
            return Err(Unsure);
        }
        Ok(Members {
            text,
            list,
            close,
            spaces: noted,
        })
    }

    /// The record's text, as scanned.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// Whether the record has no members.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Where the record's closing brace is, in bytes.
    pub(crate) fn close(&self) -> usize {
        self.close
    }

    /// The whitespace runs between the record's tokens, in order.
    pub(crate) fn spaces(&self) -> &[Range<usize>] {
        &self.spaces
    }

    /// The value of top-level `key`, if there is one.
    ///
    /// # Errors
    ///
    /// [`Unsure`] when the record has `key` twice.
    pub(crate) fn member(&self, key: &str) -> Result<Option<Located<'a>>, Unsure> {
        let bytes = self.text.as_bytes();
        let mut found = None;
        for (k, value) in &self.list {
            if &bytes[k.clone()] == key.as_bytes() {
                if found.is_some() {
                    return Err(Unsure);
                }
                found = Some(value.clone());
            }
        }
        Ok(found.map(|span| Located {
            text: &self.text[span.clone()],
            span,
        }))
    }

    /// Finds the value at `path`, or `None` if the field (or an object on
    /// its path) is absent.
    ///
    /// # Errors
    ///
    /// [`Unsure`] when an object on the path is something else, a key on
    /// the path is repeated, or one of the keys of an object on the path is
    /// written with escapes: parse the record (with `Record::parse` and
    /// [`FieldPath::find_mut`]) for the error message or the parser's
    /// reading.
    pub fn locate(&self, path: &FieldPath) -> Result<Option<Located<'a>>, Unsure> {
        let bytes = self.text.as_bytes();
        let (first, rest) = path.keys().split_first().ok_or(Unsure)?;
        let Some(Located { mut span, .. }) = self.member(first)? else {
            return Ok(None);
        };
        for (depth, key) in rest.iter().enumerate() {
            match scan_object(bytes, span.start, key, depth + 1)? {
                Some(inner) => span = inner,
                None => return Ok(None),
            }
        }
        Ok(Some(Located {
            text: &self.text[span.clone()],
            span,
        }))
    }
}

/// serde_json's recursion limit: deeper records are left to it.
const MAX_DEPTH: usize = 127;

/// Walks the object starting at `open` (it must be one), `depth` objects
/// and arrays deep, checking all of it, and calls `member` with each
/// member's key (its text between the quotes) and value, as spans. Returns
/// where the object's `}` is. A key written with escapes is [`Unsure`]
/// unless `escaped_keys` (serde_json writes the keys of a changed object
/// anew, `"\u0074ext"` as `"text"`, so a patch could not copy them).
fn walk_object<S: Spaces>(
    bytes: &[u8],
    open: usize,
    depth: usize,
    escaped_keys: bool,
    spaces: &mut S,
    mut member: impl FnMut(Range<usize>, Range<usize>) -> Result<(), Unsure>,
) -> Result<usize, Unsure> {
    if bytes.get(open) != Some(&b'{') || depth >= MAX_DEPTH {
        return Err(Unsure);
    }
    let mut at = skip_space(bytes, open + 1, spaces);
    if bytes.get(at) == Some(&b'}') {
        return Ok(at);
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return Err(Unsure);
        }
        let key_end = skip_string(bytes, at)?;
        let key = at + 1..key_end - 1;
        let escaped = bytes[key.clone()].contains(&b'\\');
        if (escaped && !escaped_keys) || is_serde_token(&bytes[at..key_end], escaped) {
            return Err(Unsure);
        }
        let colon = skip_space(bytes, key_end, spaces);
        if bytes.get(colon) != Some(&b':') {
            return Err(Unsure);
        }
        let start = skip_space(bytes, colon + 1, spaces);
        let end = skip_value(bytes, start, depth + 1, spaces)?;
        member(key, start..end)?;
        at = skip_space(bytes, end, spaces);
        match bytes.get(at) {
            Some(b',') => at = skip_space(bytes, at + 1, spaces),
            Some(b'}') => return Ok(at),
            _ => return Err(Unsure),
        }
    }
}

/// Whether the key token (quotes included) is one of the keys serde_json
/// reads as a number or raw value in disguise (`"$serde_json::private::..."`,
/// however escaped): a record holding one parses differently.
fn is_serde_token(token: &[u8], escaped: bool) -> bool {
    const PREFIX: &str = "$serde_json::private::";
    if escaped {
        serde_json::from_slice::<String>(token).is_ok_and(|key| key.starts_with(PREFIX))
    } else {
        token[1..].starts_with(PREFIX.as_bytes())
    }
}

/// The span of the value of member `key` of the object starting at `open`
/// (text scanned before, so its whitespace is not noted again); a repeated
/// `key` is [`Unsure`].
fn scan_object(
    bytes: &[u8],
    open: usize,
    key: &str,
    depth: usize,
) -> Result<Option<Range<usize>>, Unsure> {
    let mut found = None;
    walk_object(bytes, open, depth, false, &mut Ignore, |k, value| {
        if &bytes[k] == key.as_bytes() {
            if found.is_some() {
                return Err(Unsure);
            }
            found = Some(value);
        }
        Ok(())
    })?;
    Ok(found)
}

fn skip_space<S: Spaces>(bytes: &[u8], mut at: usize, spaces: &mut S) -> usize {
    let start = at;
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    if at > start {
        spaces.note(start..at);
    }
    at
}

/// Where the scan notes the whitespace between tokens, so that a patch can
/// copy the record without it in runs, not byte by byte.
trait Spaces {
    fn note(&mut self, run: Range<usize>);
}

impl Spaces for Vec<Range<usize>> {
    fn note(&mut self, run: Range<usize>) {
        self.push(run);
    }
}

/// For rescans of text whose whitespace was noted already.
struct Ignore;

impl Spaces for Ignore {
    fn note(&mut self, _: Range<usize>) {}
}

/// The end of the JSON value starting at `at`, checked as serde_json checks
/// it (but for repeated keys in objects off the path, which it takes too).
fn skip_value<S: Spaces>(
    bytes: &[u8],
    at: usize,
    depth: usize,
    spaces: &mut S,
) -> Result<usize, Unsure> {
    match bytes.get(at) {
        Some(b'"') => skip_string(bytes, at),
        // An object off the path: checked, no key looked for, keys written
        // with escapes allowed (a patch copies such an object whole).
        Some(b'{') => {
            walk_object(bytes, at, depth, true, spaces, |_, _| Ok(())).map(|close| close + 1)
        }
        Some(b'[') => {
            if depth >= MAX_DEPTH {
                return Err(Unsure);
            }
            let mut i = skip_space(bytes, at + 1, spaces);
            if bytes.get(i) == Some(&b']') {
                return Ok(i + 1);
            }
            loop {
                i = skip_space(bytes, skip_value(bytes, i, depth + 1, spaces)?, spaces);
                match bytes.get(i) {
                    Some(b',') => i = skip_space(bytes, i + 1, spaces),
                    Some(b']') => return Ok(i + 1),
                    _ => return Err(Unsure),
                }
            }
        }
        Some(b't') => skip_literal(bytes, at, b"true"),
        Some(b'f') => skip_literal(bytes, at, b"false"),
        Some(b'n') => skip_literal(bytes, at, b"null"),
        Some(b'-' | b'0'..=b'9') => skip_number(bytes, at),
        _ => Err(Unsure),
    }
}

fn skip_literal(bytes: &[u8], at: usize, literal: &[u8]) -> Result<usize, Unsure> {
    match bytes.get(at..at + literal.len()) {
        Some(found) if found == literal => Ok(at + literal.len()),
        _ => Err(Unsure),
    }
}

/// A number as JSON spells it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn skip_number(bytes: &[u8], at: usize) -> Result<usize, Unsure> {
    let digits = |mut i: usize| -> Result<usize, Unsure> {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start { Err(Unsure) } else { Ok(i) }
    };
    let mut i = at + usize::from(bytes[at] == b'-');
    i = match bytes.get(i) {
        Some(b'0') => i + 1,
        _ => digits(i)?,
    };
    if bytes.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
    }
    Ok(i)
}

/// The end of the string token starting at `at` (a `"`), checked: no raw
/// control characters, only JSON's escapes, surrogates in pairs.
fn skip_string(bytes: &[u8], at: usize) -> Result<usize, Unsure> {
    let mut i = at + 1;
    loop {
        // Plain characters in one go.
        i = find(
            bytes,
            i,
            |x| has(x, b'"') | has(x, b'\\') | has_below(x, 0x20),
            |b| STRING_SPECIAL[usize::from(b)],
        )
        .ok_or(Unsure)?;
        match bytes.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let unit = hex4(bytes, i + 2)?;
                    i += 6;
                    if (0xdc00..0xe000).contains(&unit) {
                        return Err(Unsure);
                    }
                    if (0xd800..0xdc00).contains(&unit) {
                        if bytes.get(i..i + 2) != Some(b"\\u") {
                            return Err(Unsure);
                        }
                        if !(0xdc00..0xe000).contains(&hex4(bytes, i + 2)?) {
                            return Err(Unsure);
                        }
                        i += 6;
                    }
                }
                _ => return Err(Unsure),
            },
            Some(&b) if b < 0x20 => return Err(Unsure),
            Some(_) => i += 1,
            None => return Err(Unsure),
        }
    }
}

fn hex4(bytes: &[u8], at: usize) -> Result<u32, Unsure> {
    let digits = bytes.get(at..at + 4).ok_or(Unsure)?;
    let mut unit = 0;
    for &d in digits {
        unit = unit * 16 + char::from(d).to_digit(16).ok_or(Unsure)?;
    }
    Ok(unit)
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::Value;

    use super::*;
    use crate::random::XorShift;

    pub(crate) fn path(text: &str) -> FieldPath {
        FieldPath::try_from(text.to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The value at `path` in `line`: one scan, then [`Members::locate`].
    pub(crate) fn locate<'a>(
        path: &FieldPath,
        line: &'a str,
    ) -> Result<Option<Located<'a>>, Unsure> {
        Members::scan(line)?.locate(path)
    }

    /// Random records: the same on every run.
    impl XorShift {
        pub(crate) fn space(&mut self, out: &mut String) {
            out.push_str(["", "", " ", "\t", "\n ", "\r\n"][self.below(6)]);
        }

        /// A JSON value with random spacing, escapes and number spellings,
        /// and objects without repeated keys.
        pub(crate) fn value(&mut self, depth: usize, out: &mut String) {
            match self.below(if depth > 2 { 4 } else { 6 }) {
                0 => out
                    .push_str(["1", "-0.5", "1E3", "2e-5", "12.50", "true", "null"][self.below(7)]),
                1..=3 => out.push_str(
                    [
                        r#""teh text""#,
                        r#""caf\u00e9 \"q\" a\/b\n""#,
                        r#""{not: [an object]}""#,
                        r#""""#,
                        r#""back\\slash""#,
                        r#""\ud83d\ude00 ok""#,
                    ][self.below(6)],
                ),
                4 => {
                    out.push('[');
                    for i in 0..self.below(3) {
                        if i > 0 {
                            out.push(',');
                        }
                        self.space(out);
                        self.value(depth + 1, out);
                        self.space(out);
                    }
                    out.push(']');
                }
                _ => self.object(depth + 1, out),
            }
        }

        pub(crate) fn object(&mut self, depth: usize, out: &mut String) {
            let mut keys = vec![
                r#""a""#,
                r#""text""#,
                r#""\u0074ext""#,
                r#""b""#,
                r#""c.d""#,
            ];
            out.push('{');
            for i in 0..self.below(4) {
                if i > 0 {
                    out.push(',');
                }
                self.space(out);
                let key = keys.remove(self.below(keys.len()));
                // "text" and "\u0074ext" are one key: keep only one of them.
                keys.retain(|k| !(key.contains("ext") && k.contains("ext")));
                out.push_str(key);
                self.space(out);
                out.push(':');
                self.space(out);
                self.value(depth, out);
                self.space(out);
                if keys.is_empty() {
                    break;
                }
            }
            out.push('}');
        }
    }

    #[test]
    fn locate_accepts_no_text_the_parser_refuses() {
        let mut rng = XorShift::new(0xbad);
        let noise = b"{}[]:,\"\\ u0e.-+9aEtfn\x01";
        let mut refused = 0;
        for _ in 0..20_000 {
            let mut line = String::new();
            rng.object(0, &mut line);
            let mut bytes = line.into_bytes();
            for _ in 0..1 + rng.below(2) {
                let at = rng.below(bytes.len());
                bytes[at] = noise[rng.below(noise.len())];
            }
            let Ok(line) = String::from_utf8(bytes) else {
                continue;
            };
            let parsed = serde_json::from_str::<Value>(&line);
            for path in [path("text"), path("a.text")] {
                if locate(&path, &line).is_ok() {
                    assert!(parsed.is_ok(), "{line:?} located at {path}, but {parsed:?}");
                }
            }
            refused += usize::from(parsed.is_err());
        }
        assert!(
            refused > 5_000,
            "only {refused} broken records: the noise is off"
        );
    }

    #[test]
    fn what_cannot_be_scanned_safely_is_left_to_the_parser() {
        let record = |line| locate(&path("a.b"), line);
        assert_eq!(record(r#"{"a":1}"#), Err(Unsure));
        assert_eq!(record(r#"{"a":{"b":1},"a":{"b":2}}"#), Err(Unsure));
        assert_eq!(record(r#"{"a":{"b":1}"#), Err(Unsure));
        assert_eq!(record(r#"{"a":{"b":"x}}"#), Err(Unsure));
        assert_eq!(record(r#"{"a":{"b":1}} x"#), Err(Unsure));
        assert_eq!(record(r#"{"a":{"b":"\ud800"}}"#), Err(Unsure));
        assert_eq!(record(r#"{"a":{"b":01}}"#), Err(Unsure));
        assert_eq!(record(r#"{"a":{"c":1}}"#), Ok(None));
        // Keys serde_json reads as a number or raw value in disguise.
        assert_eq!(
            record(r#"{"$serde_json::private::RawValue":"1"}"#),
            Err(Unsure)
        );
        assert_eq!(
            record(r#"{"x":{"\u0024serde_json::private::Number":"1"}}"#),
            Err(Unsure)
        );
        let found = record(r#" { "a" : { "b" : "x\"y" } } "#);
        assert_eq!(
            found.map(|f| f.map(|f| f.as_str().map(Cow::into_owned))),
            Ok(Some(Some("x\"y".to_owned())))
        );
    }
}
