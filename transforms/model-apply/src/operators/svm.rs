//! `SVMRegressor`: a support-vector regression, `Σ coefficient · K(x, sv) +
//! rho` over the support vectors, as scikit-learn's SVR, NuSVR and
//! OneClassSVM export; and `SVMClassifier`, scikit-learn's SVC and NuSVC:
//! libsvm's one-against-one classifiers, each pair of classes voting, with
//! Platt-scaled pairwise probabilities combined as libsvm does when the
//! model was trained with `probability=True`.
//!
//! Each kernel value is computed in `f64` from the `f32` inputs and the sum
//! rounded to `f32` once, as the linear operators do; every row on its own.
//! The probabilities follow onnxruntime's `f32` arithmetic step by step
//! (`sigmoid_probability`, `multiclass_probability`). This module knows
//! nothing of records or graphs.

use super::{Attributes, OperatorError, PostTransform, argmax, logistic};
use crate::tensor::{ClassLabels, Tensor};

/// A kernel with its parameters (`kernel_params`: gamma, coef0, degree).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kernel {
    Linear,
    Poly { gamma: f64, coef0: f64, degree: f64 },
    Rbf { gamma: f64 },
    Sigmoid { gamma: f64, coef0: f64 },
}

impl Kernel {
    fn new(attributes: &Attributes<'_>) -> Result<Kernel, OperatorError> {
        let params = attributes.floats("kernel_params");
        let param = |i: usize| f64::from(params.get(i).copied().unwrap_or(0.0));
        let (gamma, coef0, degree) = (param(0), param(1), param(2));
        match attributes
            .text("kernel_type")
            .as_deref()
            .unwrap_or("LINEAR")
        {
            "LINEAR" => Ok(Kernel::Linear),
            "POLY" => Ok(Kernel::Poly {
                gamma,
                coef0,
                degree,
            }),
            "RBF" => Ok(Kernel::Rbf { gamma }),
            "SIGMOID" => Ok(Kernel::Sigmoid { gamma, coef0 }),
            other => Err(OperatorError::Attribute {
                name: "kernel_type",
                problem: format!("unknown kernel {other:?}"),
            }),
        }
    }

    fn apply(self, x: &[f32], sv: &[f32]) -> f64 {
        let dot = || -> f64 {
            x.iter()
                .zip(sv)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum()
        };
        match self {
            Kernel::Linear => dot(),
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => (gamma * dot() + coef0).powf(degree),
            Kernel::Rbf { gamma } => {
                let distance: f64 = x
                    .iter()
                    .zip(sv)
                    .map(|(&a, &b)| {
                        let d = f64::from(a) - f64::from(b);
                        d * d
                    })
                    .sum();
                (-gamma * distance).exp()
            }
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot() + coef0).tanh(),
        }
    }
}

/// `ai.onnx.ml.SVMRegressor`.
#[derive(Debug, Clone, PartialEq)]
pub struct SvmRegressor {
    kernel: Kernel,
    support_vectors: Vec<f32>,
    coefficients: Vec<f64>,
    rho: f64,
    features: usize,
    one_class: bool,
    post_transform: PostTransform,
}

impl SvmRegressor {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<SvmRegressor, OperatorError> {
        let support_vectors = attributes.floats("support_vectors");
        let coefficients: Vec<f64> = attributes
            .floats("coefficients")
            .into_iter()
            .map(f64::from)
            .collect();
        let count = coefficients.len();
        if count == 0 || support_vectors.is_empty() || !support_vectors.len().is_multiple_of(count)
        {
            return Err(OperatorError::Attribute {
                name: "support_vectors",
                problem: format!(
                    "{} values do not divide into {count} support vectors",
                    support_vectors.len()
                ),
            });
        }
        Ok(SvmRegressor {
            kernel: Kernel::new(attributes)?,
            features: support_vectors.len() / count,
            support_vectors,
            coefficients,
            rho: f64::from(attributes.floats("rho").first().copied().unwrap_or(0.0)),
            one_class: attributes.int("one_class").unwrap_or(0) != 0,
            post_transform: attributes.post_transform()?,
        })
    }

