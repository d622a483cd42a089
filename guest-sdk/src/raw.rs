//! Reading and changing a few fields of a record without parsing all of it.
//!
//! A transform that looks at one or two fields of a wide record (a
//! spellchecker on `text`, a classifier on `subject`) pays mostly for
//! turning the whole record into a [`serde_json::Value`] and back. Here a
//! [`FieldPath`] is found by scanning the record's text, skipping every
//! other value without building it ([`FieldPath::locate`]), and a [`Patch`]
//! writes the record back with only the changed values written anew.
//!
//! The output is what [`Output::emit_from`](crate::Output::emit_from) would
//! write for the same change made to the parsed record: compact, every
//! untouched value spelled as in the input, a changed value as serde_json
//! writes it, an existing key's new value in its old place and a new
//! top-level key at the end. Where the text is not simple enough to be sure
//! of that (it is not well formed, the path runs into something that is not
//! an object, a key on the path is repeated, an object on the path has a key
//! written with escapes, or a key is one serde_json reads as a number or raw
//! value in disguise), `locate` says so with an
//! error and the transform should parse the record instead, which reports
//! the problem the usual way. Repeated keys elsewhere in the record, which
//! staged data never holds (staging refuses them), are copied as they are,
//! where a parse would keep one of them.
//!
//! The scan finds quotes, backslashes and line ends eight bytes at a time
//! (SWAR on `u64`: wasm32 has 64-bit integers but `str`'s searches go a
//! 32-bit word at a time there); the chunk loop cuts its input into lines
//! with the same search (`lines`). This module knows records as text and
//! nothing of chunks, the host or any transform; it leans on `record` only
//! for `emit_from`'s rules, which a patch must follow.

use std::borrow::Cow;
use std::ops::Range;

use serde::Serialize;

use crate::record::{respells_only_whitespace, splice};
use crate::{Error, FieldPath, Record};

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
/// them without scanning the record again, and a [`Patch`] is built on them.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    record: Record<'a>,
    /// Each member's key (its text between the quotes) and value, as spans.
    list: Vec<(Range<usize>, Range<usize>)>,
    /// Where the record's closing brace is.
    close: usize,
    /// The whitespace between tokens, in order.
    spaces: Vec<Range<usize>>,
}

impl<'a> Record<'a> {
    /// Scans the record's text once for its top-level members.
    ///
    /// # Errors
    ///
    /// [`Unsure`] when the text is not a well-formed JSON object, or one of
    /// its top-level keys is written with escapes (nested objects may have
    /// them): parse the record instead.
    pub fn members(self) -> Result<Members<'a>, Unsure> {
        let bytes = self.as_str().as_bytes();
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
            record: self,
            list,
            close,
            spaces: noted,
        })
    }
}

impl<'a> Members<'a> {
    /// The record scanned.
    pub fn record(&self) -> Record<'a> {
        self.record
    }

    /// The span of the value of top-level `key`, if there is one.
    fn top(&self, key: &str) -> Result<Option<Range<usize>>, Unsure> {
        let bytes = self.record.as_str().as_bytes();
        let mut found = None;
        for (k, value) in &self.list {
            if &bytes[k.clone()] == key.as_bytes() {
                if found.is_some() {
                    return Err(Unsure);
                }
                found = Some(value.clone());
            }
        }
        Ok(found)
    }

    /// Finds the value at `path`, or `None` if the field (or an object on
    /// its path) is absent.
    ///
    /// # Errors
    ///
    /// [`Unsure`] when an object on the path is something else, a key on
    /// the path is repeated, or one of the keys of an object on the path is
    /// written with escapes: parse the record (with [`Record::parse`] and
    /// [`FieldPath::find_mut`]) for the error message or the parser's
    /// reading.
    pub fn locate(&self, path: &FieldPath) -> Result<Option<Located<'a>>, Unsure> {
        let text = self.record.as_str();
        let bytes = text.as_bytes();
        let (first, rest) = path.keys().split_first().ok_or(Unsure)?;
        let Some(mut span) = self.top(first)? else {
            return Ok(None);
        };
        for (depth, key) in rest.iter().enumerate() {
            match scan_object(bytes, span.start, key, depth + 1)? {
                Some(inner) => span = inner,
                None => return Ok(None),
            }
        }
        Ok(Some(Located {
            text: &text[span.clone()],
            span,
        }))
    }
}

