//! `model-apply`: a Weir transform that applies a scikit-learn model,
//! exported to ONNX with skl2onnx, to each record.
//!
//! `init` reads the model from the assets directory (`/assets` in the
//! sandbox) and builds it once per instance; `process_chunk` gathers the
//! configured fields of a chunk's records into one feature matrix (or, for
//! a model of several inputs, one block of rows per input, numbers or
//! strings),
//! runs the model once over it and writes each record its predicted label,
//! class probabilities or regression value, while a record with bad
//! features fails alone. The evaluator is this crate's own: a protobuf
//! reader and the ONNX-ML operators scikit-learn exports use, matching
//! onnxruntime's results. See README.md for the config, the operators and
//! an example.
//!
//! Layout:
//! - [`protobuf`]: the protobuf wire format, read only;
//! - [`onnx`]: the `onnx.proto` messages a model file holds;
//! - [`tensor`]: the values flowing between operators;
//! - [`operators`]: the operators, built from nodes and run on batches;
//! - [`graph`]: a loaded model, its operators wired up;
//! - this module: the config, a chunk's records to one feature matrix and
//!   predictions back, and the [`Transform`].

pub mod graph;
pub mod onnx;
pub mod operators;
pub mod protobuf;
pub mod tensor;

use std::path::PathBuf;

use serde::Deserialize;
use weir_guest::{
    Assets, ChunkOutput, ConfigKey, Edit, Error, FieldPath, FieldPaths, Output, Record, Transform,
    Value, kind,
};

use crate::graph::{InputInfo, InputKind, Model};
use crate::tensor::{ClassLabels, Tensor};

/// The transform's configuration, parsed once by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The model file, a name inside the assets directory; required.
    pub model: String,
    /// The feature fields, in the order of the model's input columns.
    /// Exactly one of `inputs` and `input_array` is required.
    #[serde(default)]
    pub inputs: Option<FieldPaths<InputsKey>>,
    /// One field holding the whole feature row as an array of numbers.
    #[serde(default)]
    pub input_array: Option<FieldPath>,
    /// Where to write the predictions; at least one is required.
    pub outputs: Outputs,
}

/// The config key `inputs`, named when its list of fields is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputsKey {}

impl ConfigKey for InputsKey {
    const KEY: &'static str = "inputs";
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
    /// A classifier's class scores, as an object from label to score:
    /// the same output as `probabilities`, under the name that fits models
    /// whose scores are decision values (RidgeClassifier, LinearSVC,
    /// SGDClassifier), which `probabilities` refuses where it can tell.
    #[serde(default)]
    pub scores: Option<String>,
    /// A regressor's prediction: a number, or an array for a model with
    /// several targets.
    #[serde(default)]
    pub value: Option<String>,
}

