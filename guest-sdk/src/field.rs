//! Field paths: naming a (possibly nested) field of a record in a config.
//!
//! A [`FieldPath`] is written as keys joined by dots (`"notes.body"`) and
//! deserialises from that string, so a transform's config can hold
//! `fields: Vec<FieldPath>`. A path reaches into nested objects, never into
//! arrays. [`FieldPath::find_mut`] returns the value it names, `None` when
//! the field (or an object on its path) is absent, and an error naming the
//! field when the path runs into something that is not an object;
//! [`FieldPath::find_text`] also requires a string. [`FieldPaths`] is a
//! config's list of them that names at least one field. This module imports
//! only `error`; it knows nothing of records as text.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::Error;

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

    /// The keys from the record down to the field.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The value at this path, or `None` if the field or an object on its
    /// path is absent.
    ///
    /// # Errors
    ///
    /// An object on the path is something else; the message names the field.
    pub fn find_mut<'a>(&self, record: &'a mut Value) -> Result<Option<&'a mut Value>, Error> {
        let mut value = record;
        for (depth, key) in self.keys.iter().enumerate() {
            let Value::Object(object) = value else {
                let parent = self.keys[..depth].join(".");
                return Err(Error::new(format!(
                    "field `{self}`: `{parent}` is {}, not an object",
                    kind(value)
                )));
            };
            match object.get_mut(key) {
                Some(child) => value = child,
                None => return Ok(None),
            }
        }
        Ok(Some(value))
    }

    /// The string at this path, or `None` if the field or an object on its
    /// path is absent.
    ///
    /// # Errors
    ///
    /// The field is not a string, or an object on its path is not an
    /// object; the message names the field.
    pub fn find_text<'a>(&self, record: &'a mut Value) -> Result<Option<&'a mut String>, Error> {
        match self.find_mut(record)? {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(Error::new(format!(
                "field `{self}` is {}, not a string",
                kind(other)
            ))),
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The config key a [`FieldPaths`] list is read from, for its message when
/// the list is empty.
pub trait ConfigKey {
    /// The key, as in the config (`"fields"`).
    const KEY: &'static str;
}

/// The key `fields`, the usual one: the default of [`FieldPaths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldsKey {}

impl ConfigKey for FieldsKey {
    const KEY: &'static str = "fields";
}

/// A config's list of field paths, naming at least one field: read from a
/// list of dotted paths (`["text", "notes.body"]`), refusing an empty list
/// with ``fields: `fields` is empty; name at least one field``. `K` names
/// the config key for that message; [`FieldsKey`] unless it is not
/// `fields`.
///
/// ```
/// use serde::Deserialize;
/// use weir_guest::FieldPaths;
///
/// #[derive(Deserialize)]
/// struct Config {
///     fields: FieldPaths,
/// }
///
/// let config: Config = serde_json::from_str(r#"{"fields": ["a", "b.c"]}"#).unwrap();
/// assert_eq!(config.fields.len(), 2);
/// let error = serde_json::from_str::<Config>(r#"{"fields": []}"#).err().unwrap();
/// assert!(error.to_string().starts_with("`fields` is empty; name at least one field"));
/// ```
pub struct FieldPaths<K: ConfigKey = FieldsKey> {
    paths: Vec<FieldPath>,
    key: PhantomData<fn() -> K>,
}

impl<K: ConfigKey> Deref for FieldPaths<K> {
    type Target = [FieldPath];

    fn deref(&self) -> &[FieldPath] {
        &self.paths
    }
}

impl<'a, K: ConfigKey> IntoIterator for &'a FieldPaths<K> {
    type Item = &'a FieldPath;
    type IntoIter = std::slice::Iter<'a, FieldPath>;

    fn into_iter(self) -> Self::IntoIter {
        self.paths.iter()
    }
}

impl<'de, K: ConfigKey> Deserialize<'de> for FieldPaths<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let paths = Vec::<FieldPath>::deserialize(deserializer)?;
        if paths.is_empty() {
            return Err(serde::de::Error::custom(format!(
                "`{}` is empty; name at least one field",
                K::KEY
            )));
        }
        Ok(FieldPaths {
            paths,
            key: PhantomData,
        })
    }
}

impl<K: ConfigKey> fmt::Debug for FieldPaths<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.paths).finish()
    }
}

impl<K: ConfigKey> Clone for FieldPaths<K> {
    fn clone(&self) -> Self {
        FieldPaths {
            paths: self.paths.clone(),
            key: PhantomData,
        }
    }
}

impl<K: ConfigKey> PartialEq for FieldPaths<K> {
    fn eq(&self, other: &Self) -> bool {
        self.paths == other.paths
    }
}

impl<K: ConfigKey> Eq for FieldPaths<K> {}

/// What kind of JSON value this is, for messages ("a number", "null").
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> FieldPath {
        FieldPath::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn finds_nested_strings_and_names_what_is_wrong() {
        let mut r: Value = serde_json::from_str(r#"{"a":{"b":"x"},"n":1,"s":"t"}"#).unwrap();
        assert_eq!(
            path("a.b").find_text(&mut r).unwrap().map(|s| s.clone()),
            Some("x".into())
        );
        assert_eq!(path("a.c").find_text(&mut r).unwrap(), None);
        let e = path("n").find_text(&mut r).unwrap_err();
        assert_eq!(e.message(), "field `n` is a number, not a string");
        let e = path("s.deeper").find_mut(&mut r).unwrap_err();
        assert_eq!(
            e.message(),
            "field `s.deeper`: `s` is a string, not an object"
        );
        assert!(FieldPath::try_from("a..b".to_owned()).is_err());
    }
}
