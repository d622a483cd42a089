//! `model-apply`: a Weir transform that applies a scikit-learn model,
//! exported to ONNX with skl2onnx, to each record.
//!
//! `init` reads the model from the assets directory (`/assets` in the
//! sandbox) and builds it once per instance; `process` gathers the
//! configured numeric fields into a feature row, runs the model and writes
//! the predicted label, class probabilities or regression value into the
//! record. The evaluator is this crate's own: a protobuf reader and the
//! ONNX-ML operators scikit-learn exports use, matching onnxruntime's
//! results. See README.md for the config, the operators and an example.
//!
//! Layout:
//! - [`protobuf`]: the protobuf wire format, read only;
//! - [`onnx`]: the `onnx.proto` messages a model file holds;
//! - [`tensor`]: the values flowing between operators;
//! - [`operators`]: the operators, built from nodes and run on batches;
//! - [`graph`]: a loaded model, its operators wired up;
//! - this module: the config, records to feature rows and predictions back,
//!   and the [`Transform`].

pub mod graph;
pub mod onnx;
pub mod operators;
pub mod protobuf;
pub mod tensor;

use std::path::PathBuf;

use serde::Deserialize;
use weir_guest::field::kind;
use weir_guest::{Error, FieldPath, Output, Record, Transform, Value};

use crate::graph::Model;
use crate::tensor::{ClassLabels, Tensor};

/// Where the sandbox mounts the transform's assets directory.
pub const ASSETS_DIR: &str = "/assets";

/// The transform's configuration, parsed once by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The model file, a name inside the assets directory; required.
    pub model: String,
    /// The feature fields, in the order of the model's input columns.
    /// Exactly one of `inputs` and `input_array` is required.
    #[serde(default)]
    pub inputs: Option<Vec<FieldPath>>,
    /// One field holding the whole feature row as an array of numbers.
    #[serde(default)]
    pub input_array: Option<FieldPath>,
    /// Where to write the predictions; at least one is required.
    pub outputs: Outputs,
}

/// The record fields predictions are written to, each a top-level key
/// (replacing any value it had).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// A classifier's predicted label (a number or a string, as the model's
    /// labels are).
    #[serde(default)]
    pub label: Option<String>,
    /// A classifier's class probabilities, as an object from label to
    /// probability.
    #[serde(default)]
    pub probabilities: Option<String>,
    /// A regressor's prediction: a number, or an array for a model with
    /// several targets.
    #[serde(default)]
    pub value: Option<String>,
}

/// Where features come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Features {
    Fields(Vec<FieldPath>),
    Array(FieldPath),
}

/// A model with its config: which graph outputs feed which fields.
#[derive(Debug)]
pub struct Predictor {
    model: Model,
    features: Features,
    /// (record field, graph output index) for the label.
    label: Option<(String, usize)>,
    /// (record field, graph output index, class labels).
    probabilities: Option<(String, usize, ClassLabels)>,
    /// (record field, graph output index).
    value: Option<(String, usize)>,
}

fn config_error(message: impl Into<String>) -> Error {
    Error::new(message.into())
}