impl FieldPath {
    /// Finds the value at this path in `record`'s text, or `None` if the
    /// field (or an object on its path) is absent: [`Record::members`],
    /// then [`Members::locate`]. To find several fields of a record, scan
    /// it once with [`Record::members`].
    ///
    /// # Errors
    ///
    /// As [`Record::members`] and [`Members::locate`].
    pub fn locate<'a>(&self, record: Record<'a>) -> Result<Option<Located<'a>>, Unsure> {
        record.members()?.locate(self)
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

/// Changes to one record's values, written with
/// [`Output::emit_patched`](crate::Output::emit_patched).
#[derive(Debug)]
pub struct Patch<'a> {
    source: Members<'a>,
    /// Spans of the source and the JSON text replacing each.
    replacements: Vec<(Range<usize>, String)>,
    /// New top-level members: key and value, as JSON text.
    appended: Vec<(String, String)>,
}

impl<'a> Patch<'a> {
    /// No changes to the scanned record yet.
    pub fn new(source: Members<'a>) -> Self {
        Self {
            source,
            replacements: Vec::new(),
            appended: Vec::new(),
        }
    }

    /// The record being patched.
    pub fn record(&self) -> Record<'a> {
        self.source.record
    }

    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.replacements.is_empty() && self.appended.is_empty()
    }

    /// Replaces a located value with `value`.
    ///
    /// # Errors
    ///
    /// `value` fails to serialize, `located` is not a value of this record,
    /// or it overlaps a value already replaced.
    pub fn replace<T: Serialize + ?Sized>(
        &mut self,
        located: &Located<'_>,
        value: &T,
    ) -> Result<(), Error> {
        let span = located.span();
        let record = self.source.record.as_str();
        if record.get(span.clone()) != Some(located.text()) {
            return Err(Error::new(format!(
                "the located value (bytes {}..{}) is not from this record",
                span.start, span.end
            )));
        }
        if self
            .replacements
            .iter()
            .any(|(other, _)| other.start < span.end && span.start < other.end)
        {
            return Err(Error::new(format!(
                "a patch changes the same part of the record twice (bytes {}..{})",
                span.start, span.end
            )));
        }
        let json = self.respelled(located.text(), value)?;
        self.replacements.push((span, json));
        Ok(())
    }

    /// `value` as JSON text in place of `old` (a value's text in the
    /// record), as `emit_from` writes it: where the record holds an escape
    /// or an exponent, `emit_from` keeps the old spelling of every part of
    /// the new value equal to the old one (`"\u0041"` for an `"A"`, an
    /// object's member order, `1E3` for what it would write `1e+3`), which
    /// only an object, an array, a string with escapes or a number with an
    /// exponent can differ in; otherwise it writes the value anew.
    fn respelled<T: Serialize + ?Sized>(&self, old: &str, value: &T) -> Result<String, Error> {
        let may_differ = match old.as_bytes().first() {
            Some(b'{' | b'[') => true,
            Some(b'"') => old.contains('\\'),
            Some(b'-' | b'0'..=b'9') => old.contains(['e', 'E']),
            _ => false,
        };
        if !may_differ || respells_only_whitespace(self.source.record.as_str().as_bytes()) {
            return Ok(serde_json::to_string(value)?);
        }
        let old_value: serde_json::Value = serde_json::from_str(old)?;
        let mut out = Vec::new();
        splice(&mut out, &serde_json::to_value(value)?, &old_value, old)?;
        String::from_utf8(out).map_err(|e| Error::new(e.to_string()))
    }

    /// The value at `path` in the record: [`Members::locate`].
    ///
    /// # Errors
    ///
    /// As [`Members::locate`].
    pub fn locate(&self, path: &FieldPath) -> Result<Option<Located<'a>>, Unsure> {
        self.source.locate(path)
    }

    /// Sets the top-level field `key` to `value`: in its place if the record
    /// has it, else as a new last member.
    ///
    /// # Errors
    ///
    /// `value` fails to serialize; the record has `key` twice; the field
    /// overlaps a value already replaced.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        let existing = self
            .source
            .top(key)
            .map_err(|Unsure| Error::new(format!("the record has the key `{key}` twice")))?;
        match existing {
            Some(span) => {
                let located = Located {
                    text: &self.source.record.as_str()[span.clone()],
                    span,
                };
                self.replace(&located, value)
            }
            None => {
                let json = serde_json::to_string(value)?;
                // Set again: the new value, in the same place.
                match self.appended.iter_mut().find(|(k, _)| k == key) {
                    Some((_, old)) => *old = json,
                    None => self.appended.push((key.to_owned(), json)),
                }
                Ok(())
            }
        }
    }

    /// Writes the patched record, compact, into `out`.
    pub(crate) fn write(&mut self, out: &mut Vec<u8>) {
        let raw = self.source.record.as_str().as_bytes();
        let spaces = &self.source.spaces;
        let mut next_space = 0;
        out.reserve(raw.len());
        self.replacements.sort_by_key(|(span, _)| span.start);
        let mut copied = 0;
        for (span, json) in &self.replacements {
            copy_without(out, raw, copied..span.start, spaces, &mut next_space);
            out.extend_from_slice(json.as_bytes());
            copied = span.end;
        }
        if self.appended.is_empty() {
            copy_without(out, raw, copied..raw.len(), spaces, &mut next_space);
            return;
        }
        let close = self.source.close;
        copy_without(out, raw, copied..close, spaces, &mut next_space);
        let mut comma = !self.source.list.is_empty();
        for (key, json) in &self.appended {
            if comma {
                out.push(b',');
            }
            comma = true;
            // A string always serializes.
            if let Ok(key) = serde_json::to_string(key) {
                out.extend_from_slice(key.as_bytes());
            }
            out.push(b':');
            out.extend_from_slice(json.as_bytes());
        }
        copy_without(out, raw, close..raw.len(), spaces, &mut next_space);
    }
}

