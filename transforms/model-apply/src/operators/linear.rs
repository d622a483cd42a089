//! `LinearClassifier` and `LinearRegressor`: `scores = X · Wᵀ + b`, then a
//! score transform; the classifier also picks a label.
//!
//! scikit-learn's LogisticRegression, RidgeClassifier and
//! LinearRegression, Ridge, Lasso export to these. Scores are summed in
//! `f64` and rounded to `f32` once.

use super::{Attributes, OperatorError, PostTransform, argmax};
use crate::tensor::{ClassLabels, Tensor};

/// The weights shared by both operators: one row of coefficients and one
/// intercept per score column.
#[derive(Debug, Clone, PartialEq)]
struct Weights {
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    targets: usize,
    features: usize,
}

impl Weights {
    fn new(attributes: &Attributes<'_>, targets: usize) -> Result<Weights, OperatorError> {
        let coefficients = attributes.floats("coefficients");
        let mut intercepts = attributes.floats("intercepts");
        if targets == 0 || coefficients.is_empty() || !coefficients.len().is_multiple_of(targets) {
            return Err(OperatorError::Attribute {
                name: "coefficients",
                problem: format!(
                    "{} coefficients do not divide into {targets} rows",
                    coefficients.len()
                ),
            });
        }
        if intercepts.is_empty() {
            intercepts = vec![0.0; targets];
        }
        if intercepts.len() != targets {
            return Err(OperatorError::Attribute {
                name: "intercepts",
                problem: format!("{} intercepts for {targets} targets", intercepts.len()),
            });
        }
        Ok(Weights {
            features: coefficients.len() / targets,
            coefficients,
            intercepts,
            targets,
        })
    }

    /// The raw scores, `rows × targets`.
    fn scores(&self, rows: usize, columns: usize, x: &[f32]) -> Result<Vec<f32>, OperatorError> {
        if columns != self.features {
            return Err(OperatorError::Input(format!(
                "{columns} features per row; the model has coefficients for {}",
                self.features
            )));
        }
        let mut scores = Vec::with_capacity(rows * self.targets);
        for row in x.chunks_exact(columns.max(1)).take(rows) {
            for (weights, &intercept) in self
                .coefficients
                .chunks_exact(self.features)
                .zip(&self.intercepts)
            {
                let dot: f64 = row
                    .iter()
                    .zip(weights)
                    .map(|(&x, &w)| f64::from(x) * f64::from(w))
                    .sum();
                scores.push((dot + f64::from(intercept)) as f32);
            }
        }
        Ok(scores)
    }
}

/// `ai.onnx.ml.LinearClassifier`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearClassifier {
    weights: Weights,
    labels: ClassLabels,
    post_transform: PostTransform,
}

impl LinearClassifier {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<LinearClassifier, OperatorError> {
        let labels = attributes.class_labels("classlabels_ints")?;
        let targets = attributes.floats("intercepts").len().max(1);
        Ok(LinearClassifier {
            weights: Weights::new(attributes, targets)?,
            labels,
            post_transform: attributes.post_transform()?,
        })
    }

    /// The class labels, in score-column order.
    pub fn labels(&self) -> &ClassLabels {
        &self.labels
    }

    /// Labels `[rows]` and scores `[rows, classes]`.
    pub(crate) fn run(
        &self,
        rows: usize,
        columns: usize,
        x: &[f32],
    ) -> Result<Vec<Tensor>, OperatorError> {
        let targets = self.weights.targets;
        let mut scores = self.weights.scores(rows, columns, x)?;
        if targets == 1 {
            // One score column: its sign picks the label, and (as in
            // onnxruntime) a two-label model gets the column `[1 - s, s]`,
            // with only PROBIT applied.
            let indices: Vec<usize> = scores.iter().map(|&s| usize::from(s > 0.0)).collect();
            let label_tensor = if self.labels.len() == 2 {
                self.labels.select(&indices)
            } else {
                Tensor::Int64 {
                    shape: vec![rows],
                    data: indices.iter().map(|&i| i as i64).collect(),
                }
            };
            let (width, data) = if self.post_transform == PostTransform::Probit {
                (1, scores.iter().map(|&s| super::probit(s)).collect())
            } else if self.labels.len() == 2 {
                (2, scores.iter().flat_map(|&s| [1.0 - s, s]).collect())
            } else {
                (1, scores)
            };
            return Ok(vec![label_tensor, Tensor::matrix(rows, width, data)]);
        }
        if self.labels.len() != targets {
            return Err(OperatorError::Input(format!(
                "{targets} score columns for {} class labels",
                self.labels.len()
            )));
        }
        let mut indices = Vec::with_capacity(rows);
        for row in scores.chunks_exact_mut(targets) {
            indices.push(argmax(row));
            self.post_transform.apply_row(row);
        }
        Ok(vec![
            self.labels.select(&indices),
            Tensor::matrix(rows, targets, scores),
        ])
    }
}

/// `ai.onnx.ml.LinearRegressor`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegressor {
    weights: Weights,
    post_transform: PostTransform,
}

impl LinearRegressor {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<LinearRegressor, OperatorError> {
        let targets = usize::try_from(attributes.int("targets").unwrap_or(1)).unwrap_or(0);
        Ok(LinearRegressor {
            weights: Weights::new(attributes, targets)?,
            post_transform: attributes.post_transform()?,
        })
    }

    /// Values `[rows, targets]`.
    pub(crate) fn run(
        &self,
        rows: usize,
        columns: usize,
        x: &[f32],
    ) -> Result<Tensor, OperatorError> {
        let targets = self.weights.targets;
        let mut scores = self.weights.scores(rows, columns, x)?;
        if targets > 1 || self.post_transform == PostTransform::Probit {
            for row in scores.chunks_exact_mut(targets) {
                self.post_transform.apply_row(row);
            }
        }
        Ok(Tensor::matrix(rows, targets, scores))
    }
}