impl Predictor {
    /// A predictor for `config` over the bytes of an `.onnx` file.
    ///
    /// # Errors
    ///
    /// The model does not load, or does not fit the config (a classifier
    /// asked for a `value`, a feature count that differs from the model's).
    pub fn new(config: Config, model_bytes: &[u8]) -> Result<Predictor, Error> {
        let model = Model::load(model_bytes)
            .map_err(|e| Error::from(e).context(format!("model `{}`", config.model)))?;
        let features = match (config.inputs, config.input_array) {
            (Some(fields), None) if !fields.is_empty() => Features::Fields(fields),
            (Some(_), None) => {
                return Err(config_error("`inputs` is empty; name the feature fields"));
            }
            (None, Some(field)) => Features::Array(field),
            (Some(_), Some(_)) => {
                return Err(config_error(
                    "give either `inputs` or `input_array`, not both",
                ));
            }
            (None, None) => {
                return Err(config_error(
                    "no features: give `inputs` (a list of fields) or `input_array` (one array field)",
                ));
            }
        };
        if let (Features::Fields(fields), Some(expected)) = (&features, model.features())
            && fields.len() != expected
        {
            return Err(config_error(format!(
                "`inputs` names {} fields, but model `{}` takes {expected} features",
                fields.len(),
                config.model
            )));
        }
        let outputs: Vec<_> = model.outputs().cloned().collect();
        let label_output = outputs
            .iter()
            .position(|output| matches!(output.elem_type, Some(7 | 8)));
        let probability_output = outputs.iter().position(|output| output.classes.is_some());
        let value_output = outputs
            .iter()
            .position(|output| output.elem_type == Some(1) && output.classes.is_none());
        let missing = |what: &str, produced: &str| {
            config_error(format!(
                "`outputs.{what}`: model `{}` has no {produced} output (its outputs: {})",
                config.model,
                outputs
                    .iter()
                    .map(|output| output.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        };
        let requested = config.outputs;
        if requested.label.is_none()
            && requested.probabilities.is_none()
            && requested.value.is_none()
        {
            return Err(config_error(
                "`outputs` names no field; set `label`, `probabilities` or `value`",
            ));
        }
        let label = match requested.label {
            Some(field) => Some((
                field,
                label_output.ok_or_else(|| missing("label", "class label"))?,
            )),
            None => None,
        };
        let probabilities = match requested.probabilities {
            Some(field) => {
                let index = probability_output
                    .ok_or_else(|| missing("probabilities", "class probability"))?;
                let classes = outputs[index]
                    .classes
                    .clone()
                    .unwrap_or(ClassLabels::Ints(Vec::new()));
                Some((field, index, classes))
            }
            None => None,
        };
        let value = match requested.value {
            Some(_) if label_output.is_some() => {
                return Err(config_error(format!(
                    "`outputs.value`: model `{}` is a classifier; use `label` or `probabilities`",
                    config.model
                )));
            }
            Some(field) => Some((
                field,
                value_output.ok_or_else(|| missing("value", "regression"))?,
            )),
            None => None,
        };
        Ok(Predictor {
            model,
            features,
            label,
            probabilities,
            value,
        })
    }

    /// The loaded model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The feature row of one record, as `f32` (the model's input type).
    ///
    /// # Errors
    ///
    /// A feature field is absent or not a number; the message names it.
    pub fn features(&self, record: &mut Value) -> Result<Vec<f32>, Error> {
        let number = |value: &Value, name: &dyn std::fmt::Display| -> Result<f32, Error> {
            match value {
                Value::Number(number) => number
                    .as_f64()
                    .map(|n| n as f32)
                    .ok_or_else(|| Error::new(format!("field `{name}` is not a finite number"))),
                other => Err(Error::new(format!(
                    "field `{name}` is {}, not a number",
                    kind(other)
                ))),
            }
        };
        match &self.features {
            Features::Fields(fields) => fields
                .iter()
                .map(|path| match path.find_mut(record)? {
                    Some(value) => number(value, path),
                    None => Err(Error::new(format!("field `{path}` is missing"))),
                })
                .collect(),
            Features::Array(path) => {
                let Some(value) = path.find_mut(record)? else {
                    return Err(Error::new(format!("field `{path}` is missing")));
                };
                let Value::Array(items) = value else {
                    return Err(Error::new(format!(
                        "field `{path}` is {}, not an array of numbers",
                        kind(value)
                    )));
                };
                if let Some(expected) = self.model.features()
                    && items.len() != expected
                {
                    return Err(Error::new(format!(
                        "field `{path}` holds {} numbers; the model takes {expected}",
                        items.len()
                    )));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| number(item, &format_args!("{path}[{i}]")))
                    .collect()
            }
        }
    }

    /// Runs the model on one record and writes its predictions into it.
    ///
    /// # Errors
    ///
    /// A feature is missing or not a number, the model rejects the row, or
    /// it predicts a non-finite value.
    pub fn predict(&self, record: &mut Value) -> Result<(), Error> {
        let row = self.features(record)?;
        let columns = row.len();
        let mut results = self.model.run(1, columns, row).map_err(Error::from)?;
        let Value::Object(object) = record else {
            return Err(Error::new("the record is not a JSON object"));
        };
        if let Some((field, index)) = &self.label {
            let label = match &results[*index] {
                Tensor::Int64 { data, .. } => data.first().map(|&label| Value::from(label)),
                Tensor::Text { data, .. } => data.first().map(|label| Value::from(label.clone())),
                Tensor::Float { .. } => None,
            }
            .ok_or_else(|| Error::new("the model produced no label"))?;
            object.insert(field.clone(), label);
        }
        if let Some((field, index, classes)) = &self.probabilities {
            let scores = floats(&mut results[*index])?;
            if scores.len() != classes.len() {
                return Err(Error::new(format!(
                    "the model produced {} probabilities for {} classes",
                    scores.len(),
                    classes.len()
                )));
            }
            let mut map = serde_json::Map::with_capacity(scores.len());
            for (i, &score) in scores.iter().enumerate() {
                map.insert(classes.key(i), number(score)?);
            }
            object.insert(field.clone(), Value::Object(map));
        }
        if let Some((field, index)) = &self.value {
            let values = floats(&mut results[*index])?;
            let value = match values[..] {
                [single] => number(single)?,
                _ => Value::Array(
                    values
                        .iter()
                        .map(|&v| number(v))
                        .collect::<Result<_, _>>()?,
                ),
            };
            object.insert(field.clone(), value);
        }
        Ok(())
    }
}

fn floats(tensor: &mut Tensor) -> Result<Vec<f32>, Error> {
    match tensor {
        Tensor::Float { data, .. } => Ok(std::mem::take(data)),
        other => Err(Error::new(format!(
            "expected the model to produce tensor(float), got {}",
            other.type_name()
        ))),
    }
}

/// An `f32` as the JSON number with the fewest digits that reads back as
/// the same `f32` (`0.1`, not `0.10000000149011612`).
fn number(value: f32) -> Result<Value, Error> {
    let shortest: f64 = value.to_string().parse().unwrap_or(f64::from(value));
    serde_json::Number::from_f64(shortest)
        .map(Value::Number)
        .ok_or_else(|| Error::new(format!("the model produced a non-finite value ({value})")))
}

/// The transform: reads its model from an assets directory in `init`.
#[derive(Debug)]
pub struct ModelApply {
    assets: PathBuf,
    predictor: Option<Predictor>,
}

impl ModelApply {
    /// A transform reading its model from `assets` (the sandbox mounts the
    /// assets directory at [`ASSETS_DIR`]; native tests pass a local one).
    pub fn with_assets(assets: impl Into<PathBuf>) -> ModelApply {
        ModelApply {
            assets: assets.into(),
            predictor: None,
        }
    }
}

impl Transform for ModelApply {
    type Config = Config;

    fn init(&mut self, config: Config) -> Result<(), Error> {
        let path = self.assets.join(&config.model);
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::new(format!(
                "cannot read the model {}: {e}; give the transform the directory holding it as its assets (`--assets DIR`)",
                path.display()
            ))
        })?;
        self.predictor = Some(Predictor::new(config, &bytes)?);
        Ok(())
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        let predictor = self
            .predictor
            .as_ref()
            .ok_or_else(|| Error::new("process called before init"))?;
        let mut value: Value = record.parse()?;
        predictor.predict(&mut value)?;
        output.emit(&value)
    }
}

/// The transform the component exports, reading `/assets`.
pub fn transform() -> ModelApply {
    ModelApply::with_assets(ASSETS_DIR)
}

weir_guest::export!(transform());

#[cfg(test)]
mod tests {
    use weir_guest::testing::Session;

