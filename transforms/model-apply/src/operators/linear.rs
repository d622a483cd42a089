//! `LinearClassifier` and `LinearRegressor`: `scores = X · Wᵀ + b`, then a
//! score transform; the classifier also picks a label.
//!
//! scikit-learn's LogisticRegression, RidgeClassifier and
//! LinearRegression, Ridge, Lasso export to these. `X` is the whole batch
//! (a chunk's records), and the scores are one matrix product over it,
//! summed in `f64` feature by feature and rounded to `f32` once.

use super::{Attributes, OperatorError, PostTransform, argmax};
use crate::tensor::{ClassLabels, Tensor};

/// The weights shared by both operators: one row of coefficients and one
/// intercept per score column.
#[derive(Debug, Clone, PartialEq)]
struct Weights {
    /// `Wᵀ` in `f64`, `features × targets`: row `j` holds feature `j`'s
    /// coefficient for every target, so one pass over a row's features
    /// updates all of its scores.
    by_feature: Vec<f64>,
    intercepts: Vec<f64>,
    targets: usize,
    features: usize,
}

impl Weights {
    fn new(attributes: &Attributes<'_>, targets: usize) -> Result<Weights, OperatorError> {
        Weights::from_rows(
            &attributes.floats("coefficients"),
            attributes.floats("intercepts"),
            targets,
        )
    }

    /// From `coefficients`, one row of `features` per target, row-major.
    fn from_rows(
        coefficients: &[f32],
        mut intercepts: Vec<f32>,
        targets: usize,
    ) -> Result<Weights, OperatorError> {
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
        let features = coefficients.len() / targets;
        let mut by_feature = vec![0.0; coefficients.len()];
        for (target, weights) in coefficients.chunks_exact(features).enumerate() {
            for (feature, &weight) in weights.iter().enumerate() {
                by_feature[feature * targets + target] = f64::from(weight);
            }
        }
        Ok(Weights {
            by_feature,
            intercepts: intercepts.into_iter().map(f64::from).collect(),
            targets,
            features,
        })
    }

    /// The raw scores, `rows × targets`: `X · Wᵀ + b` for the whole batch.
    ///
    /// Each score is the sum of its products in feature order, starting
    /// from `-0.0` as `Iterator::sum` does, so a row gets the same bits
    /// whatever else is in the batch.
    fn scores(&self, rows: usize, columns: usize, x: &[f32]) -> Result<Vec<f32>, OperatorError> {
        if columns != self.features {
            return Err(OperatorError::Input(format!(
                "{columns} features per row; the model has coefficients for {}",
                self.features
            )));
        }
        let mut scores = Vec::with_capacity(rows * self.targets);
        let mut sums = vec![-0.0f64; self.targets];
        for row in x.chunks_exact(columns).take(rows) {
            sums.fill(-0.0);
            for (&feature, weights) in row.iter().zip(self.by_feature.chunks_exact(self.targets)) {
                let feature = f64::from(feature);
                for (sum, &weight) in sums.iter_mut().zip(weights) {
                    *sum += feature * weight;
                }
            }
            scores.extend(
                sums.iter()
                    .zip(&self.intercepts)
                    .map(|(&sum, &intercept)| (sum + intercept) as f32),
            );
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

    /// Whether its scores are raw decision values (`post_transform` is
    /// `NONE`: RidgeClassifier, LinearSVC), not probabilities.
    pub fn gives_decision_scores(&self) -> bool {
        self.post_transform == PostTransform::None
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_scores_have_the_bits_of_one_dot_product_per_row_and_target() {
        let (rows, features, targets) = (40, 64, 3);
        // Mixed signs and magnitudes over six decades, so that any other
        // order or precision of summing shows in the last bits; plus a row
        // of zeros against negative weights, whose products are all -0.0.
        let value = |i: usize| {
            let mantissa = ((i * 7919) % 2003) as f32 / 1001.0 - 1.0;
            mantissa * 10f32.powi((i % 7) as i32 - 3)
        };
        let coefficients: Vec<f32> = (0..targets * features).map(value).collect();
        let mut x: Vec<f32> = (0..rows * features).map(|i| value(i + 101)).collect();
        x[..features].fill(0.0);
        let mut negative = coefficients.clone();
        negative.iter_mut().for_each(|w| *w = -w.abs());
        for (coefficients, intercepts) in [
            (coefficients, vec![0.5, -1.25e3, 3.0e-4]),
            (negative, vec![0.0; targets]),
        ] {
            let weights = Weights::from_rows(&coefficients, intercepts.clone(), targets)
                .expect("valid weights");
            let batch = weights.scores(rows, features, &x).expect("right width");
            let mut expected = Vec::new();
            for row in x.chunks_exact(features) {
                for (w, &b) in coefficients.chunks_exact(features).zip(&intercepts) {
                    let dot: f64 = row
                        .iter()
                        .zip(w)
                        .map(|(&x, &w)| f64::from(x) * f64::from(w))
                        .sum();
                    expected.push((dot + f64::from(b)) as f32);
                }
            }
            let bits = |scores: &[f32]| scores.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&batch), bits(&expected));
        }
    }
}
