//! Dotted field paths (`notes.body`) and finding the string they name in a
//! record.
//!
//! The same rules as the `normalize` transform's: a path reaches into
//! nested objects, never into arrays; an absent field is skipped; a field
//! that is not a string, or a path that runs into a non-object, fails the
//! record naming the field. (A copy of normalize's code: transforms cannot
//! depend on each other, as each exports a component.)

use std::fmt;

use serde::Deserialize;
use weir_guest::{Error, Value};

/// A field's location: the keys from the record down to the field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct FieldPath {
    text: String,
    keys: Vec<String>,
}

impl TryFrom<String> for FieldPath {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let keys = text.split('.').map(str::to_owned).collect::<Vec<_>>();
        if keys.iter().any(String::is_empty) {
            return Err(format!(
                "field path {text:?} has an empty segment; write keys joined by single dots, as in \"notes.body\""
            ));
        }
        Ok(Self { text, keys })
    }
}

impl FieldPath {
    /// The path as written in the config.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The string at `path`, or `None` if the field or an object on its path is
/// absent.
pub fn find_text<'a>(
    record: &'a mut Value,
    path: &FieldPath,
) -> Result<Option<&'a mut String>, Error> {
    let mut value = record;
    for (depth, key) in path.keys.iter().enumerate() {
        let Value::Object(object) = value else {
            let parent = path.keys[..depth].join(".");
            return Err(Error::new(format!(
                "field `{path}`: `{parent}` is {}, not an object",
                kind(value)
            )));
        };
        match object.get_mut(key) {
            Some(child) => value = child,
            None => return Ok(None),
        }
    }
    match value {
        Value::String(text) => Ok(Some(text)),
        other => Err(Error::new(format!(
            "field `{path}` is {}, not a string",
            kind(other)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
