//! One input record as the transform sees it, and the writer its outputs go to.
//!
//! A [`Record`] is one NDJSON line, still as text: it is parsed only when the
//! transform asks, into whatever serde type it asks for (`parse`), or
//! scanned (`scan`). An [`Output`] appends output records to the chunk's
//! single output buffer, so writing a record allocates nothing beyond what
//! serialization itself needs; it writes a parsed record in its input's
//! spelling (`spelling`) or a [`Patch`] (`patch`). Both types are thin
//! façades over those modules, which never import this one; it knows
//! nothing of chunks or of the host.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::finite;
use crate::parse::parse_json;
use crate::patch::Patch;
use crate::scan::{Members, Unsure};
use crate::spelling::{respells_only_whitespace, splice};

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

    /// Scans the record's text once for its top-level members, to locate
    /// fields and build a [`Patch`] on.
    ///
    /// # Errors
    ///
    /// [`Unsure`] when the text is not a well-formed JSON object, or one of
    /// its top-level keys is written with escapes (nested objects may have
    /// them): parse the record instead.
    pub fn members(self) -> Result<Members<'a>, Unsure> {
        Members::scan(self.line)
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
            })
            .and_then(|()| finite::check_written(record, &self.buffer[start..]));
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
        finite::check_value(record, &new)?;
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
    /// record (see [`Patch`]).
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

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;
    use crate::spelling::push_minified;

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
    fn pass_copies_the_record_byte_for_byte() {
        let line = r#"{ "b" : 1.50, "a" : "caf\u00e9" }"#;
        let mut buffer = Vec::new();
        let mut output = Output::new(&mut buffer);
        output.pass(Record::new(line));
        assert_eq!(output.count(), 1);
        assert_eq!(buffer, format!("{line}\n").into_bytes());
    }

    /// The scan and patch against parsing and `emit_from`.
    mod scan_and_patch {
        use serde_json::Value;

        use crate::patch::Patch;
        use crate::random::XorShift;
        use crate::record::{Output, Record};
        use crate::scan::Unsure;
        use crate::scan::tests::{locate, path};

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
                    match (locate(path, &line), path.find_mut(&mut expected)) {
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
                    Ok(()) => {
                        assert_eq!(emit_patched(patch), emit_from(&line, &expected), "{line}")
                    }
                    Err(_) => assert!(line.contains(ESCAPED_KEY), "{line}"),
                }
            }
            assert!(
                located > 1_000,
                "only {located} fields located: the generator is off"
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
                let mut expected: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
                expected["a"] = new;
                assert_eq!(emit_patched(patch), emit_from(line, &expected), "{line}");
            }
        }
    }
}
