//! One input record as the transform sees it, and the writer its outputs go to.
//!
//! A [`Record`] is one NDJSON line, still as text: it is parsed only when the
//! transform asks, into whatever serde type it asks for. An [`Output`] appends
//! output records to the chunk's single output buffer, so writing a record
//! allocates nothing beyond what serialization itself needs. Parsing here is
//! the one place that turns JSON text into Rust values, for records and for
//! configuration alike; this module knows nothing of chunks or of the host.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::raw::{Patch, push_minified};

/// One input record: a single line of the chunk, without its line ending.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    line: &'a str,
}

impl<'a> Record<'a> {
    pub(crate) fn new(line: &'a str) -> Self {
        Self { line }
    }

    /// The record's JSON text exactly as the host sent it.
    pub fn as_str(&self) -> &'a str {
        self.line
    }

    /// Parses the record into `T`: a `serde_json::Value` or any
    /// `Deserialize` type.
    ///
    /// # Errors
    ///
    /// The record is not a JSON object, or does not match `T`; the message
    /// names the offending field, as in ``visit.user_id: invalid type:
    /// string "7", expected u64``.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        if !self.line.trim_start().starts_with('{') {
            return Err(Error::new("record is not a JSON object"));
        }
        parse_json(self.line)
    }
}

/// Parses `text` into `T`, naming the failing field if there is one.
///
/// The fast path is a plain `serde_json` parse. Only when that fails with a
/// data error is the text parsed a second time, tracking the path to the
/// failing field, so the common case pays nothing for good messages.
pub(crate) fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    let error = match serde_json::from_str(text) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    if !error.is_data() {
        return Err(Error::new(describe(&error)));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(tracked) if tracked.path().iter().next().is_some() => Err(Error::new(format!(
            "{}: {}",
            tracked.path(),
            describe(tracked.inner())
        ))),
        _ => Err(Error::new(describe(&error))),
    }
}

/// serde_json's message without " at line 1 column N": every record is one
/// line and the host already reports which, so only the column is kept.
fn describe(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(bare) if error.column() > 0 => format!("{bare} (column {})", error.column()),
        Some(bare) => bare.to_owned(),
        None => message,
    }
}

/// Where a transform writes its output records.
///
/// Each call appends one line to the chunk's output. If the record then
/// fails, everything it wrote is taken back, so a failed record never has
/// output.
#[derive(Debug)]
pub struct Output<'a> {
    buffer: &'a mut Vec<u8>,
    count: u32,
}

impl<'a> Output<'a> {
    pub(crate) fn new(buffer: &'a mut Vec<u8>) -> Self {
        Self { buffer, count: 0 }
    }

    /// How many records have been written through this writer.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Writes `record` as one compact JSON line.
    ///
    /// # Errors
    ///
    /// `record` fails to serialize, or is not a JSON object.
    pub fn emit<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), Error> {
        let start = self.buffer.len();
        let written = serde_json::to_writer(&mut *self.buffer, record)
            .map_err(Error::from)
            .and_then(|()| match self.buffer.get(start) {
                Some(b'{') => Ok(()),
                _ => Err(Error::new("output record is not a JSON object")),
            });
        if let Err(error) = written {
            self.buffer.truncate(start);
            return Err(error);
        }
        self.buffer.push(b'\n');
        self.count += 1;
        Ok(())
    }

    /// Writes `record`, derived from `source`, as one compact JSON line in
    /// which every value `record` shares unchanged with `source` keeps
    /// `source`'s spelling: its number spelling (`1E3`, which serde_json
    /// would write `1e+3`) and string escapes (`"caf\u00e9"`, which it would
    /// write `"café"`). Only what the transform changed is written anew;
    /// whitespace between tokens is dropped. `map` and `flat_map`
    /// transforms write their results this way.
    ///
    /// When `source` has no exponent and no `\u` or `\/` escape (the common
    /// case, whatever its spacing), this is [`Output::emit`].
    ///
    /// # Errors
    ///
    /// `record` fails to serialize, or is not a JSON object.
    pub fn emit_from<T: Serialize + ?Sized>(
        &mut self,
        record: &T,
        source: Record<'_>,
    ) -> Result<(), Error> {
        let raw = source.as_str();
        if respells_only_whitespace(raw.as_bytes()) {
            return self.emit(record);
        }
        let new = serde_json::to_value(record).map_err(Error::from)?;
        let old: serde_json::Value = match serde_json::from_str(raw) {
            Ok(v) => v,
            Err(_) => return self.emit(record),
        };
        if !new.is_object() {
            return Err(Error::new("output record is not a JSON object"));
        }
        let start = self.buffer.len();
        if let Err(e) = splice(self.buffer, &new, &old, raw) {
            self.buffer.truncate(start);
            return Err(e);
        }
        self.buffer.push(b'\n');
        self.count += 1;
        Ok(())
    }

    /// Writes `patch`: its source record with the values it changed, as
    /// [`Output::emit_from`] would write the same change made to the parsed
    /// record (see [`crate::raw`]).
    pub fn emit_patched(&mut self, mut patch: Patch<'_>) {
        patch.write(self.buffer);
        self.buffer.push(b'\n');
        self.count += 1;
    }

    /// Writes an input record unchanged, byte for byte.
    pub fn pass(&mut self, record: Record<'_>) {
        self.buffer.extend_from_slice(record.as_str().as_bytes());
        self.buffer.push(b'\n');
        self.count += 1;
    }
}

