//! `{{name}}`: a Weir transform. It stamps every record with a configured
//! field and value, and rejects records without an `id`.
//!
//! Edit `tag` (and `Config`) to make it yours; see README.md for the loop of
//! editing, testing and building. `weir_guest::map` calls `tag` once per
//! record; to work on a whole chunk of records at once (a model over a
//! batch), implement `weir_guest::Transform` and its `process_chunk`
//! (documented in vendor/weir-guest/src/transform.rs; `cargo doc --open`).

use serde::Deserialize;
use weir_guest::{Error, Transform, Value};

/// The transform's configuration (`config.json`), parsed once by `init`.
/// Unknown keys are refused, so a typo fails the run instead of being
/// ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The field to set on every record.
    pub field: String,
    /// The value to set it to.
    pub value: Value,
}

/// Stamps one record. An `Err` quarantines this record alone; the run goes on.
pub fn tag(mut record: Value, config: &Config) -> Result<Value, Error> {
    if record.get("id").is_none() {
        return Err(Error::new("record has no `id`"));
    }
    record[config.field.as_str()] = config.value.clone();
    Ok(record)
}

/// The transform: the export below and the tests both use it.
pub fn transform() -> impl Transform<Config = Config> {
    weir_guest::map(tag)
}

weir_guest::export!(transform());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_records_and_rejects_those_without_id() {
        let results = weir_guest::testing::run(
            transform(),
            r#"{"field": "source", "value": "web"}"#,
            [r#"{"id":1,"amount":12.50}"#, r#"{"name":"no id"}"#],
        );
        assert_eq!(
            results[0],
            Ok(vec![r#"{"id":1,"amount":12.50,"source":"web"}"#.to_owned()])
        );
        assert_eq!(results[1], Err("record has no `id`".to_owned()));
    }
}
