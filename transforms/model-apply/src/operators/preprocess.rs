//! The ONNX-ML preprocessing operators scikit-learn's transformers export
//! to, besides Scaler and Normalizer: `Imputer` (SimpleImputer),
//! `Binarizer` and `OneHotEncoder`.
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
}