/// Appends `raw[range]` without the whitespace runs `spaces` (in order)
/// notes in it, starting at `spaces[*next]`, which it moves past them. A run
/// never straddles a range's ends (those are value boundaries), and runs
/// before the range (inside a replaced value) are skipped.
fn copy_without(
    out: &mut Vec<u8>,
    raw: &[u8],
    range: Range<usize>,
    spaces: &[Range<usize>],
    next: &mut usize,
) {
    let mut at = range.start;
    while let Some(space) = spaces.get(*next) {
        if space.start >= range.end {
            break;
        }
        if space.start >= at {
            out.extend_from_slice(&raw[at..space.start]);
            at = space.end;
        }
        *next += 1;
    }
    out.extend_from_slice(&raw[at..range.end]);
}

/// Appends JSON text without the whitespace between its tokens: copied in
/// runs between whitespace, strings whole.
pub(crate) fn push_minified(out: &mut Vec<u8>, raw: &[u8]) {
    out.reserve(raw.len());
    let mut run = 0;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'"' => i = string_end(raw, i),
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.extend_from_slice(&raw[run..i]);
                i += 1;
                run = i;
            }
            _ => i += 1,
        }
    }
    out.extend_from_slice(&raw[run..]);
}

/// Bytes that end a plain run inside a JSON string: the quote, the
/// backslash, and control characters (which a string may not hold raw).
static STRING_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Where the string starting at `at` (a `"`) ends, just past its closing
/// quote, without checking it; the end of `raw` if it does not close.
fn string_end(raw: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    loop {
        match find(
            raw,
            i,
            |x| has(x, b'"') | has(x, b'\\'),
            |b| b == b'"' || b == b'\\',
        ) {
            Some(n) if raw[n] == b'"' => return n + 1,
            Some(n) => i = n + 2,
            None => return raw.len(),
        }
    }
}

/// The lines of `text` as [`str::lines`] cuts them (at `\n`, a `\r` before
/// it dropped, no empty line after a final `\n`), found eight bytes at a
/// time: `str::lines` searches a 32-bit word at a time on wasm32.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= bytes.len() {
            return None;
        }
        let Some(end) = find(bytes, at, |x| has(x, b'\n'), |b| b == b'\n') else {
            // The last line, without a line end: kept whole.
            let line = &text[at..];
            at = bytes.len();
            return Some(line);
        };
        let line = &text[at..end];
        at = end + 1;
        Some(line.strip_suffix('\r').unwrap_or(line))
    })
}