    /// Values `[rows, 1]`.
    pub(crate) fn run(&self, input: &Tensor) -> Result<Tensor, OperatorError> {
        let Tensor::Float { data, .. } = input else {
            return Err(OperatorError::Input(format!(
                "expected tensor(float), got {}",
                input.type_name()
            )));
        };
        let (rows, columns) = input.rows_and_columns();
        if columns != self.features {
            return Err(OperatorError::Input(format!(
                "{columns} features per row; the support vectors have {}",
                self.features
            )));
        }
        let mut out = Vec::with_capacity(rows);
        for x in data.chunks_exact(columns.max(1)).take(rows) {
            let sum: f64 = self
                .support_vectors
                .chunks_exact(self.features)
                .zip(&self.coefficients)
                .map(|(sv, &coefficient)| coefficient * self.kernel.apply(x, sv))
                .sum();
            let mut value = (sum + self.rho) as f32;
            if self.one_class {
                value = if value > 0.0 { 1.0 } else { -1.0 };
            }
            if self.post_transform == PostTransform::Probit {
                value = super::probit(value);
            }
            out.push(value);
        }
        Ok(Tensor::matrix(rows, 1, out))
    }
}

/// `ai.onnx.ml.SVMClassifier`.
#[derive(Debug, Clone, PartialEq)]
pub struct SvmClassifier {
    kernel: Kernel,
    labels: ClassLabels,
    /// Support vectors, `vectors × features`; empty in linear mode.
    support_vectors: Vec<f32>,
    /// Where each class's support vectors start, and how many it has.
    classes: Vec<(usize, usize)>,
    /// SVC mode: `(classes - 1) × vectors` dual coefficients. Linear mode
    /// (no support vectors): `classes × features` weights.
    coefficients: Vec<f64>,
    rho: Vec<f64>,
    /// Platt scaling per pair of classes; empty without probabilities.
    prob_a: Vec<f32>,
    prob_b: Vec<f32>,
    features: usize,
    post_transform: PostTransform,
    weights_are_all_positive: bool,
}

impl SvmClassifier {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<SvmClassifier, OperatorError> {
        let labels = attributes.class_labels("classlabels_ints")?;
        let per_class = attributes.ints("vectors_per_class");
        let mut classes = Vec::with_capacity(per_class.len());
        let mut vectors = 0usize;
        for &count in &per_class {
            let count = usize::try_from(count).map_err(|_| OperatorError::Attribute {
                name: "vectors_per_class",
                problem: format!("{count} vectors"),
            })?;
            classes.push((vectors, count));
            vectors += count;
        }
        let raw_coefficients = attributes.floats("coefficients");
        let coefficients: Vec<f64> = raw_coefficients.iter().map(|&c| f64::from(c)).collect();
        let support_vectors = attributes.floats("support_vectors");
        let rho: Vec<f64> = attributes
            .floats("rho")
            .into_iter()
            .map(f64::from)
            .collect();
        let count = labels.len();
        let bad = |name: &'static str, problem: String| OperatorError::Attribute { name, problem };
        let features = if vectors > 0 {
            if classes.len() != count {
                return Err(bad(
                    "vectors_per_class",
                    format!("{} classes for {count} class labels", classes.len()),
                ));
            }
            if support_vectors.is_empty() || !support_vectors.len().is_multiple_of(vectors) {
                return Err(bad(
                    "support_vectors",
                    format!(
                        "{} values do not divide into {vectors} support vectors",
                        support_vectors.len()
                    ),
                ));
            }
            if coefficients.len() != (count - 1) * vectors {
                return Err(bad(
                    "coefficients",
                    format!(
                        "{} values for {} classes of {vectors} support vectors",
                        coefficients.len(),
                        count
                    ),
                ));
            }
            if rho.len() != count * (count - 1) / 2 {
                return Err(bad(
                    "rho",
                    format!("{} values for {count} classes", rho.len()),
                ));
            }
            support_vectors.len() / vectors
        } else {
            if coefficients.is_empty()
                || !coefficients.len().is_multiple_of(count)
                || rho.is_empty()
            {
                return Err(bad(
                    "coefficients",
                    format!(
                        "{} values (and {} rho) for a linear model of {count} classes",
                        coefficients.len(),
                        rho.len()
                    ),
                ));
            }
            coefficients.len() / count
        };
        let prob_a = attributes.floats("prob_a");
        let prob_b = attributes.floats("prob_b");
        if !prob_a.is_empty()
            && vectors > 0
            && (prob_a.len() != rho.len() || prob_b.len() != rho.len())
        {
            return Err(bad(
                "prob_a",
                format!(
                    "{} and {} Platt parameters for {} pairs of classes",
                    prob_a.len(),
                    prob_b.len(),
                    rho.len()
                ),
            ));
        }
        Ok(SvmClassifier {
            kernel: if vectors > 0 {
                Kernel::new(attributes)?
            } else {
                Kernel::Linear
            },
            labels,
            support_vectors,
            classes,
            weights_are_all_positive: raw_coefficients.iter().all(|&c| c >= 0.0),
            coefficients,
            rho,
            prob_a: if vectors > 0 { prob_a } else { Vec::new() },
            prob_b,
            features,
            post_transform: attributes.post_transform()?,
        })
    }