/// Where features come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Features {
    Fields(FieldPaths<InputsKey>),
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
            (Some(fields), None) => Features::Fields(fields),
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
        if !model.takes_one_matrix() {
            let described = model
                .inputs()
                .iter()
                .map(|input| {
                    format!(
                        "`{}` ({}{})",
                        input.name,
                        match input.kind {
                            InputKind::Float => "float",
                            InputKind::Int64 => "int64",
                            InputKind::Text => "string",
                        },
                        input
                            .width
                            .map_or(", width undeclared".into(), |w| format!(" × {w}"))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            if !matches!(features, Features::Fields(_)) {
                return Err(config_error(format!(
                    "model `{}` takes several inputs ({described}); name one field per input column with `inputs`, not `input_array`",
                    config.model
                )));
            }
            if model.features().is_none() {
                return Err(config_error(format!(
                    "model `{}` takes several inputs ({described}), and not all declare their width, so `inputs` cannot be matched to them",
                    config.model
                )));
            }
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
            && requested.scores.is_none()
            && requested.value.is_none()
        {
            return Err(config_error(
                "`outputs` names no field; set `label`, `probabilities`, `scores` or `value`",
            ));
        }
        let label = match requested.label {
            Some(field) => Some((
                field,
                label_output.ok_or_else(|| missing("label", "class label"))?,
            )),
            None => None,
        };
        let (scores_key, scores_field) = match (requested.probabilities, requested.scores) {
            (Some(_), Some(_)) => {
                return Err(config_error(
                    "give `outputs.probabilities` or `outputs.scores`, not both: they are the same output",
                ));
            }
            (Some(field), None) => ("probabilities", Some(field)),
            (None, field) => ("scores", field),
        };
        let probabilities = match scores_field {
            Some(field) => {
                let index = probability_output.ok_or_else(|| missing(scores_key, "class score"))?;
                if scores_key == "probabilities" && outputs[index].decision_scores {
                    return Err(config_error(format!(
                        "`outputs.probabilities`: model `{}` gives decision scores, not probabilities \
                         (as RidgeClassifier and LinearSVC do); write them with `outputs.scores`",
                        config.model
                    )));
                }
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

    /// Appends the feature row of one record to `matrix`, as `f32` (the
    /// model's input type), and returns its width. On error `matrix` is
    /// left as it was.
    ///
    /// # Errors
    ///
    /// A feature field is absent or not a number; the message names it.
    pub fn append_features(
        &self,
        record: &mut Value,
        matrix: &mut Vec<f32>,
    ) -> Result<usize, Error> {
        let start = matrix.len();
        let appended = self.gather(record, matrix);
        if appended.is_err() {
            matrix.truncate(start);
        }
        appended.map(|()| matrix.len() - start)
    }

    fn gather(&self, record: &mut Value, matrix: &mut Vec<f32>) -> Result<(), Error> {
        let number = feature_number;
        match &self.features {
            Features::Fields(fields) => {
                for path in fields {
                    match path.find_mut(record)? {
                        Some(value) => matrix.push(number(value, path)?),
                        None => return Err(Error::new(format!("field `{path}` is missing"))),
                    }
                }
            }
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
                for (i, item) in items.iter().enumerate() {
                    matrix.push(number(item, &format_args!("{path}[{i}]"))?);
                }
            }
        }
        Ok(())
    }

    /// Runs the model on one record and writes its predictions into it.
    ///
    /// # Errors
    ///
    /// A feature is missing or not a number, the model rejects the row, or
    /// it predicts a non-finite value.
    pub fn predict<R: Row>(&self, record: &mut R) -> Result<(), Error> {
        if !self.model.takes_one_matrix() {
            let blocks = self.blocks_of(record.value()?)?;
            let results = self.run_blocks(blocks, 1)?;
            return record.set_outputs(self.outputs(&results, 1, 0)?);
        }
        let mut row = Vec::new();
        let columns = record.append_features(self, &mut row)?;
        let results = self.model.run(1, columns, row).map_err(Error::from)?;
        record.set_outputs(self.outputs(&results, 1, 0)?)
    }

    /// Runs the model once over every record of `records` that is `Ok`, as
    /// one feature matrix `[rows, features]`, and writes each its
    /// predictions. A record whose features are bad, or whose predictions
    /// cannot be written, becomes its own `Err`; the others are unaffected.
    ///
    /// Each record ends as [`predict`](Predictor::predict) alone would leave
    /// it: the operators compute every row independently, and if the model
    /// rejects the batch as a whole (or the rows differ in width, which only
    /// a model that does not declare its width allows), each row is run on
    /// its own, so that only the rows the model rejects alone fail.
    pub fn predict_all<R: Row>(&self, records: &mut [Result<R, Error>]) {
        if !self.model.takes_one_matrix() {
            self.predict_all_inputs(records);
            return;
        }
        let width = self.model.features().unwrap_or(0);
        let mut matrix = Vec::with_capacity(records.len() * width);
        // Positions in `records` of the matrix's rows, in order.
        let mut rows = Vec::with_capacity(records.len());
        // The first row's width, and whether every row has it.
        let mut widths = None::<(usize, bool)>;
        for (position, slot) in records.iter_mut().enumerate() {
            let Ok(record) = slot else {
                continue;
            };
            match record.append_features(self, &mut matrix) {
                Ok(columns) => {
                    rows.push(position);
                    widths = match widths {
                        None => Some((columns, true)),
                        Some((first, uniform)) => Some((first, uniform && columns == first)),
                    };
                }
                Err(error) => *slot = Err(error),
            }
        }
        let Some((columns, true)) = widths else {
            // No rows, or rows of different widths.
            self.predict_each(records, &rows);
            return;
        };
        let results = match self.model.run(rows.len(), columns, matrix) {
            Ok(results) => results,
            Err(_) => {
                self.predict_each(records, &rows);
                return;
            }
        };
        for (row, &position) in rows.iter().enumerate() {
            let slot = &mut records[position];
            if let Ok(record) = slot
                && let Err(error) = self
                    .outputs(&results, rows.len(), row)
                    .and_then(|outputs| record.set_outputs(outputs))
            {
                *slot = Err(error);
            }
        }
    }

    /// [`predict_all`](Predictor::predict_all) for a model of several
    /// inputs: each record's fields are parsed and gathered into one block
    /// per input, the blocks run as one batch; if the model rejects the
    /// batch, each row is run alone.
    fn predict_all_inputs<R: Row>(&self, records: &mut [Result<R, Error>]) {
        let mut blocks: Vec<Block> = self
            .model
            .inputs()
            .iter()
            .map(|input| Block::new(input.kind))
            .collect();
        let mut rows = Vec::with_capacity(records.len());
        for (position, slot) in records.iter_mut().enumerate() {
            let Ok(record) = slot else {
                continue;
            };
            match record.value().and_then(|value| self.blocks_of(value)) {
                Ok(row) => {
                    for (block, values) in blocks.iter_mut().zip(row) {
                        block.extend(values);
                    }
                    rows.push(position);
                }
                Err(error) => *slot = Err(error),
            }
        }
        if rows.is_empty() {
            return;
        }
        let Ok(results) = self.run_blocks(blocks, rows.len()) else {
            self.predict_each(records, &rows);
            return;
        };
        for (row, &position) in rows.iter().enumerate() {
            let slot = &mut records[position];
            if let Ok(record) = slot
                && let Err(error) = self
                    .outputs(&results, rows.len(), row)
                    .and_then(|outputs| record.set_outputs(outputs))
            {
                *slot = Err(error);
            }
        }
    }

    /// One record's values, one block per graph input: the `inputs` fields
    /// in order, each input taking as many as its width.
    fn blocks_of(&self, record: &mut Value) -> Result<Vec<Block>, Error> {
        let Features::Fields(fields) = &self.features else {
            return Err(Error::new("a model of several inputs needs `inputs`"));
        };
        let mut paths = fields.iter();
        let mut blocks = Vec::with_capacity(self.model.inputs().len());
        for input in self.model.inputs() {
            let mut block = Block::new(input.kind);
            for _ in 0..input.width.unwrap_or(0) {
                let path = paths
                    .next()
                    .ok_or_else(|| Error::new("fewer `inputs` than the model's input columns"))?;
                match path.find_mut(record)? {
                    Some(value) => block.push(value, path)?,
                    None => return Err(Error::new(format!("field `{path}` is missing"))),
                }
            }
            blocks.push(block);
        }
        Ok(blocks)
    }

    /// Runs the model on `rows` rows of blocks.
    fn run_blocks(&self, blocks: Vec<Block>, rows: usize) -> Result<Vec<Tensor>, Error> {
        let tensors = blocks
            .into_iter()
            .zip(self.model.inputs())
            .map(|(block, input)| block.into_tensor(rows, input))
            .collect();
        self.model.run_inputs(tensors).map_err(Error::from)
    }

    /// [`predict`](Predictor::predict) on each record of `records` at `rows`.
    fn predict_each<R: Row>(&self, records: &mut [Result<R, Error>], rows: &[usize]) {
        for &position in rows {
            let slot = &mut records[position];
            if let Ok(record) = slot
                && let Err(error) = self.predict(record)
            {
                *slot = Err(error);
            }
        }
    }

    /// The output fields for row `row` of the model's `results` (for a
    /// batch of `rows` rows), in the order they are set.
    fn outputs(
        &self,
        results: &[Tensor],
        rows: usize,
        row: usize,
    ) -> Result<Vec<(String, Value)>, Error> {
        let mut object = Vec::with_capacity(3);
        if let Some((field, index)) = &self.label {
            let label = match &results[*index] {
                Tensor::Int64 { data, .. } if data.len() == rows => Some(Value::from(data[row])),
                Tensor::Text { data, .. } if data.len() == rows => {
                    Some(Value::from(data[row].clone()))
                }
                _ => None,
            }
            .ok_or_else(|| Error::new("the model produced no label"))?;
            object.push((field.clone(), label));
        }
        if let Some((field, index, classes)) = &self.probabilities {
            let scores = floats(&results[*index], rows, row)?;
            // A binary model's one decision score (RidgeClassifier, LinearSVC:
            // scikit-learn's `decision_function`) is the positive class's.
            if let ([score], 2) = (scores, classes.len()) {
                let mut map = serde_json::Map::with_capacity(1);
                map.insert(classes.key(1), number(*score)?);
                object.push((field.clone(), Value::Object(map)));
            } else if scores.len() != classes.len() {
                return Err(Error::new(format!(
                    "the model produced {} probabilities for {} classes",
                    scores.len(),
                    classes.len()
                )));
            } else {
                let mut map = serde_json::Map::with_capacity(scores.len());
                for (i, &score) in scores.iter().enumerate() {
                    map.insert(classes.key(i), number(score)?);
                }
                object.push((field.clone(), Value::Object(map)));
            }
        }
        if let Some((field, index)) = &self.value {
            let value = match floats(&results[*index], rows, row)? {
                [single] => number(*single)?,
                values => Value::Array(
                    values
                        .iter()
                        .map(|&v| number(v))
                        .collect::<Result<_, _>>()?,
                ),
            };
            object.push((field.clone(), value));
        }
        Ok(object)
    }
}

/// A record the predictor reads features from and writes predictions into:
/// a parsed [`Value`], or a record being changed as an [`Edit`]: read by
/// scanning its text for the feature fields, its predictions written as a
/// patch, with no parse of the whole record. Where the scan is not enough
/// (an input array, a field that is missing or not a plain number, text the
/// scan is unsure of), the record is parsed and goes the [`Value`] way,
/// which words the errors; the output is the same.
pub trait Row {
    /// Appends the record's feature row to `matrix` and returns its width;
    /// on error `matrix` is left as it was.
    ///
    /// # Errors
    ///
    /// A feature field is absent or not a number; the message names it.
    fn append_features(
        &mut self,
        predictor: &Predictor,
        matrix: &mut Vec<f32>,
    ) -> Result<usize, Error>;

    /// The record, parsed.
    ///
    /// # Errors
    ///
    /// The record does not parse.
    fn value(&mut self) -> Result<&mut Value, Error>;

    /// Sets the output fields, in order: new keys at the end, existing
    /// ones in place.
    ///
    /// # Errors
    ///
    /// The record is not a JSON object.
    fn set_outputs(&mut self, outputs: Vec<(String, Value)>) -> Result<(), Error>;
}

impl Row for Value {
    fn append_features(
        &mut self,
        predictor: &Predictor,
        matrix: &mut Vec<f32>,
    ) -> Result<usize, Error> {
        predictor.append_features(self, matrix)
    }

    fn value(&mut self) -> Result<&mut Value, Error> {
        Ok(self)
    }

    fn set_outputs(&mut self, outputs: Vec<(String, Value)>) -> Result<(), Error> {
        let Value::Object(object) = self else {
            return Err(Error::new("the record is not a JSON object"));
        };
        for (field, value) in outputs {
            object.insert(field, value);
        }
        Ok(())
    }
}

impl Row for Edit<'_> {
    fn append_features(
        &mut self,
        predictor: &Predictor,
        matrix: &mut Vec<f32>,
    ) -> Result<usize, Error> {
        if let (Some(patch), Features::Fields(fields)) = (self.patch(), &predictor.features) {
            let start = matrix.len();
            for path in fields {
                match patch.locate(path) {
                    Ok(Some(found)) => match plain_number(found.text()) {
                        Some(number) => matrix.push(number),
                        None => break,
                    },
                    _ => break,
                }
            }
            if matrix.len() - start == fields.len() {
                return Ok(fields.len());
            }
            matrix.truncate(start);
        }
        predictor.append_features(self.parsed()?, matrix)
    }

    fn value(&mut self) -> Result<&mut Value, Error> {
        self.parsed()
    }

    fn set_outputs(&mut self, outputs: Vec<(String, Value)>) -> Result<(), Error> {
        self.change(
            |patch| {
                outputs
                    .iter()
                    .all(|(field, value)| patch.set(field, value).is_ok())
                    .then_some(())
            },
            // Start again from the record, parsed.
            |value| value.set_outputs(outputs.clone()),
        )
    }
}

/// A record's value for a float feature: a JSON number, rounded to `f32`.
fn feature_number(value: &Value, name: &dyn std::fmt::Display) -> Result<f32, Error> {
    match value {
        Value::Number(number) => match number.as_f64().map(|n| n as f32) {
            Some(n) if n.is_finite() => Ok(n),
            // A JSON number beyond f32's range becomes infinite when
            // rounded; the record is at fault, not the model.
            Some(_) => Err(Error::new(format!(
                "field `{name}` is {number}, too large for the model's 32-bit float input"
            ))),
            None => Err(Error::new(format!("field `{name}` is not a finite number"))),
        },
        other => Err(Error::new(format!(
            "field `{name}` is {}, not a number",
            kind(other)
        ))),
    }
}

/// One graph input's values for a batch of rows, row-major: a model of
/// several inputs (a ColumnTransformer's numeric and categorical columns)
/// takes one such block per input.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

impl Block {
    fn new(kind: InputKind) -> Block {
        match kind {
            InputKind::Float => Block::Floats(Vec::new()),
            InputKind::Int64 => Block::Ints(Vec::new()),
            InputKind::Text => Block::Texts(Vec::new()),
        }
    }

    fn extend(&mut self, other: Block) {
        match (self, other) {
            (Block::Floats(a), Block::Floats(b)) => a.extend(b),
            (Block::Ints(a), Block::Ints(b)) => a.extend(b),
            (Block::Texts(a), Block::Texts(b)) => a.extend(b),
            // Blocks are made per input kind, so they always match.
            _ => {}
        }
    }

    /// Appends a record's `value` for the feature `name`.
    fn push(&mut self, value: &Value, name: &dyn std::fmt::Display) -> Result<(), Error> {
        match self {
            Block::Floats(data) => data.push(feature_number(value, name)?),
            Block::Ints(data) => match value {
                Value::Number(number) => data.push(number.as_i64().ok_or_else(|| {
                    Error::new(format!(
                        "field `{name}` is {number}, not an integer as the model's int64 input takes"
                    ))
                })?),
                other => {
                    return Err(Error::new(format!(
                        "field `{name}` is {}, not an integer",
                        kind(other)
                    )));
                }
            },
            Block::Texts(data) => match value {
                Value::String(text) => data.push(text.clone()),
                other => {
                    return Err(Error::new(format!(
                        "field `{name}` is {}, not a string as the model's string input takes",
                        kind(other)
                    )));
                }
            },
        }
        Ok(())
    }

    fn into_tensor(self, rows: usize, input: &InputInfo) -> Tensor {
        let shape = if input.flat {
            vec![rows]
        } else {
            vec![rows, input.width.unwrap_or(0)]
        };
        match self {
            Block::Floats(data) => Tensor::Float { shape, data },
            Block::Ints(data) => Tensor::Int64 { shape, data },
            Block::Texts(data) => Tensor::Text { shape, data },
        }
    }
}

/// A JSON number's text as the `f32` the parse path makes of it (serde_json
/// reads it as a finite `f64`); `None` for any other value, and for a
/// number too large for an `f32`, which the parse path reports.
fn plain_number(text: &str) -> Option<f32> {
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>()
        .ok()
        .map(|n| n as f32)
        .filter(|n| n.is_finite())
}

/// Row `row` of a float tensor holding `rows` rows of equal width.
fn floats(tensor: &Tensor, rows: usize, row: usize) -> Result<&[f32], Error> {
    match tensor {
        Tensor::Float { data, .. } if data.len().is_multiple_of(rows) => {
            let width = data.len() / rows;
            Ok(&data[row * width..(row + 1) * width])
        }
        Tensor::Float { data, .. } => Err(Error::new(format!(
            "the model produced {} numbers for {rows} rows",
            data.len()
        ))),
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
    assets: Assets,
    predictor: Option<Predictor>,
}

impl ModelApply {
    /// A transform reading its model from `assets` (the sandbox mounts the
    /// assets directory at [`Assets::SANDBOX_DIR`]; native tests pass a
    /// local one).
    pub fn with_assets(assets: impl Into<PathBuf>) -> ModelApply {
        ModelApply {
            assets: Assets::at(assets),
            predictor: None,
        }
    }
}

impl Transform for ModelApply {
    type Config = Config;

    fn init(&mut self, config: Config) -> Result<(), Error> {
        let bytes = self.assets.read("model", &config.model)?;
        self.predictor = Some(Predictor::new(config, &bytes)?);
        Ok(())
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        let mut edit = Edit::new(record)?;
        self.predictor()?.predict(&mut edit)?;
        edit.emit(output)
    }

    /// Parses every record, runs the model once over the chunk's good ones
    /// and settles each record with its predictions or its own error.
    fn process_chunk(
        &mut self,
        records: &[Record<'_>],
        output: &mut ChunkOutput,
    ) -> Result<(), Error> {
        let predictor = self.predictor()?;
        let mut edits: Vec<Result<Edit<'_>, Error>> =
            records.iter().map(|record| Edit::new(*record)).collect();
        predictor.predict_all(&mut edits);
        for result in edits {
            output.record(|writer| result?.emit(writer));
        }
        Ok(())
    }
}

impl ModelApply {
    fn predictor(&self) -> Result<&Predictor, Error> {
        self.predictor
            .as_ref()
            .ok_or_else(|| Error::new("process called before init"))
    }
}

/// The transform the component exports, reading `/assets`.
pub fn transform() -> ModelApply {
    ModelApply::with_assets(Assets::SANDBOX_DIR)
}

weir_guest::export!(transform());

#[cfg(test)]
mod tests {
    use weir_guest::testing::{self, Session};

    use super::*;

    const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");

    fn assets() -> ModelApply {
        ModelApply::with_assets(ASSETS)
    }

    fn case_file(case: &str, name: &str) -> String {
        let path = format!("{}/cases/{case}/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Reproducible feature values in `[low, high)`, one decimal, from a
    /// linear congruential generator.
    struct Features(u64);

    impl Features {
        fn next(&mut self, low: f64, high: f64) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
            (10.0 * (low + unit * (high - low))).round() / 10.0
        }
    }

    /// The scanning path (an [`Edit`]) writes what parsing the record
    /// writes, and fails as it fails: the NLP example's tickets with made-up
    /// category scores through its priority model, in compact and spaced
    /// JSON, and records built to take every turn (a missing feature, one
    /// that is a string, a number too large for a float, an output key
    /// already present, escapes and exponents).
    #[test]
    fn the_scan_path_writes_what_the_parse_path_writes() {
        let tickets = include_str!("../../../examples/nlp/data/tickets-2026-11-26.ndjson");
        let mut lines = Vec::new();
        for (i, line) in tickets.lines().enumerate() {
            let Ok(mut ticket) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let scores = serde_json::json!({"account": 0.1, "billing": 0.25, "returns": (i % 7) as f64 / 7.0,
                "shipping": 0.05, "technical": 1e-3});
            ticket["category_scores"] = scores;
            lines.push(serde_json::to_string(&ticket).expect("serializes"));
            lines.push(
                serde_json::to_string_pretty(&ticket)
                    .expect("serializes")
                    .replace('\n', " "),
            );
        }
        let built = [
            r#"{"category_scores":{"account":1E-1,"billing":0,"returns":0,"shipping":0,"technical":0},"customer":{"tenure_months":3},"order":{"total":1.5e2,"days_since_order":2},"previous_contacts":0,"priority":"old","t":"caf\u00e9"}"#,
            r#"{"category_scores":{"account":0.1},"customer":{"tenure_months":3},"order":{"total":10,"days_since_order":2},"previous_contacts":0}"#,
            r#"{"category_scores":{"account":"0.1","billing":0,"returns":0,"shipping":0,"technical":0},"customer":{"tenure_months":3},"order":{"total":10,"days_since_order":2},"previous_contacts":0}"#,
            r#"{"category_scores":{"account":1e400,"billing":0,"returns":0,"shipping":0,"technical":0},"customer":{"tenure_months":3},"order":{"total":10,"days_since_order":2},"previous_contacts":0}"#,
            r#"{"category_scores":{"account":0,"billing":0,"returns":0,"shipping":0,"technical":0},"customer":7,"order":{"total":10,"days_since_order":2},"previous_contacts":0}"#,
        ];
        lines.extend(built.iter().map(|line| (*line).to_owned()));
        let config: Config = serde_json::from_str(
            r#"{"model":"priority.onnx","inputs":["category_scores.account","category_scores.billing","category_scores.returns","category_scores.shipping","category_scores.technical","customer.tenure_months","order.total","order.days_since_order","previous_contacts"],"outputs":{"label":"priority","probabilities":"priority_scores"}}"#,
        )
        .expect("valid config");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/nlp/assets/score/priority.onnx"
        );
        let bytes = std::fs::read(path).expect("the example's model");
        let predictor = Predictor::new(config, &bytes).expect("loads");
        let mut scanned_ok = 0;
        for line in &lines {
            let via_scan = testing::with_record(line, |record, output| {
                let mut scanned = Edit::new(record).ok()?;
                let result = predictor
                    .predict(&mut scanned)
                    .map(|()| scanned.patch().is_some());
                match result {
                    Ok(patched) => {
                        scanned_ok += usize::from(patched);
                        scanned.emit(output).ok()
                    }
                    Err(e) => output.emit(&serde_json::json!({"error": e.message()})).ok(),
                }
            });
            let via_parse = testing::with_record(line, |record, output| {
                let mut value: Value = record.parse().ok()?;
                match predictor.predict(&mut value) {
                    Ok(()) => output.emit_from(&value, record).ok(),
                    Err(e) => output.emit(&serde_json::json!({"error": e.message()})).ok(),
                }
            });
            assert_eq!(via_scan, via_parse, "{line}");
        }
        assert!(scanned_ok >= 790, "only {scanned_ok} records were patched");
    }

    /// The chunk, then each record in a chunk of its own (as the host's
    /// isolation re-runs them).
    fn batch_and_alone(
        config: &str,
        records: &[String],
    ) -> (Vec<testing::RecordResult>, Vec<testing::RecordResult>) {
        let batch = testing::run(assets(), config, records);
        let mut session = Session::start(assets(), config).expect("valid config");
        let alone = records
            .iter()
            .flat_map(|record| session.process([record]))
            .collect();
        (batch, alone)
    }

    #[test]
    fn a_bad_record_fails_alone_and_the_rest_of_the_chunk_is_predicted() {
        let config = case_file("readme-example", "config.json");
        let expected: Vec<String> = case_file("readme-example", "expected.ndjson")
            .lines()
            .map(str::to_owned)
            .collect();
        let mut chunk: Vec<String> = case_file("readme-example", "input.ndjson")
            .lines()
            .map(str::to_owned)
            .collect();
        chunk.insert(
            2,
            r#"{"id":"bad","sepal":{"length":5.0,"width":3.0},"petal":{"length":1.5}}"#.to_owned(),
        );
        let results = testing::run(assets(), &config, &chunk);
        assert_eq!(results.len(), 5);
        assert_eq!(results[2], Err("field `petal.width` is missing".to_owned()));
        let good: Vec<_> = [0, 1, 3, 4].iter().map(|&i| results[i].clone()).collect();
        let wanted: Vec<_> = expected.iter().map(|line| Ok(vec![line.clone()])).collect();
        assert_eq!(good, wanted);
    }

    #[test]
    fn a_chunk_gives_every_record_what_it_gets_alone() {
        let mut features = Features(20_261_126);
        let iris: Vec<String> = (0..300)
            .map(|id| {
                let [sl, sw, pl, pw] = [
                    features.next(4.0, 8.0),
                    features.next(2.0, 4.5),
                    features.next(1.0, 7.0),
                    features.next(0.1, 2.6),
                ];
                format!(r#"{{"id":{id},"sepal_length":{sl},"sepal_width":{sw},"petal_length":{pl},"petal_width":{pw},"features":[{sl},{sw},{pl},{pw}]}}"#)
            })
            .chain([
                r#"{"id":"no petals","sepal_length":5.1,"sepal_width":3.5,"features":[5.1,3.5]}"#.to_owned(),
                r#"{"id":"text","sepal_length":"5.1","sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"features":"5.1"}"#.to_owned(),
                "not json".to_owned(),
            ])
            .collect();
        let diabetes: Vec<String> = (0..300)
            .map(|id| {
                let x: Vec<String> = (0..10)
                    .map(|_| (features.next(-1.0, 1.0) / 10.0).to_string())
                    .collect();
                format!(r#"{{"id":{id},"x":[{}]}}"#, x.join(","))
            })
            .chain([r#"{"id":"short","x":[0.1,0.2]}"#.to_owned()])
            .collect();
        let cases = [
            (
                r#"{"model":"iris-species.onnx","inputs":["sepal_length","sepal_width","petal_length","petal_width"],"outputs":{"label":"species","probabilities":"p"}}"#,
                &iris,
            ),
            (
                r#"{"model":"iris-forest.onnx","input_array":"features","outputs":{"label":"class","probabilities":"p"}}"#,
                &iris,
            ),
            (
                r#"{"model":"diabetes-linear.onnx","input_array":"x","outputs":{"value":"progression"}}"#,
                &diabetes,
            ),
        ];
        for (config, records) in cases {
            let (batch, alone) = batch_and_alone(config, records);
            assert_eq!(batch, alone, "{config}");
            let predicted = batch.iter().filter(|result| result.is_ok()).count();
            assert_eq!(predicted, 300, "{config}: {batch:?}");
        }
    }

    #[test]
    fn rows_the_model_rejects_fail_alone_when_it_does_not_declare_its_width() {
        let config: Config = serde_json::from_str(
            r#"{"model":"diabetes-linear.onnx","input_array":"x","outputs":{"value":"v"}}"#,
        )
        .expect("valid config");
        let bytes = std::fs::read(format!("{ASSETS}/diabetes-linear.onnx")).expect("example model");
        let mut predictor = Predictor::new(config, &bytes).expect("loads");
        predictor.model = predictor.model.with_undeclared_width();
        let record =
            |x: &str| serde_json::from_str::<Value>(&format!(r#"{{"x":[{x}]}}"#)).expect("JSON");
        let good = record("0.1,0,0,0,0,0,0,0,0,-0.1");
        let zeros = record("0,0,0,0,0,0,0,0,0,0");
        let short = record("0.1,0.2,0.3");

        // Rows of different widths: each row runs alone.
        let mut chunk = vec![Ok(good.clone()), Ok(short.clone()), Ok(zeros.clone())];
        predictor.predict_all(&mut chunk);
        let mut alone = [good, zeros];
        for record in &mut alone {
            predictor.predict(record).expect("a full row predicts");
        }
        assert_eq!(chunk[0].as_ref().ok(), Some(&alone[0]));
        assert_eq!(chunk[2].as_ref().ok(), Some(&alone[1]));
        let Err(error) = &chunk[1] else {
            panic!("a row of 3 features was predicted: {:?}", chunk[1]);
        };
        assert!(error.message().contains("3 features per row"), "{error}");

        // Rows of one width the model rejects: the batch fails, each alone.
        let mut chunk = vec![Ok(short.clone()), Err(Error::new("unparsed")), Ok(short)];
        predictor.predict_all(&mut chunk);
        let messages: Vec<_> = chunk
            .iter()
            .map(|result| result.as_ref().err().map(Error::message))
            .collect();
        assert!(
            messages[0].is_some_and(|message| message.contains("3 features per row")),
            "{messages:?}"
        );
        assert_eq!(messages[1], Some("unparsed"));
        assert_eq!(messages[0], messages[2]);
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