/// Eight bytes at a time (SWAR): no SIMD needed, and wasm has 64-bit words.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that equals `b` is set, and no bit
/// below the first such byte (higher ones may be set spuriously, so only
/// the lowest counts).
fn has(x: u64, b: u8) -> u64 {
    let y = x ^ (ONES * u64::from(b));
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// As [`has`], for the bytes below `n` (at most 128).
fn has_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// The first position from `from` whose byte is special: found eight bytes
/// at a time with `word` (see [`has`]), the rest one at a time with `byte`.
fn find(
    bytes: &[u8],
    from: usize,
    word: impl Fn(u64) -> u64,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(chunk);
        let found = word(u64::from_le_bytes(eight));
        if found != 0 {
            return Some(i + found.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(|&b| byte(b)).map(|n| i + n)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::Output;
    use crate::testing::XorShift;

    fn path(text: &str) -> FieldPath {
        FieldPath::try_from(text.to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Random records: the same on every run.
    impl XorShift {
        fn space(&mut self, out: &mut String) {
            out.push_str(["", "", " ", "\t", "\n ", "\r\n"][self.below(6)]);
        }

        /// A JSON value with random spacing, escapes and number spellings,
        /// and objects without repeated keys.
        fn value(&mut self, depth: usize, out: &mut String) {
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

        fn object(&mut self, depth: usize, out: &mut String) {
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

    fn emit_from(line: &str, new: &Value) -> String {
        let mut buffer = Vec::new();
        let mut output = Output::new(&mut buffer);
        output
            .emit_from(new, Record::new(line))
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(buffer).unwrap_or_else(|e| panic!("{e}"))
    }

    fn emit_patched(patch: Patch<'_>) -> String {
        let mut buffer = Vec::new();
        Output::new(&mut buffer).emit_patched(patch);
        String::from_utf8(buffer).unwrap_or_else(|e| panic!("{e}"))
    }

    const ESCAPED_KEY: &str = r#""\u0074ext""#;

    #[test]
    fn locate_and_patch_agree_with_parsing_on_random_records() {
        let mut rng = XorShift::new(0x5eed);
        let paths = [
            path("text"),
            path("a.text"),
            path("a.b.text"),
            path("c.d"),
            path("b"),
        ];
        let mut located = 0;
        for _ in 0..5_000 {
            let mut line = String::new();
            rng.space(&mut line);
            rng.object(0, &mut line);
            rng.space(&mut line);
            let parsed: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            for path in &paths {
                let record = Record::new(&line);
                let mut expected = parsed.clone();
                match (path.locate(record), path.find_mut(&mut expected)) {
                    (Ok(None), Ok(None)) | (Err(Unsure), Err(_)) => {}
                    // Escaped keys are left to the parser.
                    (Err(Unsure), Ok(_)) if line.contains(ESCAPED_KEY) => {}
                    (Ok(Some(at)), Ok(Some(value))) => {
                        located += 1;
                        let text: Value =
                            serde_json::from_str(at.text()).unwrap_or_else(|e| panic!("{e}"));
                        assert_eq!(&text, value, "{line} at {path}");
                        assert_eq!(at.as_str().as_deref(), value.as_str(), "{line} at {path}");
                        // Set it to itself: the record is written as it was.
                        let mut same =
                            Patch::new(record.members().unwrap_or_else(|_| panic!("{line}")));
                        same.replace(&at, &*value).unwrap_or_else(|e| panic!("{e}"));
                        assert_eq!(
                            emit_patched(same),
                            emit_from(&line, &parsed),
                            "{line} at {path}, unchanged"
                        );
                        // Change it, and add a field, both ways.
                        let new = Value::String(format!("{value} changed"));
                        *value = new.clone();
                        expected
                            .as_object_mut()
                            .unwrap_or_else(|| panic!("{line}"))
                            .insert("added".to_owned(), Value::from(vec![1, 2]));
                        let mut patch =
                            Patch::new(record.members().unwrap_or_else(|_| panic!("{line}")));
                        patch.replace(&at, &new).unwrap_or_else(|e| panic!("{e}"));
                        patch
                            .set("added", &[1, 2])
                            .unwrap_or_else(|e| panic!("{e}"));
                        assert_eq!(
                            emit_patched(patch),
                            emit_from(&line, &expected),
                            "{line} at {path}"
                        );
                    }
                    (ours, theirs) => {
                        panic!("{line} at {path}: located {ours:?}, parsed {theirs:?}")
                    }
                }
            }
            // An unchanged record, and a top-level key set in place.
            let Ok(members) = Record::new(&line).members() else {
                assert!(line.contains(ESCAPED_KEY), "{line}");
                continue;
            };
            assert_eq!(
                emit_patched(Patch::new(members)),
                emit_from(&line, &parsed),
                "{line}"
            );
            let mut expected = parsed.clone();
            expected
                .as_object_mut()
                .unwrap_or_else(|| panic!("{line}"))
                .insert("b".to_owned(), Value::Null);
            let Ok(members) = Record::new(&line).members() else {
                assert!(line.contains(ESCAPED_KEY), "{line}");
                continue;
            };
            let mut patch = Patch::new(members);
            match patch.set("b", &()) {
                Ok(()) => assert_eq!(emit_patched(patch), emit_from(&line, &expected), "{line}"),
                Err(_) => assert!(line.contains(ESCAPED_KEY), "{line}"),
            }
        }
        assert!(
            located > 1_000,
            "only {located} fields located: the generator is off"
        );
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
                if path.locate(Record::new(&line)).is_ok() {
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
        let record = |line| path("a.b").locate(Record::new(line));
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

    /// A value replaced by an equal one is written as `emit_from` writes
    /// it: in the old spelling where the record holds escapes or exponents
    /// (it splices), anew where it does not.
    #[test]
    fn equal_replacements_keep_what_emit_from_keeps() {
        let cases = [
            (r#"{"a":"\u0041","b":1}"#, serde_json::json!("A")),
            (
                r#"{"a":{"y":1,"x":2},"b":"\/"}"#,
                serde_json::json!({"x": 2, "y": 1}),
            ),
            (
                r#"{"a":{"y":1,"x":2}}"#,
                serde_json::json!({"x": 2, "y": 1}),
            ),
            (
                r#"{"a":["b\u0069lling"],"e":1E3}"#,
                serde_json::json!(["billing", "x"]),
            ),
            (r#"{"a":["b\u0069lling"]}"#, serde_json::json!(["billing"])),
        ];
        for (line, new) in cases {
            let record = Record::new(line);
            let members = record.members().unwrap_or_else(|_| panic!("{line}"));
            let mut patch = Patch::new(members);
            let at = patch
                .locate(&path("a"))
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("{line}"));
            patch.replace(&at, &new).unwrap_or_else(|e| panic!("{e}"));
            let mut expected: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            expected["a"] = new;
            assert_eq!(emit_patched(patch), emit_from(line, &expected), "{line}");
        }
    }

    #[test]
    fn a_value_located_in_another_record_is_refused() {
        let long = r#"{"a":"xxxxxxxxxxxxxxxx","b":1}"#;
        let at = path("b")
            .locate(Record::new(long))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no b"));
        let short = r#"{"b":2}"#;
        let mut patch = Patch::new(
            Record::new(short)
                .members()
                .unwrap_or_else(|_| panic!("{short}")),
        );
        assert!(patch.replace(&at, &3).is_err());
        assert_eq!(emit_patched(patch), "{\"b\":2}\n");
    }

    #[test]
    fn two_changes_to_one_value_are_refused() {
        let line = r#"{"a":"x"}"#;
        let at = path("a")
            .locate(Record::new(line))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no a"));
        let mut patch = Patch::new(
            Record::new(line)
                .members()
                .unwrap_or_else(|_| panic!("{line}")),
        );
        patch.replace(&at, "y").unwrap_or_else(|e| panic!("{e}"));
        assert!(patch.set("a", "z").is_err());
        assert_eq!(emit_patched(patch), "{\"a\":\"y\"}\n");
    }

    #[test]
    fn eight_at_a_time_finds_what_one_at_a_time_finds() {
        let mut rng = XorShift::new(0x8);
        let alphabet = b"ab \"\\\x01\x1f\x7f\xc3\xa9~ ";
        for _ in 0..20_000 {
            let bytes: Vec<u8> = (0..rng.below(40))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let from = rng.below(bytes.len() + 1);
            let special = |b: u8| STRING_SPECIAL[usize::from(b)];
            let expected = bytes
                .get(from..)
                .and_then(|rest| rest.iter().position(|&b| special(b)).map(|n| from + n));
            let found = find(
                &bytes,
                from,
                |x| has(x, b'"') | has(x, b'\\') | has_below(x, 0x20),
                special,
            );
            assert_eq!(found, expected, "{bytes:?} from {from}");
        }
    }

    #[test]
    fn lines_are_cut_as_str_lines_cuts_them() {
        let mut rng = XorShift::new(0x11);
        let alphabet = ["a", "\n", "\r", "\r\n", "é", "{\"x\":1}", ""];
        for _ in 0..20_000 {
            let text: String = (0..rng.below(30))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            assert_eq!(
                lines(&text).collect::<Vec<_>>(),
                text.lines().collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn minifying_keeps_strings_whole() {
        let mut out = Vec::new();
        push_minified(&mut out, br#" { "a b" : [ 1 , "\" x" ] , "c":"\\" } "#);
        assert_eq!(out, br#"{"a b":[1,"\" x"],"c":"\\"}"#);
    }
}
