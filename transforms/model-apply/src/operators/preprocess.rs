//! The ONNX-ML preprocessing operators scikit-learn's transformers export
//! to, besides Scaler and Normalizer: `Imputer` (SimpleImputer),
//! `Binarizer`, `OneHotEncoder`, `LabelEncoder` and `FeatureVectorizer`
//! (the columns of several inputs side by side).
//!
//! Each works element by element, so every row is computed on its own.
//! This module knows nothing of records or graphs.

use super::{Attributes, OperatorError};
use crate::tensor::Tensor;

/// `ai.onnx.ml.Imputer` on floats: each value equal to
/// `replaced_value_float` (NaN by default, matching NaN) becomes its
/// column's `imputed_value_floats` entry (or the single one for all).
#[derive(Debug, Clone, PartialEq)]
pub struct Imputer {
    imputed: Vec<f32>,
    replaced: f32,
}

impl Imputer {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<Imputer, OperatorError> {
        let imputed = attributes.floats("imputed_value_floats");
        if imputed.is_empty() {
            return Err(OperatorError::Attribute {
                name: "imputed_value_floats",
                problem: "absent or empty (only float imputation is supported)".into(),
            });
        }
        let replaced = if attributes.has("replaced_value_float") {
            attributes.float("replaced_value_float")
        } else {
            f32::NAN
        };
        Ok(Imputer { imputed, replaced })
    }

    pub(crate) fn run(&self, input: &Tensor) -> Result<Tensor, OperatorError> {
        let Tensor::Float { shape, data } = input else {
            return Err(OperatorError::Input(format!(
                "expected tensor(float), got {}",
                input.type_name()
            )));
        };
        let columns = shape.last().copied().unwrap_or(1).max(1);
        if self.imputed.len() != 1 && self.imputed.len() != columns {
            return Err(OperatorError::Input(format!(
                "{columns} columns for {} imputed values",
                self.imputed.len()
            )));
        }
        let replace = |x: f32| {
            if self.replaced.is_nan() {
                x.is_nan()
            } else {
                x == self.replaced
            }
        };
        let data = data
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if replace(x) {
                    self.imputed[if self.imputed.len() == 1 {
                        0
                    } else {
                        i % columns
                    }]
                } else {
                    x
                }
            })
            .collect();
        Ok(Tensor::Float {
            shape: shape.clone(),
            data,
        })
    }
}

/// `ai.onnx.ml.Binarizer`: 1 above `threshold`, else 0.
pub(crate) fn binarize(threshold: f32, input: &Tensor) -> Result<Tensor, OperatorError> {
    let Tensor::Float { shape, data } = input else {
        return Err(OperatorError::Input(format!(
            "expected tensor(float), got {}",
            input.type_name()
        )));
    };
    Ok(Tensor::Float {
        shape: shape.clone(),
        data: data
            .iter()
            .map(|&x| if x > threshold { 1.0 } else { 0.0 })
            .collect(),
    })
}

/// The categories of a `OneHotEncoder`.
#[derive(Debug, Clone, PartialEq)]
enum Categories {
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

/// `ai.onnx.ml.OneHotEncoder`: each input element becomes a row of
/// zeros with a one at its category; the output shape is the input's plus
/// one axis of categories, as in onnxruntime.
#[derive(Debug, Clone, PartialEq)]
pub struct OneHotEncoder {
    categories: Categories,
    /// `zeros`: an unknown category gives all zeros (1) or fails (0).
    unknown_gives_zeros: bool,
}

impl OneHotEncoder {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<OneHotEncoder, OperatorError> {
        let strings = attributes.texts("cats_strings");
        let categories = if strings.is_empty() {
            Categories::Ints(attributes.ints("cats_int64s"))
        } else {
            Categories::Strings(strings)
        };
        if matches!(&categories, Categories::Ints(ints) if ints.is_empty()) {
            return Err(OperatorError::Attribute {
                name: "cats_int64s",
                problem: "no categories (neither it nor `cats_strings` is set)".into(),
            });
        }
        Ok(OneHotEncoder {
            categories,
            unknown_gives_zeros: attributes.int("zeros").unwrap_or(1) != 0,
        })
    }

