//! `SVMRegressor`: a support-vector regression, `Σ coefficient · K(x, sv) +
//! rho` over the support vectors, as scikit-learn's SVR, NuSVR and
//! OneClassSVM export.
//!
//! Each kernel value is computed in `f64` from the `f32` inputs and the sum
//! rounded to `f32` once, as the linear operators do; every row on its own.
//! (`SVMClassifier` is not implemented yet.) This module knows nothing of
//! records or graphs.

use super::{Attributes, OperatorError, PostTransform};
use crate::tensor::Tensor;

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
}