    /// The class labels.
    pub fn labels(&self) -> &ClassLabels {
        &self.labels
    }

    /// Whether its scores are decision values (no Platt scaling), not
    /// probabilities.
    pub fn gives_decision_scores(&self) -> bool {
        self.prob_a.is_empty()
    }

    /// Labels `[rows]` and scores: with probabilities one per class; else
    /// one decision value per pair of classes (SVC mode; two, `-s` and `s`,
    /// for two classes) or per class (linear mode).
    pub(crate) fn run(&self, input: &Tensor) -> Result<Vec<Tensor>, OperatorError> {
        let Tensor::Float { data, .. } = input else {
            return Err(OperatorError::Input(format!(
                "expected tensor(float), got {}",
                input.type_name()
            )));
        };
        let (rows, columns) = input.rows_and_columns();
        if columns != self.features {
            return Err(OperatorError::Input(format!(
                "{columns} features per row; the model has {}",
                self.features
            )));
        }
        let count = self.labels.len();
        let mut indices = Vec::with_capacity(rows);
        let mut out = Vec::new();
        let mut width = 0;
        let mut kernels = Vec::new();
        for x in data.chunks_exact(columns.max(1)).take(rows) {
            let (index, mut scores) = if self.classes.is_empty() {
                let scores: Vec<f32> = self
                    .coefficients
                    .chunks_exact(self.features)
                    .map(|weights| {
                        let dot: f64 = x.iter().zip(weights).map(|(&a, &w)| f64::from(a) * w).sum();
                        (dot + self.rho[0]) as f32
                    })
                    .collect();
                (argmax(&scores), scores)
            } else {
                kernels.clear();
                kernels.extend(
                    self.support_vectors
                        .chunks_exact(self.features)
                        .map(|sv| self.kernel.apply(x, sv)),
                );
                let vectors = kernels.len();
                let mut votes = vec![0u32; count];
                let mut scores = Vec::with_capacity(self.rho.len());
                let mut pair = 0;
                for i in 0..count {
                    let (start_i, count_i) = self.classes[i];
                    for j in i + 1..count {
                        let (start_j, count_j) = self.classes[j];
                        let dot = |row: usize, start: usize, n: usize| -> f64 {
                            let coefficients = &self.coefficients[row * vectors + start..][..n];
                            coefficients
                                .iter()
                                .zip(&kernels[start..start + n])
                                .map(|(c, k)| c * k)
                                .sum()
                        };
                        let sum = self.rho[pair]
                            + dot(j - 1, start_i, count_i)
                            + dot(i, start_j, count_j);
                        scores.push(sum as f32);
                        votes[if sum > 0.0 { i } else { j }] += 1;
                        pair += 1;
                    }
                }
                // The first class with the most votes.
                let mut best = 0;
                for (k, &v) in votes.iter().enumerate() {
                    if v > votes[best] {
                        best = k;
                    }
                }
                if self.prob_a.is_empty() {
                    (best, scores)
                } else {
                    (best, self.probabilities(&scores))
                }
            };
            let index = if self.rho.len() == 1 && self.prob_a.is_empty() && self.classes.is_empty()
            {
                // onnxruntime's rule for a two-label linear model's one score.
                let weight = scores[index];
                if (self.weights_are_all_positive && weight >= 0.5)
                    || (weight > 0.0 && !self.weights_are_all_positive)
                {
                    1
                } else {
                    index
                }
            } else {
                index
            };
            if scores.len() == 1 && count == 2 {
                // One decision value: onnxruntime writes `[-s, s]`, or the
                // logistic of each under LOGISTIC.
                let s = scores[0];
                scores = match self.post_transform {
                    PostTransform::Logistic => vec![logistic(-s), logistic(s)],
                    PostTransform::Probit => vec![super::probit(s)],
                    _ => vec![-s, s],
                };
            } else if scores.len() >= 2 {
                self.post_transform.apply_row(&mut scores);
            }
            width = scores.len();
            out.extend(scores);
            indices.push(index.min(count - 1));
        }
        Ok(vec![
            self.labels.select(&indices),
            Tensor::matrix(rows, width, out),
        ])
    }