    pub(crate) fn run(&self, input: &Tensor) -> Result<Tensor, OperatorError> {
        let positions: Vec<Option<usize>> = match (&self.categories, input) {
            (Categories::Ints(categories), Tensor::Int64 { data, .. }) => data
                .iter()
                .map(|x| categories.iter().position(|c| c == x))
                .collect(),
            // onnxruntime casts float input to int64 first.
            (Categories::Ints(categories), Tensor::Float { data, .. }) => data
                .iter()
                .map(|&x| categories.iter().position(|&c| c == x as i64))
                .collect(),
            (Categories::Strings(categories), Tensor::Text { data, .. }) => data
                .iter()
                .map(|x| categories.iter().position(|c| c == x))
                .collect(),
            _ => {
                return Err(OperatorError::Input(format!(
                    "{} for {} categories",
                    input.type_name(),
                    match self.categories {
                        Categories::Ints(_) => "int64",
                        Categories::Strings(_) => "string",
                    }
                )));
            }
        };
        let width = match &self.categories {
            Categories::Ints(categories) => categories.len(),
            Categories::Strings(categories) => categories.len(),
        };
        let mut data = vec![0.0f32; positions.len() * width];
        for (row, position) in positions.iter().enumerate() {
            match position {
                Some(column) => data[row * width + column] = 1.0,
                None if self.unknown_gives_zeros => {}
                None => {
                    return Err(OperatorError::Input(
                        "a value is not among the encoder's categories (`zeros` is 0)".into(),
                    ));
                }
            }
        }
        let mut shape = input.shape().to_vec();
        shape.push(width);
        Ok(Tensor::Float { shape, data })
    }
}

/// The keys of a `LabelEncoder`.
#[derive(Debug, Clone, PartialEq)]
enum Keys {
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

/// `ai.onnx.ml.LabelEncoder` (opset 2 and later, and opset 1's
/// `classes_strings`): each element replaced by the value at its key's
/// position, or the default when it has no key.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelEncoder {
    keys: Keys,
    /// The values, one per key, then the default: a key's position picks
    /// its value, a missing key the last element.
    table: Tensor,
}

impl LabelEncoder {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<LabelEncoder, OperatorError> {
        let bad = |name: &'static str, problem: String| OperatorError::Attribute { name, problem };
        let classes = attributes.texts("classes_strings");
        let (keys, values) = if !classes.is_empty() {
            // Opset 1: strings to their index, and back.
            let indices: Vec<i64> = (0..classes.len() as i64).collect();
            (
                Keys::Strings(classes),
                Tensor::Int64 {
                    shape: vec![indices.len()],
                    data: indices,
                },
            )
        } else {
            let keys = if attributes.has("keys_strings") {
                Keys::Strings(attributes.texts("keys_strings"))
            } else if attributes.has("keys_int64s") {
                Keys::Ints(attributes.ints("keys_int64s"))
            } else if attributes.has("keys_floats") {
                Keys::Floats(attributes.floats("keys_floats"))
            } else {
                return Err(bad(
                    "keys_strings",
                    "no keys (`keys_strings`, `keys_int64s` or `keys_floats`; `keys_tensor` is not supported)".into(),
                ));
            };
            let values = if attributes.has("values_strings") {
                let data = attributes.texts("values_strings");
                Tensor::Text {
                    shape: vec![data.len()],
                    data,
                }
            } else if attributes.has("values_int64s") {
                let data = attributes.ints("values_int64s");
                Tensor::Int64 {
                    shape: vec![data.len()],
                    data,
                }
            } else if attributes.has("values_floats") {
                let data = attributes.floats("values_floats");
                Tensor::Float {
                    shape: vec![data.len()],
                    data,
                }
            } else {
                return Err(bad(
                    "values_strings",
                    "no values (`values_strings`, `values_int64s` or `values_floats`; `values_tensor` is not supported)".into(),
                ));
            };
            (keys, values)
        };
        let count = match &keys {
            Keys::Floats(keys) => keys.len(),
            Keys::Ints(keys) => keys.len(),
            Keys::Strings(keys) => keys.len(),
        };
        if values.len() != count {
            return Err(bad(
                "values_strings",
                format!("{} values for {count} keys", values.len()),
            ));
        }
        // The defaults are the specification's: -1, "_Unused", -0.0.
        let table = match values {
            Tensor::Int64 { mut data, .. } => {
                data.push(attributes.int("default_int64").unwrap_or(-1));
                Tensor::Int64 {
                    shape: vec![data.len()],
                    data,
                }
            }
            Tensor::Text { mut data, .. } => {
                data.push(
                    attributes
                        .text("default_string")
                        .unwrap_or_else(|| "_Unused".into()),
                );
                Tensor::Text {
                    shape: vec![data.len()],
                    data,
                }
            }
            Tensor::Float { mut data, .. } => {
                data.push(if attributes.has("default_float") {
                    attributes.float("default_float")
                } else {
                    -0.0
                });
                Tensor::Float {
                    shape: vec![data.len()],
                    data,
                }
            }
            Tensor::Bool { .. } => {
                return Err(bad("values_strings", "boolean values".into()));
            }
        };
        Ok(LabelEncoder { keys, table })
    }

