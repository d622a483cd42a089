//! Write Weir transforms in Rust: plain functions over JSON records, compiled
//! to `wasm32-wasip2` components.
//!
//! A complete transform, with a typed config, tested natively:
//!
//! ```
//! use serde::Deserialize;
//! use weir_guest::{Error, Value};
//!
//! /// Replaces the values of the configured top-level fields with a mask.
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     fields: Vec<String>,
//!     #[serde(default = "default_mask")]
//!     mask: String,
//! }
//!
//! fn default_mask() -> String {
//!     "***".to_owned()
//! }
//!
//! fn redact(mut record: Value, config: &Config) -> Result<Value, Error> {
//!     for field in &config.fields {
//!         if let Some(value) = record.get_mut(field) {
//!             *value = Value::String(config.mask.clone());
//!         }
//!     }
//!     Ok(record)
//! }
//!
//! // In a wasm build, this line makes the crate a Weir component.
//! weir_guest::export!(weir_guest::map(redact));
//!
//! // Natively, the same chunk loop runs under `cargo test`.
//! let results = weir_guest::testing::run(
//!     weir_guest::map(redact),
//!     r#"{"fields": ["card"]}"#,
//!     [
//!         r#"{"user":"ada","card":"4111","amount":12.50,"id":123456789012345678901234567890}"#,
//!         r#"{"user":"bob","amount":0.10}"#,
//!         r#"{"user":"eve""#,
//!     ],
//! );
//! // Untouched fields keep their order and their exact number spelling.
//! assert_eq!(
//!     results[0],
//!     Ok(vec![
//!         r#"{"user":"ada","card":"***","amount":12.50,"id":123456789012345678901234567890}"#
//!             .to_owned()
//!     ])
//! );
//! assert_eq!(results[1], Ok(vec![r#"{"user":"bob","amount":0.10}"#.to_owned()]));
//! assert_eq!(results[2], Err("EOF while parsing an object (column 13)".to_owned()));
//!
//! // A bad config fails `init` with a message naming the field.
//! let rejected = weir_guest::testing::Session::start(weir_guest::map(redact), r#"{"feilds": []}"#);
//! assert!(rejected.is_err_and(|error| error.contains("unknown field `feilds`")));
//! ```
//!
//! # Writing a transform
//!
//! A transform is a function wrapped by one of three adapters:
//!
//! | adapter | function | output per record |
//! |---|---|---|
//! | [`map`] | `fn(In) -> Result<Out, E>` | exactly one record |
//! | [`filter`] | `fn(&In) -> bool` (or `Result<bool, E>`) | the input, byte for byte, or nothing |
//! | [`flat_map`] | `fn(In) -> Result<Vec<Out>, E>` (or any `IntoIterator`) | any number |
//!
//! `In` is [`Value`] or any `Deserialize` type, `Out` is `Serialize`, and `E`
//! is [`Error`] or any other `Display` error. Each function may take a second
//! argument, `&Config`, for any `Deserialize` config type; it is parsed once,
//! when the host calls `init`, and a config that does not parse fails the run.
//! A transform that keeps state across records (aggregates written at the end)
//! implements [`Transform`] itself.
//!
//! # Whole chunks at once
//!
//! The host sends records in chunks of up to about 1000 records or 1 MiB,
//! and the adapters call the function once per record. A transform that
//! gains from seeing the chunk together, such as a model run over a feature
//! matrix, implements [`Transform`] and overrides
//! [`process_chunk`](Transform::process_chunk): it gets every [`Record`] of
//! the chunk in one call and settles each, in order, through a
//! [`ChunkOutput`], with its output records or its own error. So one bad
//! record still fails alone while the rest is computed as a batch. Because
//! the host re-runs a failed chunk record by record (below), a record must
//! get the same result in a batch as alone. `transforms/model-apply` is a
//! complete example.
//!
//! # Records and errors
//!
//! Each input line is parsed once, into the function's argument type. A record
//! that is not a JSON object, does not parse, or does not match `In` fails on
//! its own with a message naming the field (`user.id: invalid type: ...`);
//! so does a record for which the function returns an error. The host
//! quarantines it and the rest of the chunk goes on.
//!
//! Records are parsed with `serde_json`'s `preserve_order` and
//! `arbitrary_precision` features, so fields keep their order, their digits
//! (`1.50`, `-0.0`) and integers of any size. [`map`] and [`flat_map`]
//! write their results with [`Output::emit_from`]: every value the function
//! leaves equal to the input's keeps the input's spelling (`1E3`,
//! `"caf\u00e9"`), and only what changed is written anew. Output is compact
//! JSON: whitespace between tokens is the one thing not kept. [`filter`] writes
//! kept records unchanged, byte for byte.
//!
//! # A few fields of wide records
//!
//! Parsing a whole record into a [`Value`] and writing it back is most of
//! what a transform that reads one or two fields costs. A [`Transform`] can
//! instead scan the record's text once ([`Record::members`]), read the
//! fields it needs ([`Patch::locate`], [`Located::as_str`]) and write the
//! record back with only its changes ([`Patch::set`], [`Patch::replace`],
//! [`Output::emit_patched`]). The output is what [`Output::emit_from`]
//! writes for the same change to the parsed record. Whatever the scan is not
//! sure of comes back as [`Unsure`]: then parse the record as usual, which
//! also words any error. An [`Edit`] does that dance: give it each change
//! twice, on the patch and on the parsed record, and it takes the patch
//! where it can.
//!
//! ```
//! use weir_guest::{Edit, Error, FieldPath, NoConfig, Output, Record, Transform};
//!
//! /// Adds `"length"`: the length of `text`, in characters.
//! struct Length {
//!     text: FieldPath,
//! }
//!
//! impl Transform for Length {
//!     type Config = NoConfig;
//!
//!     fn init(&mut self, _: NoConfig) -> Result<(), Error> {
//!         Ok(())
//!     }
//!
//!     fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
//!         let mut edit = Edit::new(record)?;
//!         edit.change(
//!             // On the record's text: `None` gives up.
//!             |patch| {
//!                 let text = patch.locate(&self.text).ok()??;
//!                 let length = text.as_str()?.chars().count();
//!                 patch.set("length", &length).ok()
//!             },
//!             // On the parsed record, with its error messages.
//!             |value| {
//!                 let length = match self.text.find_text(value)? {
//!                     Some(text) => text.chars().count(),
//!                     None => return Err(Error::new("no `text`")),
//!                 };
//!                 value["length"] = length.into();
//!                 Ok(())
//!             },
//!         )?;
//!         edit.emit(output)
//!     }
//! }
//!
//! let length = || Length { text: FieldPath::try_from("text".to_owned()).unwrap() };
//! let results = weir_guest::testing::run(length(), "{}", [
//!     r#"{"id": 1E3, "text": "caf\u00e9"}"#,
//!     r#"{"id": 2, "text": 7}"#,
//! ]);
//! // Untouched values keep their spelling; the output is compact.
//! assert_eq!(results[0], Ok(vec![r#"{"id":1E3,"text":"caf\u00e9","length":4}"#.to_owned()]));
//! assert_eq!(results[1], Err("field `text` is a number, not a string".to_owned()));
//! ```
//!
//! `transforms/spellcheck`, `transforms/categorize` and
//! `transforms/model-apply` work this way, and test that both paths write
//! the same records.
//!
//! # Panics
//!
//! `wasm32-wasip2` builds abort on panic: a panic traps the whole instance,
//! so the whole `process` call fails, and the host re-runs that chunk record
//! by record (each as a chunk of one, on a fresh instance) to isolate the
//! record that caused it. Natively, where panics unwind, the chunk loop
//! catches them: a panic while one record is being processed (in
//! [`Transform::process`], or in [`ChunkOutput::record`]) fails only that
//! record, so tests see the panic as the record's error; a panic elsewhere in
//! [`Transform::process_chunk`] fails every record of the chunk.
//!
//! # Layout
//!
//! - `transform`: the [`Transform`] trait, the seam the chunk loop drives.
//! - `function`: [`map`], [`filter`], [`flat_map`], plain functions as transforms.
//! - `edit`: [`Edit`], a change made on the patch when the scan is sure and
//!   on the parsed record when not: on top of `record` and `patch`.
//! - `record`: [`Record`] (one input line) and [`Output`] (where records go),
//!   thin façades over the four modules below.
//! - `parse`: JSON text into serde types, errors naming the field.
//! - `patch`: [`Patch`], a scanned record written back with only its changes.
//! - `scan`: [`Members`], [`Located`] and [`Unsure`]: finding a few fields
//!   without parsing the record.
//! - `spelling`: how serde_json spells what it writes, and writing a changed
//!   record in its input's spelling.
//! - `bytes`: the byte searches under all of them, eight bytes at a time.
//! - `field`: [`FieldPath`], a dotted path to a field in a config, and
//!   [`FieldPaths`], a list of at least one.
//! - `assets`: [`Assets`], reading a transform's assets directory.
//! - `error`: [`Error`], the message a record, `init` or `finish` fails with.
//! - `outcome`: [`ChunkOutput`], where a chunk's records are settled, and
//!   the outcomes it closes into.
//! - `chunk`: the loop from an NDJSON chunk to output and outcomes.
//! - [`testing`]: that same loop under native `cargo test`, plus golden cases.
//! - `component`: wit-bindgen glue for wasm builds, reached through [`export!`].