    /// libsvm's probability estimates from one row's pairwise decision
    /// values, in `f32` as onnxruntime computes them.
    fn probabilities(&self, scores: &[f32]) -> Vec<f32> {
        let k = self.labels.len();
        let mut r = vec![0.0f32; k * k];
        let mut pair = 0;
        for i in 0..k {
            for j in i + 1..k {
                let p = 1.0 - logistic(scores[pair] * self.prob_a[pair] + self.prob_b[pair]);
                let p = p.clamp(1.0e-7, 1.0 - 1.0e-7);
                r[i * k + j] = p;
                r[j * k + i] = 1.0 - p;
                pair += 1;
            }
        }
        multiclass_probability(k, &r)
    }
}

/// libsvm's `multiclass_probability` (Wu, Lin and Weng's second method),
/// as onnxruntime writes it in `f32`.
fn multiclass_probability(k: usize, r: &[f32]) -> Vec<f32> {
    let mut q = vec![0.0f32; k * k];
    let mut qp = vec![0.0f32; k];
    let mut p = vec![1.0 / k as f32; k];
    let eps = 0.005 / k as f32;
    for i in 0..k {
        for j in 0..i {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = q[j * k + i];
        }
        for j in i + 1..k {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = -r[j * k + i] * r[i * k + j];
        }
    }
    for _ in 0..100.max(k) {
        let mut pqp = 0.0f32;
        for i in 0..k {
            qp[i] = 0.0;
            for j in 0..k {
                qp[i] += q[i * k + j] * p[j];
            }
            pqp += p[i] * qp[i];
        }
        let max_error = qp.iter().map(|&v| (v - pqp).abs()).fold(0.0f32, f32::max);
        if max_error < eps {
            break;
        }
        for i in 0..k {
            let diff = (-qp[i] + pqp) / q[i * k + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * k + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbf_regression_sums_weighted_kernels_and_rho() {
        let svr = SvmRegressor {
            kernel: Kernel::Rbf { gamma: 0.5 },
            support_vectors: vec![0.0, 0.0, 1.0, 1.0],
            coefficients: vec![2.0, -1.0],
            rho: 0.25,
            features: 2,
            one_class: false,
            post_transform: PostTransform::None,
        };
        let out = svr
            .run(&Tensor::matrix(1, 2, vec![1.0, 0.0]))
            .expect("runs");
        let expected = (2.0 * (-0.5f64).exp() - (-0.5f64).exp() + 0.25) as f32;
        assert_eq!(out, Tensor::matrix(1, 1, vec![expected]));
    }

    #[test]
    fn two_classes_vote_by_the_sign_of_their_one_decision_value() {
        // One support vector per class, linear kernel: s = rho + c0·(x·sv0)
        // + c1·(x·sv1).
        let svc = SvmClassifier {
            kernel: Kernel::Linear,
            labels: ClassLabels::Ints(vec![4, 7]),
            support_vectors: vec![1.0, 0.0, 0.0, 1.0],
            classes: vec![(0, 1), (1, 1)],
            coefficients: vec![1.0, -1.0],
            rho: vec![0.0],
            prob_a: Vec::new(),
            prob_b: Vec::new(),
            features: 2,
            post_transform: PostTransform::None,
            weights_are_all_positive: false,
        };
        let out = svc
            .run(&Tensor::matrix(2, 2, vec![2.0, 1.0, 0.0, 3.0]))
            .expect("runs");
        assert_eq!(
            out[0],
            Tensor::Int64 {
                shape: vec![2],
                data: vec![4, 7]
            }
        );
        assert_eq!(out[1], Tensor::matrix(2, 2, vec![-1.0, 1.0, 3.0, -3.0]));
    }

    #[test]
    fn pairwise_probabilities_combine_to_a_distribution() {
        // Class 0 beats 1 and 2 with 0.9, 1 beats 2 with 0.6.
        let r = [0.0, 0.9, 0.9, 0.1, 0.0, 0.6, 0.1, 0.4, 0.0];
        let p = multiclass_probability(3, &r);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
        assert!(p[0] > p[1] && p[1] > p[2], "{p:?}");
    }
}