    pub(crate) fn run(&self, input: &Tensor) -> Result<Tensor, OperatorError> {
        let missing = self.table.len() - 1;
        let position = |found: Option<usize>| found.unwrap_or(missing);
        let indices: Vec<usize> = match (&self.keys, input) {
            (Keys::Strings(keys), Tensor::Text { data, .. }) => data
                .iter()
                .map(|x| position(keys.iter().position(|key| key == x)))
                .collect(),
            (Keys::Ints(keys), Tensor::Int64 { data, .. }) => data
                .iter()
                .map(|x| position(keys.iter().position(|key| key == x)))
                .collect(),
            (Keys::Floats(keys), Tensor::Float { data, .. }) => data
                .iter()
                .map(|x| {
                    position(
                        keys.iter()
                            .position(|key| key == x || (key.is_nan() && x.is_nan())),
                    )
                })
                .collect(),
            (_, other) => {
                return Err(OperatorError::Input(format!(
                    "{} does not match the encoder's keys",
                    other.type_name()
                )));
            }
        };
        Ok(self.table.take(&indices, input.shape().to_vec()))
    }
}

/// `ai.onnx.ml.FeatureVectorizer`: the inputs' rows side by side, as
/// floats, input `i` taking `inputdimensions[i]` columns (cut, or padded
/// with zeros).
pub(crate) fn vectorize(dimensions: &[usize], inputs: &[&Tensor]) -> Result<Tensor, OperatorError> {
    if dimensions.len() != inputs.len() {
        return Err(OperatorError::Input(format!(
            "{} inputs for {} input dimensions",
            inputs.len(),
            dimensions.len()
        )));
    }
    let rows = inputs[0].rows_and_columns().0;
    let width: usize = dimensions.iter().sum();
    let mut out = vec![0.0f32; rows * width];
    let mut offset = 0;
    for (&dimension, input) in dimensions.iter().zip(inputs) {
        let (input_rows, columns) = input.rows_and_columns();
        if input_rows != rows {
            return Err(OperatorError::Input(format!(
                "inputs of {rows} and {input_rows} rows"
            )));
        }
        let floats: Vec<f32> = match input {
            Tensor::Float { data, .. } => data.clone(),
            Tensor::Int64 { data, .. } => data.iter().map(|&x| x as f32).collect(),
            Tensor::Bool { data, .. } => data.iter().map(|&x| f32::from(u8::from(x))).collect(),
            Tensor::Text { .. } => {
                return Err(OperatorError::Input(
                    "FeatureVectorizer takes numbers, not tensor(string)".into(),
                ));
            }
        };
        for row in 0..rows {
            for column in 0..dimension.min(columns) {
                out[row * width + offset + column] = floats[row * columns + column];
            }
        }
        offset += dimension;
    }
    Ok(Tensor::matrix(rows, width, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_encoder_adds_an_axis_and_leaves_unknown_values_at_zero() {
        let encoder = OneHotEncoder {
            categories: Categories::Strings(vec!["a".into(), "b".into()]),
            unknown_gives_zeros: true,
        };
        let input = Tensor::Text {
            shape: vec![3, 1],
            data: vec!["b".into(), "z".into(), "a".into()],
        };
        let out = encoder.run(&input).expect("encodes");
        assert_eq!(
            out,
            Tensor::Float {
                shape: vec![3, 1, 2],
                data: vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
            }
        );
    }

    #[test]
    fn imputer_replaces_nan_per_column() {
        let imputer = Imputer {
            imputed: vec![1.5, 2.5],
            replaced: f32::NAN,
        };
        let input = Tensor::matrix(2, 2, vec![f32::NAN, 0.0, 3.0, f32::NAN]);
        let out = imputer.run(&input).expect("imputes");
        assert_eq!(out, Tensor::matrix(2, 2, vec![1.5, 0.0, 3.0, 2.5]));
    }

    #[test]
    fn label_encoder_maps_keys_and_gives_the_default_for_others() {
        let encoder = LabelEncoder {
            keys: Keys::Strings(vec!["female".into(), "male".into()]),
            table: Tensor::Int64 {
                shape: vec![3],
                data: vec![0, 1, -1],
            },
        };
        let input = Tensor::Text {
            shape: vec![3],
            data: vec!["male".into(), "other".into(), "female".into()],
        };
        assert_eq!(
            encoder.run(&input).expect("encodes"),
            Tensor::Int64 {
                shape: vec![3],
                data: vec![1, -1, 0]
            }
        );
        let wrong = Tensor::matrix(1, 1, vec![1.0]);
        assert!(encoder.run(&wrong).is_err());
    }

    #[test]
    fn feature_vectorizer_puts_inputs_side_by_side_cut_or_padded() {
        let a = Tensor::matrix(2, 2, vec![1.0, 2.0, 3.0, 4.0]);
        let b = Tensor::Int64 {
            shape: vec![2, 1],
            data: vec![7, 8],
        };
        let out = vectorize(&[1, 2], &[&a, &b]).expect("joins");
        assert_eq!(
            out,
            Tensor::matrix(2, 3, vec![1.0, 7.0, 0.0, 3.0, 8.0, 0.0])
        );
    }
}
