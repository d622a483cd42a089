//! The operators: each built once from its `NodeProto` (attributes parsed
//! and checked), then run on whole batches.
//!
//! Numerics follow onnxruntime's CPU kernels, the reference the tests
//! compare against: inputs are `f32`, tree thresholds and leaf weights are
//! compared and summed in `f32` in tree order, and the binary-classifier
//! conventions (one score column widened to two, which label wins) are
//! onnxruntime's. Linear scores are summed in `f64` and rounded once, which
//! keeps them within an `f32` rounding of onnxruntime's BLAS result.
//!
//! Layout: [`linear`] holds LinearClassifier and LinearRegressor,
//! [`tree_ensemble`] the two tree ensembles, [`dense`] the standard-domain
//! operators (and ArrayFeatureExtractor), [`preprocess`] Imputer, Binarizer,
//! OneHotEncoder, LabelEncoder and FeatureVectorizer, [`svm`] SVMClassifier and SVMRegressor; the element-wise operators
//! (Normalizer, Scaler, ZipMap, Cast, Identity) and the shared score
//! transforms are here. This module knows nothing of records or graphs.

pub mod dense;
pub mod linear;
pub mod preprocess;
pub mod scan;
pub mod svm;
pub mod tree_ensemble;

use thiserror::Error;

use crate::onnx::{AttributeProto, NodeProto};
use crate::tensor::{ClassLabels, Tensor};

/// An operator that cannot be built, or cannot run on its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OperatorError {
    /// The operator is not one this crate implements.
    #[error(
        "operator `{}` is not supported (supported: {})",
        qualified(domain, op_type),
        SUPPORTED.join(", ")
    )]
    Unsupported {
        /// The node's domain (`ai.onnx.ml`, or empty for the default one).
        domain: String,
        /// The node's `op_type`.
        op_type: String,
    },
    /// A required attribute is absent, or has the wrong type or value.
    #[error("attribute `{name}`: {problem}")]
    Attribute {
        /// The attribute's name.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// An input has a type or shape the operator cannot take.
    #[error("input: {0}")]
    Input(String),
}

/// An operator's name with its domain, as ONNX writes it: `ai.onnx.Loop`
/// for the default domain (which a node leaves empty),
/// `ai.onnx.ml.TreeEnsemble` for the ML one.
pub fn qualified(domain: &str, op_type: &str) -> String {
    let domain = if domain.is_empty() { "ai.onnx" } else { domain };
    format!("{domain}.{op_type}")
}

fn unsupported(node: &NodeProto) -> OperatorError {
    OperatorError::Unsupported {
        domain: node.domain.clone(),
        op_type: node.op_type.clone(),
    }
}

/// The operators this crate implements, as `domain.op_type`.
pub const SUPPORTED: &[&str] = &[
    "ai.onnx.ml.LinearClassifier",
    "ai.onnx.ml.LinearRegressor",
    "ai.onnx.ml.TreeEnsembleClassifier",
    "ai.onnx.ml.TreeEnsembleRegressor",
    "ai.onnx.ml.Normalizer",
    "ai.onnx.ml.Scaler",
    "ai.onnx.ml.ZipMap",
    "ai.onnx.ml.ArrayFeatureExtractor",
    "ai.onnx.ml.SVMClassifier",
    "ai.onnx.ml.SVMRegressor",
    "ai.onnx.ml.Imputer",
    "ai.onnx.ml.Binarizer",
    "ai.onnx.ml.OneHotEncoder",
    "ai.onnx.ml.LabelEncoder",
    "ai.onnx.ml.FeatureVectorizer",
    "ai.onnx.Cast",
    "ai.onnx.Identity",
    "ai.onnx.Add",
    "ai.onnx.Sub",
    "ai.onnx.Mul",
    "ai.onnx.Div",
    "ai.onnx.Pow",
    "ai.onnx.Sum",
    "ai.onnx.Relu",
    "ai.onnx.Sigmoid",
    "ai.onnx.Tanh",
    "ai.onnx.Exp",
    "ai.onnx.Log",
    "ai.onnx.Sqrt",
    "ai.onnx.Abs",
    "ai.onnx.Neg",
    "ai.onnx.Reciprocal",
    "ai.onnx.Clip",
    "ai.onnx.MatMul",
    "ai.onnx.Gemm",
    "ai.onnx.Softmax",
    "ai.onnx.ArgMax",
    "ai.onnx.ReduceSum",
    "ai.onnx.ReduceMean",
    "ai.onnx.ReduceMax",
    "ai.onnx.ReduceSumSquare",
    "ai.onnx.ReduceLogSumExp",
    "ai.onnx.Reshape",
    "ai.onnx.Flatten",
    "ai.onnx.Squeeze",
    "ai.onnx.Unsqueeze",
    "ai.onnx.Concat",
    "ai.onnx.Transpose",
    "ai.onnx.Gather",
    "ai.onnx.Shape",
    "ai.onnx.Less",
    "ai.onnx.LessOrEqual",
    "ai.onnx.Greater",
    "ai.onnx.GreaterOrEqual",
    "ai.onnx.Equal",
    "ai.onnx.And",
    "ai.onnx.Or",
    "ai.onnx.Xor",
    "ai.onnx.Not",
    "ai.onnx.Where",
    "ai.onnx.Max",
    "ai.onnx.Min",
    "ai.onnx.ConstantOfShape",
    "ai.onnx.TopK",
    "ai.onnx.ArgMin",
    "ai.onnx.CumSum",
    "ai.onnx.GatherElements",
    "ai.onnx.Scan",
];

