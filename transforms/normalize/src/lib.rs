//! `normalize`: a Weir transform that tidies text fields.
//!
//! For every configured field (a dotted path such as `notes.body` reaches
//! into nested objects) it trims the text, lowercases it and collapses runs
//! of whitespace into one space, each step switchable in the config. A field
//! that is absent is left alone; one that holds anything but a string fails
//! its record, naming the field. Everything else in the record is written
//! back untouched. See README.md for the config and an example.

use std::borrow::Cow;

use serde::Deserialize;
use weir_guest::{Error, FieldPaths, Transform, Value};

/// The transform's configuration, parsed once by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The fields to normalise, as dotted paths (`"notes.body"`); required,
    /// and must name at least one field.
    pub fields: FieldPaths,
    /// Lowercase the text (Unicode-aware). Default `true`.
    #[serde(default = "enabled")]
    pub lowercase: bool,
    /// Remove leading and trailing whitespace. Default `true`.
    #[serde(default = "enabled")]
    pub trim: bool,
    /// Replace every run of whitespace with a single space. Default `true`.
    #[serde(default = "enabled")]
    pub collapse_whitespace: bool,
}

fn enabled() -> bool {
    true
}

/// The transform the component exports; tests run the same value.
pub fn transform() -> impl Transform<Config = Config> {
    weir_guest::map(normalize)
}

weir_guest::export!(transform());

/// Normalises the configured fields of one record.
///
/// # Errors
///
/// A configured field, or an object on its path, holds a value of the wrong
/// type; the message names the field.
pub fn normalize(mut record: Value, config: &Config) -> Result<Value, Error> {
    for path in &config.fields {
        if let Some(text) = path.find_text(&mut record)? {
            *text = normalize_text(text, config);
        }
    }
    Ok(record)
}

/// Applies the configured steps to one string: trim, collapse whitespace,
/// then lowercase (with the whole text in view, so a final `Σ` becomes `ς`).
pub fn normalize_text(text: &str, config: &Config) -> String {
    let text = if config.trim { text.trim() } else { text };
    let text = if config.collapse_whitespace {
        Cow::Owned(collapse_whitespace(text))
    } else {
        Cow::Borrowed(text)
    };
    if config.lowercase {
        text.to_lowercase()
    } else {
        text.into_owned()
    }
}

fn collapse_whitespace(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if !c.is_whitespace() {
            collapsed.push(c);
            in_run = false;
        } else if !in_run {
            collapsed.push(' ');
            in_run = true;
        }
    }
    collapsed
}

#[cfg(test)]
mod tests {
    use weir_guest::testing::{self, Session};

    use super::*;

    fn run(config: &str, records: &[&str]) -> Vec<Result<Vec<String>, String>> {
        testing::run(transform(), config, records)
    }

    fn one(line: &str) -> Result<Vec<String>, String> {
        Ok(vec![line.to_owned()])
    }

    #[test]
    fn trims_lowercases_and_collapses_by_default() {
        let results = run(
            r#"{"fields":["text"]}"#,
            &[r#"{"id":1,"text":"  Hello \t\n  WORLD  ","n":1.50}"#],
        );
        assert_eq!(results, [one(r#"{"id":1,"text":"hello world","n":1.50}"#)]);
    }

    #[test]
    fn each_step_can_be_switched_off() {
        let record = r#"{"text":"  A  B  "}"#;
        let config = |key: &str| format!(r#"{{"fields":["text"],"{key}":false}}"#);
        assert_eq!(
            run(&config("trim"), &[record]),
            [one(r#"{"text":" a b "}"#)]
        );
        assert_eq!(
            run(&config("lowercase"), &[record]),
            [one(r#"{"text":"A B"}"#)]
        );
        assert_eq!(
            run(&config("collapse_whitespace"), &[record]),
            [one(r#"{"text":"a  b"}"#)]
        );
    }

    #[test]
    fn dotted_path_reaches_nested_objects() {
        let results = run(
            r#"{"fields":["notes.body"]}"#,
            &[r#"{"notes":{"body":" X  Y ","title":" T "},"text":" Z "}"#],
        );
        assert_eq!(
            results,
            [one(
                r#"{"notes":{"body":"x y","title":" T "},"text":" Z "}"#
            )]
        );
    }

    #[test]
    fn missing_fields_are_left_alone() {
        let record = r#"{"other":" Keep  Me "}"#;
        let results = run(r#"{"fields":["text","notes.body"]}"#, &[record]);
        assert_eq!(results, [one(record)]);
    }

    #[test]
    fn non_string_field_fails_naming_it() {
        let results = run(
            r#"{"fields":["text","notes.body"]}"#,
            &[
                r#"{"text":42}"#,
                r#"{"text":null}"#,
                r#"{"notes":{"body":["a"]}}"#,
                r#"{"notes":"plain"}"#,
            ],
        );
        assert_eq!(
            results,
            [
                Err("field `text` is a number, not a string".to_owned()),
                Err("field `text` is null, not a string".to_owned()),
                Err("field `notes.body` is an array, not a string".to_owned()),
                Err("field `notes.body`: `notes` is a string, not an object".to_owned()),
            ]
        );
    }

    #[test]
    fn lowercasing_sees_whole_words() {
        // Every step on (the defaults).
        let config: Config =
            serde_json::from_str(r#"{"fields":["text"]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.lowercase && config.trim && config.collapse_whitespace);
        assert_eq!(normalize_text(" ΟΔΟΣ  ΜΑΚΡΑ ", &config), "οδος μακρα");
        assert_eq!(normalize_text("ΟΔΟΣ", &config), "οδος");
        assert_eq!(
            normalize_text("\u{a0}Ünïcode\u{2003}Space", &config),
            "ünïcode space"
        );
    }

    fn config_error(config: &str) -> String {
        match Session::start(transform(), config) {
            Ok(_) => panic!("config {config} was accepted"),
            Err(error) => error,
        }
    }

    #[test]
    fn bad_config_fails_init() {
        let unknown = config_error(r#"{"fields":["text"],"lower":true}"#);
        assert!(unknown.contains("unknown field `lower`"), "{unknown}");
        let missing = config_error("{}");
        assert!(missing.contains("missing field `fields`"), "{missing}");
        let empty = config_error(r#"{"fields":[]}"#);
        assert!(empty.contains("`fields` is empty"), "{empty}");
        let bad_path = config_error(r#"{"fields":["notes..body"]}"#);
        assert!(bad_path.contains("empty segment"), "{bad_path}");
        let wrong_type = config_error(r#"{"fields":["text"],"trim":"yes"}"#);
        assert!(
            wrong_type.starts_with("invalid config: trim: invalid type"),
            "{wrong_type}"
        );
    }
}
