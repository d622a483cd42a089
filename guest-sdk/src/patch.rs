//! Writing a scanned record back with only its changes.
//!
//! A [`Patch`] is built on a record's [`Members`] and collects new values
//! for located fields and new top-level members; `Output::emit_patched`
//! writes the result. The output is what `Output::emit_from` would write
//! for the same change made to the parsed record: compact, every untouched
//! value spelled as in the input, a changed value as serde_json writes it
//! (or, where the record holds escapes or exponents, in the old spelling of
//! whatever part of it is left equal, as `spelling` rules), an existing
//! key's new value in its old place and a new top-level key at the end.
//!
//! This module imports `scan`, `spelling`, `field` and `error`; it knows
//! nothing of records, outputs, chunks or the host.

use std::ops::Range;

use serde::Serialize;

use crate::error::Error;
use crate::field::FieldPath;
use crate::finite;
use crate::scan::{Located, Members, Unsure};
use crate::spelling::{respells_only_whitespace, splice};

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
        let record = self.source.text();
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
        if !may_differ || respells_only_whitespace(self.source.text().as_bytes()) {
            let json = serde_json::to_string(value)?;
            finite::check_written(value, json.as_bytes())?;
            return Ok(json);
        }
        let old_value: serde_json::Value = serde_json::from_str(old)?;
        let new = serde_json::to_value(value)?;
        finite::check_value(value, &new)?;
        let mut out = Vec::new();
        splice(&mut out, &new, &old_value, old)?;
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
            .member(key)
            .map_err(|Unsure| Error::new(format!("the record has the key `{key}` twice")))?;
        match existing {
            Some(located) => self.replace(&located, value),
            None => {
                let json = serde_json::to_string(value)?;
                finite::check_written(value, json.as_bytes())?;
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
        let raw = self.source.text().as_bytes();
        let spaces = self.source.spaces();
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
        let close = self.source.close();
        copy_without(out, raw, copied..close, spaces, &mut next_space);
        let mut comma = !self.source.is_empty();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::tests::{locate, path};

    /// The patched record as `Output::emit_patched` writes it: one line.
    fn emit_patched(mut patch: Patch<'_>) -> String {
        let mut buffer = Vec::new();
        patch.write(&mut buffer);
        buffer.push(b'\n');
        String::from_utf8(buffer).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_value_located_in_another_record_is_refused() {
        let long = r#"{"a":"xxxxxxxxxxxxxxxx","b":1}"#;
        let at = locate(&path("b"), long)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no b"));
        let short = r#"{"b":2}"#;
        let mut patch = Patch::new(Members::scan(short).unwrap_or_else(|_| panic!("{short}")));
        assert!(patch.replace(&at, &3).is_err());
        assert_eq!(emit_patched(patch), "{\"b\":2}\n");
    }

    #[test]
    fn two_changes_to_one_value_are_refused() {
        let line = r#"{"a":"x"}"#;
        let at = locate(&path("a"), line)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no a"));
        let mut patch = Patch::new(Members::scan(line).unwrap_or_else(|_| panic!("{line}")));
        patch.replace(&at, "y").unwrap_or_else(|e| panic!("{e}"));
        assert!(patch.set("a", "z").is_err());
        assert_eq!(emit_patched(patch), "{\"a\":\"y\"}\n");
    }
}
