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