    use super::*;

    fn assets() -> ModelApply {
        ModelApply::with_assets(concat!(env!("CARGO_MANIFEST_DIR"), "/assets"))
    }

    fn init_error(config: &str) -> String {
        match Session::start(assets(), config) {
            Ok(_) => panic!("{config} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn rejects_value_output_for_a_classifier() {
        let error =
            init_error(r#"{"model":"iris-forest.onnx","input_array":"x","outputs":{"value":"v"}}"#);
        assert!(error.contains("is a classifier"), "{error}");
    }

    #[test]
    fn rejects_label_output_for_a_regressor() {
        let error = init_error(
            r#"{"model":"diabetes-linear.onnx","input_array":"x","outputs":{"label":"l"}}"#,
        );
        assert!(error.contains("has no class label output"), "{error}");
    }

    #[test]
    fn rejects_inputs_that_do_not_match_the_model_width() {
        let error = init_error(
            r#"{"model":"iris-species.onnx","inputs":["a","b"],"outputs":{"label":"l"}}"#,
        );
        assert!(
            error.contains("names 2 fields, but model `iris-species.onnx` takes 4"),
            "{error}"
        );
    }

    #[test]
    fn requires_exactly_one_feature_source() {
        let both = init_error(
            r#"{"model":"iris-species.onnx","inputs":["a","b","c","d"],"input_array":"x","outputs":{"label":"l"}}"#,
        );
        assert!(both.contains("not both"), "{both}");
        let neither = init_error(r#"{"model":"iris-species.onnx","outputs":{"label":"l"}}"#);
        assert!(neither.contains("no features"), "{neither}");
    }

    #[test]
    fn rejects_unknown_config_keys_and_empty_outputs() {
        let typo = init_error(
            r#"{"model":"iris-species.onnx","input_array":"x","outputs":{"labels":"l"}}"#,
        );
        assert!(typo.contains("unknown field `labels`"), "{typo}");
        let empty = init_error(r#"{"model":"iris-species.onnx","input_array":"x","outputs":{}}"#);
        assert!(empty.contains("names no field"), "{empty}");
    }

    #[test]
    fn names_the_missing_model_file() {
        let error =
            init_error(r#"{"model":"nope.onnx","input_array":"x","outputs":{"label":"l"}}"#);
        assert!(
            error.contains("cannot read the model") && error.contains("nope.onnx"),
            "{error}"
        );
    }

    #[test]
    fn reports_a_file_that_is_not_onnx() {
        let config: Config = serde_json::from_str(
            r#"{"model":"bad.onnx","input_array":"x","outputs":{"label":"l"}}"#,
        )
        .expect("valid config");
        let error = Predictor::new(config, &[0x0a, 0xff, 0xff]).expect_err("not a model");
        assert!(error.to_string().contains("model `bad.onnx`"), "{error}");
    }

    #[test]
    fn writes_f32_results_with_their_shortest_digits() {
        assert_eq!(number(0.1).expect("finite"), serde_json::json!(0.1));
        assert!(number(f32::NAN).is_err());
    }
}