/// A built operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `ai.onnx.ml.LinearClassifier`.
    LinearClassifier(linear::LinearClassifier),
    /// `ai.onnx.ml.LinearRegressor`.
    LinearRegressor(linear::LinearRegressor),
    /// `ai.onnx.ml.TreeEnsembleClassifier`.
    TreeEnsembleClassifier(tree_ensemble::TreeEnsembleClassifier),
    /// `ai.onnx.ml.TreeEnsembleRegressor`.
    TreeEnsembleRegressor(tree_ensemble::TreeEnsembleRegressor),
    /// `ai.onnx.ml.Normalizer`: each row divided by its max, L1 or L2 norm.
    Normalizer(Norm),
    /// `ai.onnx.ml.Scaler`: `(x - offset) * scale` per column.
    Scaler {
        /// `offset`, one per column or one for all.
        offset: Vec<f32>,
        /// `scale`, one per column or one for all.
        scale: Vec<f32>,
    },
    /// `ai.onnx.ml.ZipMap`: the class scores keyed by label. The keys are
    /// the classifier's labels in the same order, so the scores pass
    /// through as a matrix; the labels are kept for the output's keys.
    ZipMap(ClassLabels),
    /// `Cast` to `float` or `int64`.
    Cast(CastTo),
    /// `Identity`.
    Identity,
    /// A standard-domain operator (or ArrayFeatureExtractor), see
    /// [`dense`].
    Dense(dense::Dense),
    /// `ai.onnx.ml.SVMClassifier`.
    SvmClassifier(svm::SvmClassifier),
    /// `Scan`, with its body.
    Scan(Box<scan::Scan>),
    /// `ai.onnx.ml.SVMRegressor`.
    SvmRegressor(svm::SvmRegressor),
    /// `ai.onnx.ml.Imputer`.
    Imputer(preprocess::Imputer),
    /// `ai.onnx.ml.Binarizer` with its `threshold`.
    Binarizer(f32),
    /// `ai.onnx.ml.OneHotEncoder`.
    OneHotEncoder(preprocess::OneHotEncoder),
    /// `ai.onnx.ml.LabelEncoder`.
    LabelEncoder(preprocess::LabelEncoder),
    /// `ai.onnx.ml.FeatureVectorizer` with its `inputdimensions`.
    FeatureVectorizer(Vec<usize>),
}

/// `Normalizer`'s `norm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// `MAX`.
    Max,
    /// `L1`.
    L1,
    /// `L2`.
    L2,
}

/// The element types `Cast` can produce here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastTo {
    /// `to = 1`.
    Float,
    /// `to = 7`.
    Int64,
    /// `to = 9`.
    Bool,
    /// `to = 6`: held as int64, as int32 constants are.
    Int32,
}