/// Whether serde_json (with `preserve_order` and `arbitrary_precision`)
/// writes a parsed `line` back as `line` with at most the whitespace between
/// tokens dropped: no exponent (serde_json respells `1E3` and `1e5` as
/// `1e+3` and `1e+5`) and no `\u` or `\/` escape in a string (it writes
/// the characters themselves). May say no to a line that would survive;
/// never yes to one that would not.
pub(crate) fn respells_only_whitespace(line: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        match b {
            b'"' => {
                i += 1;
                loop {
                    match line.get(i) {
                        Some(b'"') => break,
                        Some(b'\\') => match line.get(i + 1) {
                            Some(b'u' | b'/') | None => return false,
                            Some(_) => i += 2,
                        },
                        Some(_) => i += 1,
                        None => return false,
                    }
                }
            }
            b'E' | b'+' => return false,
            b'e' if i > 0 && matches!(line[i - 1], b'0'..=b'9' | b'.') => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

/// Writes `new` as compact JSON into `out`, copying from `raw` (the text
/// `old` was parsed from), without its whitespace, every value that `new`
/// leaves equal to `old`.
pub(crate) fn splice(
    out: &mut Vec<u8>,
    new: &serde_json::Value,
    old: &serde_json::Value,
    raw: &str,
) -> Result<(), Error> {
    use serde_json::Value;
    use serde_json::value::RawValue;
    use std::collections::BTreeMap;

    if new == old {
        push_minified(out, raw.as_bytes());
        return Ok(());
    }
    match (new, old) {
        (Value::Object(n), Value::Object(o)) => {
            let Ok(members) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw) else {
                return serde_json::to_writer(&mut *out, new).map_err(Error::from);
            };
            out.push(b'{');
            for (i, (key, value)) in n.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).map_err(Error::from)?;
                out.push(b':');
                match (o.get(key), members.get(key)) {
                    (Some(old_value), Some(raw_value)) => {
                        splice(out, value, old_value, raw_value.get())?;
                    }
                    _ => serde_json::to_writer(&mut *out, value).map_err(Error::from)?,
                }
            }
            out.push(b'}');
            Ok(())
        }
        (Value::Array(n), Value::Array(o)) => {
            let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw) else {
                return serde_json::to_writer(&mut *out, new).map_err(Error::from);
            };
            out.push(b'[');
            for (i, value) in n.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match (o.get(i), items.get(i)) {
                    (Some(old_value), Some(raw_value)) => {
                        splice(out, value, old_value, raw_value.get())?;
                    }
                    _ => serde_json::to_writer(&mut *out, value).map_err(Error::from)?,
                }
            }
            out.push(b']');
            Ok(())
        }
        _ => serde_json::to_writer(&mut *out, new).map_err(Error::from),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Visit {
        user: User,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct User {
        id: u64,
    }

    fn parse_error<T: DeserializeOwned + std::fmt::Debug>(line: &str) -> String {
        match Record::new(line).parse::<T>() {
            Ok(value) => panic!("{line} parsed as {value:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn type_mismatch_names_the_nested_field() {
        let error = parse_error::<Visit>(r#"{"user":{"id":"7"}}"#);
        assert_eq!(
            error,
            r#"user.id: invalid type: string "7", expected u64 (column 17)"#
        );
    }

    #[test]
    fn missing_field_names_it() {
        let error = parse_error::<Visit>(r#"{"user":{}}"#);
        assert!(error.starts_with("user: missing field `id`"), "{error}");
        let error = parse_error::<Visit>(r#"{"other":1}"#);
        assert!(error.starts_with("missing field `user`"), "{error}");
    }

    #[test]
    fn syntax_error_is_reported_without_line_number() {
        let error = parse_error::<Value>(r#"{"a": tru}"#);
        assert_eq!(error, "expected ident (column 10)");
    }

    #[test]
    fn non_object_record_is_rejected() {
        assert_eq!(parse_error::<Value>("[1,2]"), "record is not a JSON object");
        assert_eq!(parse_error::<Value>(""), "record is not a JSON object");
    }

    #[test]
    fn emit_rejects_non_objects_and_leaves_no_trace() {
        let mut buffer = b"{\"kept\":1}\n".to_vec();
        let mut output = Output::new(&mut buffer);
        let error = output.emit(&[1, 2]).expect_err("an array is not a record");
        assert_eq!(error.message(), "output record is not a JSON object");
        assert_eq!(output.count(), 0);
        assert_eq!(buffer, b"{\"kept\":1}\n");
    }

    fn emit_from(line: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut value: Value = Record::new(line).parse().unwrap_or_else(|e| panic!("{e}"));
        change(&mut value);
        let mut buffer = Vec::new();
        let mut output = Output::new(&mut buffer);
        output
            .emit_from(&value, Record::new(line))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(output.count(), 1);
        String::from_utf8(buffer).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn emit_from_keeps_the_spelling_of_what_the_transform_left_alone() {
        let line = r#"{"id": 1, "n": 1E3, "m": -0.0e-7, "s": "caf\u00e9 \/x", "big": 123456789012345678901234567890, "notes": {"keep": 2.50E+2, "body": "  A  B "}, "z": [1, {"e": "\u0041"}, 3]}"#;
        // Nothing changed: the line itself, without its spaces.
        let mut minified = Vec::new();
        push_minified(&mut minified, line.as_bytes());
        let minified = String::from_utf8(minified).unwrap_or_default();
        assert_eq!(
            minified,
            r#"{"id":1,"n":1E3,"m":-0.0e-7,"s":"caf\u00e9 \/x","big":123456789012345678901234567890,"notes":{"keep":2.50E+2,"body":"  A  B "},"z":[1,{"e":"\u0041"},3]}"#
        );
        assert_eq!(emit_from(line, |_| {}), format!("{minified}\n"));
        // One nested field changed: its siblings keep their spelling.
        let out = emit_from(line, |v| v["notes"]["body"] = Value::from("a b"));
        assert_eq!(
            out,
            r#"{"id":1,"n":1E3,"m":-0.0e-7,"s":"caf\u00e9 \/x","big":123456789012345678901234567890,"notes":{"keep":2.50E+2,"body":"a b"},"z":[1,{"e":"\u0041"},3]}"#
                .to_owned()
                + "\n"
        );
        // A field added and one removed; an array element changed.
        let out = emit_from(line, |v| {
            let o = v.as_object_mut().unwrap_or_else(|| panic!("object"));
            o.shift_remove("s");
            o.insert("added".into(), Value::from("x"));
            v["z"][0] = Value::from(7);
        });
        assert_eq!(
            out,
            r#"{"id":1,"n":1E3,"m":-0.0e-7,"big":123456789012345678901234567890,"notes":{"keep":2.50E+2,"body":"  A  B "},"z":[7,{"e":"\u0041"},3],"added":"x"}"#
                .to_owned()
                + "\n"
        );
    }

    #[test]
    fn compact_plain_records_take_the_fast_path_and_others_do_not() {
        for (line, fast) in [
            (
                r#"{"a":1,"b":"x y","c":[true,false,null],"d":1.50,"e":"\n\"\\"}"#,
                true,
            ),
            (r#"{"a": 1, "b" : [ 2 ,3 ]}"#, true),
            (r#"{"a":1E3}"#, false),
            (r#"{"a":1e3}"#, false),
            (r#"{"a":"\u00e9"}"#, false),
            (r#"{"a":"\/"}"#, false),
            (r#"{"true":true,"false":false,"x":"e+E 1e3"}"#, true),
        ] {
            assert_eq!(respells_only_whitespace(line.as_bytes()), fast, "{line}");
            if fast {
                // The fast path's promise: serde_json writes it back as is,
                // but for whitespace between tokens.
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
                let mut minified = Vec::new();
                push_minified(&mut minified, line.as_bytes());
                assert_eq!(
                    serde_json::to_string(&v).unwrap_or_default().into_bytes(),
                    minified
                );
            }
        }
    }

    #[test]
    fn pass_copies_the_record_byte_for_byte() {
        let line = r#"{ "b" : 1.50, "a" : "caf\u00e9" }"#;
        let mut buffer = Vec::new();
        let mut output = Output::new(&mut buffer);
        output.pass(Record::new(line));
        assert_eq!(output.count(), 1);
        assert_eq!(buffer, format!("{line}\n").into_bytes());
    }
}