mod assets;
mod bytes;
mod chunk;
#[doc(hidden)]
pub mod component;
mod edit;
mod error;
mod field;
mod finite;
mod function;
mod outcome;
mod parse;
mod patch;
mod random;
mod record;
mod scan;
mod spelling;
pub mod testing;
mod transform;

pub use serde_json::{self, Value};

pub use crate::assets::Assets;
pub use crate::edit::Edit;
pub use crate::error::Error;
pub use crate::field::{ConfigKey, FieldPath, FieldPaths, FieldsKey, kind};
pub use crate::function::{
    Filter, FilterResult, FlatMap, FlatMapResult, Map, MapResult, Predicate, RecordFn, filter,
    flat_map, map,
};
pub use crate::outcome::ChunkOutput;
pub use crate::patch::Patch;
pub use crate::record::{Output, Record};
pub use crate::scan::{Located, Members, Unsure};
pub use crate::transform::{FieldSpec, NoConfig, Transform};

/// Makes this crate a Weir component that runs `transform`.
///
/// Write it once, at the top level of a `cdylib` crate, with any expression
/// of a type implementing [`Transform`], usually [`map`], [`filter`] or
/// [`flat_map`] of a function. The expression is evaluated when the host
/// calls `init`.
///
/// In wasm builds it implements the `weir:transform` world's `init`,
/// `process` and `finish` exports; natively it only type-checks the
/// expression, so the crate's tests need no wasm.
///
/// ```
/// fn keep_all(_: &weir_guest::Value) -> bool {
///     true
/// }
///
/// weir_guest::export!(weir_guest::filter(keep_all));
/// ```
#[macro_export]
macro_rules! export {
    ($transform:expr $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WeirTransform;

            impl $crate::component::bindings::Guest for WeirTransform {
                fn init(
                    config: ::std::string::String,
                ) -> ::std::result::Result<(), ::std::string::String> {
                    $crate::component::init($transform, &config)
                }

                fn fields() -> ::std::option::Option<$crate::component::bindings::FieldSpec> {
                    $crate::component::fields()
                }

                fn process(input: ::std::string::String) -> $crate::component::bindings::Processed {
                    $crate::component::process(&input)
                }

                fn finish() -> ::std::result::Result<::std::string::String, ::std::string::String> {
                    $crate::component::finish()
                }
            }

            $crate::component::bindings::__export_transform_world!(
                WeirTransform with_types_in $crate::component::bindings
            );
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            let _ = || $crate::component::check_exportable($transform);
        };
    };
}