/// The score transform of the classifiers and regressors
/// (`post_transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTransform {
    /// `NONE`.
    None,
    /// `LOGISTIC`: `1 / (1 + e^-x)` per score.
    Logistic,
    /// `SOFTMAX` per row.
    Softmax,
    /// `SOFTMAX_ZERO`: softmax over the non-zero scores of a row.
    SoftmaxZero,
    /// `PROBIT`: `√2 · erfinv(2x - 1)` per score.
    Probit,
}

/// A node's attributes, looked up by name.
pub(crate) struct Attributes<'a>(&'a [AttributeProto]);

impl<'a> Attributes<'a> {
    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.0.iter().find(|attribute| attribute.name == name)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn float(&self, name: &str) -> f32 {
        self.get(name).map_or(0.0, |attribute| attribute.f)
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.get(name).map(|attribute| attribute.i)
    }

    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|attribute| String::from_utf8_lossy(&attribute.s).into_owned())
    }

    /// A tensor attribute (`t`), as a tensor.
    pub(crate) fn tensor(&self, name: &str) -> Option<Tensor> {
        self.get(name)
            .and_then(|attribute| attribute.t.as_ref())
            .map(crate::graph::constant)
    }

    /// A subgraph attribute (`g`).
    pub(crate) fn graph(&self, name: &str) -> Option<&'a crate::onnx::GraphProto> {
        self.get(name).and_then(|attribute| attribute.g.as_deref())
    }

    pub(crate) fn floats(&self, name: &str) -> Vec<f32> {
        self.get(name)
            .map(|attribute| attribute.floats.clone())
            .unwrap_or_default()
    }

    pub(crate) fn ints(&self, name: &str) -> Vec<i64> {
        self.get(name)
            .map(|attribute| attribute.ints.clone())
            .unwrap_or_default()
    }

    pub(crate) fn texts(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|attribute| {
                attribute
                    .strings
                    .iter()
                    .map(|text| String::from_utf8_lossy(text).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `classlabels_strings` if present, else the named integer labels.
    pub(crate) fn class_labels(&self, ints: &'static str) -> Result<ClassLabels, OperatorError> {
        let strings = self.texts("classlabels_strings");
        let labels = if strings.is_empty() {
            ClassLabels::Ints(self.ints(ints))
        } else {
            ClassLabels::Strings(strings)
        };
        if labels.is_empty() {
            return Err(OperatorError::Attribute {
                name: ints,
                problem: "no class labels (neither it nor `classlabels_strings` is set)".into(),
            });
        }
        Ok(labels)
    }

    pub(crate) fn post_transform(&self) -> Result<PostTransform, OperatorError> {
        match self.text("post_transform").as_deref().unwrap_or("NONE") {
            "NONE" => Ok(PostTransform::None),
            "LOGISTIC" => Ok(PostTransform::Logistic),
            "SOFTMAX" => Ok(PostTransform::Softmax),
            "SOFTMAX_ZERO" => Ok(PostTransform::SoftmaxZero),
            "PROBIT" => Ok(PostTransform::Probit),
            other => Err(OperatorError::Attribute {
                name: "post_transform",
                problem: format!("unknown transform {other:?}"),
            }),
        }
    }
}

impl Operator {
    /// Builds the operator for `node`.
    ///
    /// # Errors
    ///
    /// The operator is not supported, or its attributes are unusable.
    pub fn from_node(node: &NodeProto) -> Result<Operator, OperatorError> {
        let attributes = Attributes(&node.attribute);
        let ml = node.domain == "ai.onnx.ml";
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        Ok(match (node.op_type.as_str(), ml, standard) {
            ("LinearClassifier", true, _) => {
                Operator::LinearClassifier(linear::LinearClassifier::new(&attributes)?)
            }
            ("LinearRegressor", true, _) => {
                Operator::LinearRegressor(linear::LinearRegressor::new(&attributes)?)
            }
            ("TreeEnsembleClassifier", true, _) => Operator::TreeEnsembleClassifier(
                tree_ensemble::TreeEnsembleClassifier::new(&attributes)?,
            ),
            ("TreeEnsembleRegressor", true, _) => Operator::TreeEnsembleRegressor(
                tree_ensemble::TreeEnsembleRegressor::new(&attributes)?,
            ),
            ("Normalizer", true, _) => {
                Operator::Normalizer(match attributes.text("norm").as_deref().unwrap_or("MAX") {
                    "MAX" => Norm::Max,
                    "L1" => Norm::L1,
                    "L2" => Norm::L2,
                    other => {
                        return Err(OperatorError::Attribute {
                            name: "norm",
                            problem: format!("unknown norm {other:?}"),
                        });
                    }
                })
            }
            ("Scaler", true, _) => Operator::Scaler {
                offset: attributes.floats("offset"),
                scale: attributes.floats("scale"),
            },
            ("ZipMap", true, _) => Operator::ZipMap(attributes.class_labels("classlabels_int64s")?),
            ("Cast", _, true) => Operator::Cast(match attributes.int("to") {
                Some(1) => CastTo::Float,
                Some(7) => CastTo::Int64,
                Some(9) => CastTo::Bool,
                Some(6) => CastTo::Int32,
                other => {
                    return Err(OperatorError::Attribute {
                        name: "to",
                        problem: format!(
                            "casting to element type {other:?} is not supported (only 1, float, 6, int32, 7, int64, and 9, bool)"
                        ),
                    });
                }
            }),
            ("Identity", _, true) => Operator::Identity,
            ("Scan", _, true) => Operator::Scan(Box::new(scan::Scan::new(&attributes)?)),
            ("SVMClassifier", true, _) => {
                Operator::SvmClassifier(svm::SvmClassifier::new(&attributes)?)
            }
            ("SVMRegressor", true, _) => {
                Operator::SvmRegressor(svm::SvmRegressor::new(&attributes)?)
            }
            ("Imputer", true, _) => Operator::Imputer(preprocess::Imputer::new(&attributes)?),
            ("Binarizer", true, _) => Operator::Binarizer(attributes.float("threshold")),
            ("OneHotEncoder", true, _) => {
                Operator::OneHotEncoder(preprocess::OneHotEncoder::new(&attributes)?)
            }
            ("LabelEncoder", true, _) => {
                Operator::LabelEncoder(preprocess::LabelEncoder::new(&attributes)?)
            }
            ("FeatureVectorizer", true, _) => Operator::FeatureVectorizer(
                attributes
                    .ints("inputdimensions")
                    .iter()
                    .map(|&d| usize::try_from(d))
                    .collect::<Result<_, _>>()
                    .map_err(|_| OperatorError::Attribute {
                        name: "inputdimensions",
                        problem: "a negative dimension".into(),
                    })?,
            ),
            ("ArrayFeatureExtractor", true, _) => {
                Operator::Dense(dense::Dense::ArrayFeatureExtractor)
            }
            (op_type, _, true) => match dense::Dense::from_node(op_type, &attributes) {
                Some(op) => Operator::Dense(op),
                None => return Err(unsupported(node)),
            },
            _ => return Err(unsupported(node)),
        })
    }

    /// The class labels this operator attaches to its scores, if it is a
    /// classifier or a ZipMap.
    pub fn class_labels(&self) -> Option<&ClassLabels> {
        match self {
            Operator::LinearClassifier(op) => Some(op.labels()),
            Operator::TreeEnsembleClassifier(op) => Some(op.labels()),
            Operator::SvmClassifier(op) => Some(op.labels()),
            Operator::ZipMap(labels) => Some(labels),
            _ => None,
        }
    }

    /// Runs the operator on one batch.
    ///
    /// # Errors
    ///
    /// An input has the wrong type or shape.
    pub fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OperatorError> {
        let first = *inputs
            .first()
            .ok_or_else(|| OperatorError::Input("no input given".into()))?;
        match self {
            Operator::LinearClassifier(op) => {
                let (rows, columns, x) = float_rows(first)?;
                op.run(rows, columns, x)
            }
            Operator::LinearRegressor(op) => {
                let (rows, columns, x) = float_rows(first)?;
                op.run(rows, columns, x).map(|tensor| vec![tensor])
            }
            Operator::TreeEnsembleClassifier(op) => {
                let (rows, columns, x) = float_rows(first)?;
                op.run(rows, columns, x)
            }
            Operator::TreeEnsembleRegressor(op) => {
                let (rows, columns, x) = float_rows(first)?;
                op.run(rows, columns, x).map(|tensor| vec![tensor])
            }
            Operator::Normalizer(norm) => {
                let (rows, columns, x) = float_rows(first)?;
                Ok(vec![Tensor::matrix(
                    rows,
                    columns,
                    normalize(*norm, columns, x),
                )])
            }
            Operator::Scaler { offset, scale } => {
                let (rows, columns, x) = float_rows(first)?;
                let pick = |values: &[f32], column: usize, default: f32| match values.len() {
                    0 => default,
                    1 => values[0],
                    _ => values.get(column).copied().unwrap_or(default),
                };
                let data = x
                    .iter()
                    .enumerate()
                    .map(|(i, &value)| {
                        let column = i % columns.max(1);
                        (value - pick(offset, column, 0.0)) * pick(scale, column, 1.0)
                    })
                    .collect();
                Ok(vec![Tensor::matrix(rows, columns, data)])
            }
            Operator::ZipMap(labels) => {
                let (_, columns, _) = float_rows(first)?;
                if columns != labels.len() {
                    return Err(OperatorError::Input(format!(
                        "{columns} scores per row for {} class labels",
                        labels.len()
                    )));
                }
                Ok(vec![first.clone()])
            }
            Operator::Cast(to) => Ok(vec![cast(first, *to)?]),
            Operator::Identity => Ok(vec![first.clone()]),
            Operator::Dense(op) => op.run(inputs),
            Operator::SvmClassifier(op) => op.run(first),
            Operator::Scan(op) => op.run(inputs),
            Operator::SvmRegressor(op) => Ok(vec![op.run(first)?]),
            Operator::Imputer(op) => Ok(vec![op.run(first)?]),
            Operator::Binarizer(threshold) => Ok(vec![preprocess::binarize(*threshold, first)?]),
            Operator::OneHotEncoder(op) => Ok(vec![op.run(first)?]),
            Operator::LabelEncoder(op) => Ok(vec![op.run(first)?]),
            Operator::FeatureVectorizer(dimensions) => {
                Ok(vec![preprocess::vectorize(dimensions, inputs)?])
            }
        }
    }
}

/// A float input as (rows, columns, data): a 1-D tensor is one row.
fn float_rows(tensor: &Tensor) -> Result<(usize, usize, &[f32]), OperatorError> {
    let Tensor::Float { shape, data } = tensor else {
        return Err(OperatorError::Input(format!(
            "expected tensor(float), got {}",
            tensor.type_name()
        )));
    };
    Ok(match shape.as_slice() {
        [columns] => (1, *columns, data),
        _ => {
            let (rows, columns) = tensor.rows_and_columns();
            (rows, columns, data)
        }
    })
}

fn cast(tensor: &Tensor, to: CastTo) -> Result<Tensor, OperatorError> {
    let shape = tensor.shape().to_vec();
    Ok(match (tensor, to) {
        (Tensor::Float { .. }, CastTo::Float)
        | (Tensor::Int64 { .. }, CastTo::Int64)
        | (Tensor::Bool { .. }, CastTo::Bool) => tensor.clone(),
        (Tensor::Float { data, .. }, CastTo::Int64) => Tensor::Int64 {
            shape,
            // ONNX Cast truncates toward zero; `as` does the same and
            // saturates instead of invoking undefined behaviour.
            data: data.iter().map(|&value| value as i64).collect(),
        },
        (Tensor::Int64 { data, .. }, CastTo::Float) => Tensor::Float {
            shape,
            data: data.iter().map(|&value| value as f32).collect(),
        },
        (Tensor::Bool { data, .. }, CastTo::Float) => Tensor::Float {
            shape,
            data: data
                .iter()
                .map(|&value| f32::from(u8::from(value)))
                .collect(),
        },
        (Tensor::Bool { data, .. }, CastTo::Int64) => Tensor::Int64 {
            shape,
            data: data.iter().map(|&value| i64::from(value)).collect(),
        },
        (Tensor::Float { data, .. }, CastTo::Bool) => Tensor::Bool {
            shape,
            data: data.iter().map(|&value| value != 0.0).collect(),
        },
        (Tensor::Int64 { data, .. }, CastTo::Bool) => Tensor::Bool {
            shape,
            data: data.iter().map(|&value| value != 0).collect(),
        },
        // int32 is held as int64: truncated toward zero (saturating, for
        // floats) and wrapped to 32 bits.
        (Tensor::Float { data, .. }, CastTo::Int32) => Tensor::Int64 {
            shape,
            data: data.iter().map(|&value| i64::from(value as i32)).collect(),
        },
        (Tensor::Int64 { data, .. }, CastTo::Int32) => Tensor::Int64 {
            shape,
            data: data.iter().map(|&value| i64::from(value as i32)).collect(),
        },
        (Tensor::Bool { data, .. }, CastTo::Int32) => Tensor::Int64 {
            shape,
            data: data.iter().map(|&value| i64::from(value)).collect(),
        },
        (Tensor::Text { .. }, _) => {
            return Err(OperatorError::Input(
                "casting a tensor(string) is not supported".into(),
            ));
        }
    })
}

fn normalize(norm: Norm, columns: usize, x: &[f32]) -> Vec<f32> {
    let mut out = x.to_vec();
    for row in out.chunks_mut(columns.max(1)) {
        let divisor = match norm {
            Norm::Max => row.iter().copied().fold(f32::MIN, f32::max),
            Norm::L1 => row.iter().map(|value| value.abs()).sum(),
            Norm::L2 => row.iter().map(|value| value * value).sum::<f32>().sqrt(),
        };
        for value in row.iter_mut() {
            *value /= divisor;
        }
    }
    out
}

/// onnxruntime's `ComputeLogistic`.
pub(crate) fn logistic(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 { 1.0 - v } else { v }
}

/// onnxruntime's `ComputeProbit`, with its approximate `ErfInv`.
pub(crate) fn probit(x: f32) -> f32 {
    let x = 2.0 * x - 1.0;
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.ln();
    let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147 * log;
    let v3 = -v + (v * v - v2).sqrt();
    std::f32::consts::SQRT_2 * sign * v3.sqrt()
}

impl PostTransform {
    /// Applies the transform to one row of two or more scores.
    pub(crate) fn apply_row(self, row: &mut [f32]) {
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => row.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Probit => row.iter_mut().for_each(|s| *s = probit(*s)),
            PostTransform::Softmax => {
                let max = row.iter().copied().fold(f32::MIN, f32::max);
                let mut sum = 0.0f32;
                for s in row.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                row.iter_mut().for_each(|s| *s /= sum);
            }
            PostTransform::SoftmaxZero => {
                let max = row.iter().copied().fold(f32::MIN, f32::max);
                let exp_neg_max = (-max).exp();
                let mut sum = 0.0f32;
                for s in row.iter_mut() {
                    if s.abs() > 0.000_000_1 {
                        *s = (*s - max).exp();
                        sum += *s;
                    } else {
                        *s *= exp_neg_max;
                    }
                }
                row.iter_mut().for_each(|s| *s /= sum);
            }
        }
    }
}

/// The index of the first largest score (ties go to the lower index, as
/// in onnxruntime and numpy).
pub(crate) fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &score) in row.iter().enumerate().skip(1) {
        if score > row[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one() {
        let mut row = [1.0, 2.0, 3.0];
        PostTransform::Softmax.apply_row(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[2] > row[1] && row[1] > row[0]);
    }

    #[test]
    fn an_unsupported_operator_is_named_with_its_domain() {
        for (domain, qualified) in [("", "ai.onnx.Loop"), ("ai.onnx.ml", "ai.onnx.ml.Loop")] {
            let node = NodeProto {
                op_type: "Loop".into(),
                domain: domain.into(),
                ..NodeProto::default()
            };
            let error = Operator::from_node(&node).expect_err("unsupported");
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("operator `{qualified}` is not supported")),
                "{message}"
            );
        }
    }

    #[test]
    fn argmax_prefers_first_of_equal_scores() {
        assert_eq!(argmax(&[0.25, 0.5, 0.5]), 1);
    }

    #[test]
    fn l1_normalizer_divides_by_absolute_sum() {
        assert_eq!(
            normalize(Norm::L1, 2, &[1.0, 3.0, 2.0, -2.0]),
            [0.25, 0.75, 0.5, -0.5]
        );
    }
}
