//! The standard-domain (`ai.onnx`) operators skl2onnx writes for models it
//! cannot express with one ONNX-ML operator (MLPs, SGD, naive Bayes,
//! MinMaxScaler): element-wise arithmetic with numpy-style broadcasting,
//! matrix products, reductions, softmax and argmax, and the shape glue
//! (Reshape, Flatten, Concat, Squeeze, Unsqueeze, Transpose, Gather,
//! Shape), plus `ai.onnx.ml.ArrayFeatureExtractor`, which skl2onnx uses to
//! look labels up.
//!
//! Every operator computes each row of the batch on its own, in the same
//! order of operations, so a record gets the same bits in a chunk as alone.
//! Matrix products are summed in `f64` and rounded once, as the linear
//! operators do. This module knows nothing of records or graphs.

use super::{Attributes, OperatorError};
use crate::tensor::Tensor;

/// An element-wise operation on two broadcast inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arithmetic {
    /// `Add`.
    Add,
    /// `Sub`.
    Sub,
    /// `Mul`.
    Mul,
    /// `Div`.
    Div,
    /// `Pow`.
    Pow,
}

/// An element-wise function of one float input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `Relu`.
    Relu,
    /// `Sigmoid`.
    Sigmoid,
    /// `Tanh`.
    Tanh,
    /// `Exp`.
    Exp,
    /// `Log`.
    Log,
    /// `Sqrt`.
    Sqrt,
    /// `Abs`.
    Abs,
    /// `Neg`.
    Neg,
    /// `Reciprocal`.
    Reciprocal,
}

/// A comparison of two broadcast inputs, one boolean per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `Less`.
    Less,
    /// `LessOrEqual`.
    LessOrEqual,
    /// `Greater`.
    Greater,
    /// `GreaterOrEqual`.
    GreaterOrEqual,
    /// `Equal`.
    Equal,
}

/// A logical operation on two broadcast boolean inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logic {
    /// `And`.
    And,
    /// `Or`.
    Or,
    /// `Xor`.
    Xor,
}

/// A reduction over some axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// `ReduceSum`.
    Sum,
    /// `ReduceMean`.
    Mean,
    /// `ReduceMax`.
    Max,
    /// `ReduceSumSquare`.
    SumSquare,
    /// `ReduceLogSumExp`: `log Σ exp(x)`, shifted by the maximum.
    LogSumExp,
}

/// A built standard-domain operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Dense {
    /// `Add`, `Sub`, `Mul`, `Div`, `Pow`.
    Arithmetic(Arithmetic),
    /// `Sum`: the inputs added, left to right.
    Sum,
    /// `Relu`, `Sigmoid`, `Tanh`, `Exp`, `Log`, `Sqrt`, `Abs`, `Neg`,
    /// `Reciprocal`.
    Function(Function),
    /// `Clip` with bounds given as attributes (opset < 11) or inputs.
    Clip {
        /// `min` attribute.
        min: Option<f32>,
        /// `max` attribute.
        max: Option<f32>,
    },
    /// `MatMul`: `[.., M, K] · [K, N]`.
    MatMul,
    /// `Gemm`: `alpha · A' · B' + beta · C`.
    Gemm {
        /// `alpha`.
        alpha: f32,
        /// `beta`.
        beta: f32,
        /// `transA`.
        trans_a: bool,
        /// `transB`.
        trans_b: bool,
    },
    /// `Softmax` along `axis`.
    Softmax {
        /// `axis` (default -1, opset 13 and later).
        axis: i64,
    },
    /// `ArgMax` (or, with `min`, `ArgMin`) along `axis`.
    ArgMax {
        /// `ArgMin` instead.
        min: bool,
        /// `axis`.
        axis: i64,
        /// `keepdims`.
        keepdims: bool,
        /// `select_last_index`.
        last: bool,
    },
    /// A reduction; axes from the attribute or the second input.
    Reduce {
        /// Which.
        reduction: Reduction,
        /// `axes` attribute (opsets before axes became an input).
        axes: Option<Vec<i64>>,
        /// `keepdims`.
        keepdims: bool,
        /// `noop_with_empty_axes`.
        noop_with_empty_axes: bool,
    },
    /// `Reshape` to the second input's shape (`0` copies, `-1` infers).
    Reshape {
        /// `allowzero`.
        allow_zero: bool,
    },
    /// `Flatten` to 2-D at `axis`.
    Flatten {
        /// `axis`.
        axis: i64,
    },
    /// `Squeeze` (`true`) or `Unsqueeze` (`false`); axes from the
    /// attribute or the second input.
    Squeeze {
        /// Squeeze or unsqueeze.
        squeeze: bool,
        /// `axes` attribute.
        axes: Option<Vec<i64>>,
    },
    /// `Concat` along `axis`.
    Concat {
        /// `axis`.
        axis: i64,
    },
    /// `Transpose` by `perm` (reversed axes when absent).
    Transpose {
        /// `perm`.
        perm: Option<Vec<i64>>,
    },
    /// `Gather` along `axis`.
    Gather {
        /// `axis`.
        axis: i64,
    },
    /// `Shape`.
    Shape,
    /// `Less`, `LessOrEqual`, `Greater`, `GreaterOrEqual`, `Equal`.
    Compare(Comparison),
    /// `And`, `Or`, `Xor`.
    Logic(Logic),
    /// `Not`.
    Not,
    /// `Where`: the second input where the first is true, else the third.
    Where,
    /// `Max` (`true`) or `Min` (`false`) of any number of broadcast inputs.
    Extremum {
        /// Max or min.
        max: bool,
    },
    /// `ConstantOfShape`: a tensor of the first input's shape filled with
    /// `value`'s one element (a float zero when absent).
    ConstantOfShape {
        /// The `value` attribute's element.
        value: Tensor,
    },
    /// `TopK`: the `k` (second input) largest or smallest values along
    /// `axis`, and their indices; equal values in index order.
    TopK {
        /// `axis`.
        axis: i64,
        /// `largest`.
        largest: bool,
    },
    /// `CumSum` along the axis the second input names.
    CumSum {
        /// `exclusive`.
        exclusive: bool,
        /// `reverse`.
        reverse: bool,
    },
    /// `GatherElements` along `axis`: each index picks one element.
    GatherElements {
        /// `axis`.
        axis: i64,
    },
    /// `ai.onnx.ml.ArrayFeatureExtractor`: the last axis picked at the
    /// second input's indices.
    ArrayFeatureExtractor,
}

fn input_error(message: impl Into<String>) -> OperatorError {
    OperatorError::Input(message.into())
}

impl Dense {
    /// The operator for a standard-domain node (or ArrayFeatureExtractor),
    /// or `None` if this module has no such operator.
    pub(crate) fn from_node(op_type: &str, attributes: &Attributes<'_>) -> Option<Dense> {
        let int = |name: &str, default: i64| attributes.int(name).unwrap_or(default);
        let axes = || attributes.has("axes").then(|| attributes.ints("axes"));
        let reduce = |reduction| Dense::Reduce {
            reduction,
            axes: axes(),
            keepdims: int("keepdims", 1) != 0,
            noop_with_empty_axes: int("noop_with_empty_axes", 0) != 0,
        };
        Some(match op_type {
            "Add" => Dense::Arithmetic(Arithmetic::Add),
            "Sub" => Dense::Arithmetic(Arithmetic::Sub),
            "Mul" => Dense::Arithmetic(Arithmetic::Mul),
            "Div" => Dense::Arithmetic(Arithmetic::Div),
            "Pow" => Dense::Arithmetic(Arithmetic::Pow),
            "Sum" => Dense::Sum,
            "Relu" => Dense::Function(Function::Relu),
            "Sigmoid" => Dense::Function(Function::Sigmoid),
            "Tanh" => Dense::Function(Function::Tanh),
            "Exp" => Dense::Function(Function::Exp),
            "Log" => Dense::Function(Function::Log),
            "Sqrt" => Dense::Function(Function::Sqrt),
            "Abs" => Dense::Function(Function::Abs),
            "Neg" => Dense::Function(Function::Neg),
            "Reciprocal" => Dense::Function(Function::Reciprocal),
            "Clip" => Dense::Clip {
                min: attributes.has("min").then(|| attributes.float("min")),
                max: attributes.has("max").then(|| attributes.float("max")),
            },
            "MatMul" => Dense::MatMul,
            "Gemm" => Dense::Gemm {
                alpha: if attributes.has("alpha") {
                    attributes.float("alpha")
                } else {
                    1.0
                },
                beta: if attributes.has("beta") {
                    attributes.float("beta")
                } else {
                    1.0
                },
                trans_a: int("transA", 0) != 0,
                trans_b: int("transB", 0) != 0,
            },
            "Softmax" => Dense::Softmax {
                axis: int("axis", -1),
            },
            "ArgMax" | "ArgMin" => Dense::ArgMax {
                min: op_type == "ArgMin",
                axis: int("axis", 0),
                keepdims: int("keepdims", 1) != 0,
                last: int("select_last_index", 0) != 0,
            },
            "ReduceSum" => reduce(Reduction::Sum),
            "ReduceMean" => reduce(Reduction::Mean),
            "ReduceMax" => reduce(Reduction::Max),
            "ReduceSumSquare" => reduce(Reduction::SumSquare),
            "ReduceLogSumExp" => reduce(Reduction::LogSumExp),
            "Reshape" => Dense::Reshape {
                allow_zero: int("allowzero", 0) != 0,
            },
            "Flatten" => Dense::Flatten {
                axis: int("axis", 1),
            },
            "Squeeze" => Dense::Squeeze {
                squeeze: true,
                axes: axes(),
            },
            "Unsqueeze" => Dense::Squeeze {
                squeeze: false,
                axes: axes(),
            },
            "Concat" => Dense::Concat {
                axis: int("axis", 0),
            },
            "Transpose" => Dense::Transpose {
                perm: attributes.has("perm").then(|| attributes.ints("perm")),
            },
            "Gather" => Dense::Gather {
                axis: int("axis", 0),
            },
            "Shape" => Dense::Shape,
            "Less" => Dense::Compare(Comparison::Less),
            "LessOrEqual" => Dense::Compare(Comparison::LessOrEqual),
            "Greater" => Dense::Compare(Comparison::Greater),
            "GreaterOrEqual" => Dense::Compare(Comparison::GreaterOrEqual),
            "Equal" => Dense::Compare(Comparison::Equal),
            "And" => Dense::Logic(Logic::And),
            "Or" => Dense::Logic(Logic::Or),
            "Xor" => Dense::Logic(Logic::Xor),
            "Not" => Dense::Not,
            "Where" => Dense::Where,
            "Max" => Dense::Extremum { max: true },
            "Min" => Dense::Extremum { max: false },
            "ConstantOfShape" => Dense::ConstantOfShape {
                value: attributes.tensor("value").unwrap_or(Tensor::Float {
                    shape: vec![1],
                    data: vec![0.0],
                }),
            },
            "CumSum" => Dense::CumSum {
                exclusive: int("exclusive", 0) != 0,
                reverse: int("reverse", 0) != 0,
            },
            "GatherElements" => Dense::GatherElements {
                axis: int("axis", 0),
            },
            "TopK" => Dense::TopK {
                axis: int("axis", -1),
                largest: int("largest", 1) != 0,
            },
            _ => return None,
        })
    }

    /// Runs the operator.
    pub(crate) fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OperatorError> {
        let first = *inputs
            .first()
            .ok_or_else(|| input_error("no input given"))?;
        let second = || {
            inputs
                .get(1)
                .copied()
                .ok_or_else(|| input_error("a second input is required"))
        };
        Ok(vec![match self {
            Dense::Arithmetic(op) => arithmetic(*op, first, second()?)?,
            Dense::Sum => {
                let mut total = first.clone();
                for next in &inputs[1..] {
                    total = arithmetic(Arithmetic::Add, &total, next)?;
                }
                total
            }
            Dense::Function(function) => {
                let (shape, data) = float(first)?;
                Tensor::Float {
                    shape: shape.to_vec(),
                    data: data.iter().map(|&x| apply(*function, x)).collect(),
                }
            }
            Dense::Clip { min, max } => {
                let bound = |index: usize, attribute: Option<f32>| -> Result<Option<f32>, _> {
                    match inputs.get(index) {
                        Some(tensor) => Ok(float(tensor)?.1.first().copied()),
                        None => Ok(attribute),
                    }
                };
                let (low, high) = (bound(1, *min)?, bound(2, *max)?);
                let (shape, data) = float(first)?;
                Tensor::Float {
                    shape: shape.to_vec(),
                    data: data
                        .iter()
                        .map(|&x| {
                            let x = low.map_or(x, |low| if x < low { low } else { x });
                            high.map_or(x, |high| if x > high { high } else { x })
                        })
                        .collect(),
                }
            }
            Dense::MatMul => matmul(first, false, second()?, false, 1.0)?,
            Dense::Gemm {
                alpha,
                beta,
                trans_a,
                trans_b,
            } => {
                let product = matmul(first, *trans_a, second()?, *trans_b, *alpha)?;
                match inputs.get(2) {
                    Some(c) => {
                        let (c_shape, c_data) = float(c)?;
                        let scaled = Tensor::Float {
                            shape: c_shape.to_vec(),
                            data: c_data.iter().map(|&v| beta * v).collect(),
                        };
                        arithmetic(Arithmetic::Add, &product, &scaled)?
                    }
                    None => product,
                }
            }
            Dense::Softmax { axis } => {
                let (shape, data) = float(first)?;
                let axis = resolve_axis(*axis, shape.len())?;
                let mut out = data.to_vec();
                for_each_lane(shape, axis, |lane| {
                    let max = lane.iter().map(|&i| out[i]).fold(f32::MIN, f32::max);
                    let mut sum = 0.0f32;
                    for &i in &lane {
                        out[i] = (out[i] - max).exp();
                        sum += out[i];
                    }
                    for &i in &lane {
                        out[i] /= sum;
                    }
                });
                Tensor::Float {
                    shape: shape.to_vec(),
                    data: out,
                }
            }
            Dense::ArgMax {
                min,
                axis,
                keepdims,
                last,
            } => argmax(first, *min, *axis, *keepdims, *last)?,
            Dense::Reduce {
                reduction,
                axes,
                keepdims,
                noop_with_empty_axes,
            } => {
                let axes = match (axes, inputs.get(1)) {
                    (Some(axes), _) => axes.clone(),
                    (None, Some(tensor)) => ints(tensor)?.1.to_vec(),
                    (None, None) => Vec::new(),
                };
                if axes.is_empty() && *noop_with_empty_axes {
                    first.clone()
                } else {
                    reduce(*reduction, first, &axes, *keepdims)?
                }
            }
            Dense::Reshape { allow_zero } => {
                let (_, wanted) = ints(second()?)?;
                let shape = reshape_target(first.shape(), wanted, first.len(), *allow_zero)?;
                reshaped(first, shape)?
            }
            Dense::Flatten { axis } => {
                let shape = first.shape();
                let axis = if *axis < 0 {
                    resolve_axis(*axis, shape.len())?
                } else {
                    usize::try_from(*axis)
                        .unwrap_or(usize::MAX)
                        .min(shape.len())
                };
                let outer = shape[..axis].iter().product();
                let inner = shape[axis..].iter().product();
                reshaped(first, vec![outer, inner])?
            }
            Dense::Squeeze { squeeze, axes } => {
                let axes = match (axes, inputs.get(1)) {
                    (Some(axes), _) => axes.clone(),
                    (None, Some(tensor)) => ints(tensor)?.1.to_vec(),
                    (None, None) => Vec::new(),
                };
                let shape = first.shape();
                let target = if *squeeze {
                    let drop = axes
                        .iter()
                        .map(|&axis| resolve_axis(axis, shape.len()))
                        .collect::<Result<Vec<_>, _>>()?;
                    shape
                        .iter()
                        .enumerate()
                        .filter(|&(i, &size)| {
                            !(if drop.is_empty() {
                                size == 1
                            } else {
                                drop.contains(&i)
                            })
                        })
                        .map(|(_, &size)| size)
                        .collect()
                } else {
                    let rank = shape.len() + axes.len();
                    let mut added = axes
                        .iter()
                        .map(|&axis| resolve_axis(axis, rank))
                        .collect::<Result<Vec<_>, _>>()?;
                    added.sort_unstable();
                    let mut target = shape.to_vec();
                    for axis in added {
                        target.insert(axis.min(target.len()), 1);
                    }
                    target
                };
                reshaped(first, target)?
            }
            Dense::Concat { axis } => concat(inputs, *axis)?,
            Dense::Transpose { perm } => {
                let shape = first.shape();
                let perm: Vec<usize> = match perm {
                    Some(perm) => perm
                        .iter()
                        .map(|&axis| resolve_axis(axis, shape.len()))
                        .collect::<Result<_, _>>()?,
                    None => (0..shape.len()).rev().collect(),
                };
                if perm.len() != shape.len() {
                    return Err(input_error(format!(
                        "perm has {} axes for a tensor of {}",
                        perm.len(),
                        shape.len()
                    )));
                }
                let out_shape: Vec<usize> = perm.iter().map(|&axis| shape[axis]).collect();
                let in_strides = strides(shape);
                let picked_strides: Vec<usize> =
                    perm.iter().map(|&axis| in_strides[axis]).collect();
                let indices = positions(&out_shape, &picked_strides);
                first.take(&indices, out_shape)
            }
            Dense::Gather { axis } => {
                let (index_shape, index_data) = ints(second()?)?;
                let shape = first.shape();
                let axis = resolve_axis(*axis, shape.len())?;
                gather(first, axis, index_shape, index_data)?
            }
            Dense::Shape => Tensor::Int64 {
                shape: vec![first.shape().len()],
                data: first.shape().iter().map(|&size| size as i64).collect(),
            },
            Dense::Compare(comparison) => compare(*comparison, first, second()?)?,
            Dense::Logic(logic) => {
                let (a_shape, a) = bools(first)?;
                let (b_shape, b) = bools(second()?)?;
                let (shape, data) = broadcast((a_shape, a), (b_shape, b), |x, y| match logic {
                    Logic::And => x && y,
                    Logic::Or => x || y,
                    Logic::Xor => x != y,
                })?;
                Tensor::Bool { shape, data }
            }
            Dense::Not => {
                let (shape, data) = bools(first)?;
                Tensor::Bool {
                    shape: shape.to_vec(),
                    data: data.iter().map(|&x| !x).collect(),
                }
            }
            Dense::Where => {
                let (condition_shape, condition) = bools(first)?;
                let (x, y) = (
                    second()?,
                    inputs
                        .get(2)
                        .copied()
                        .ok_or_else(|| input_error("a third input is required"))?,
                );
                let shape =
                    broadcast_shape(&broadcast_shape(condition_shape, x.shape())?, y.shape())?;
                let from_condition = broadcast_positions(condition_shape, &shape);
                let from_x = broadcast_positions(x.shape(), &shape);
                let from_y = broadcast_positions(y.shape(), &shape);
                let picked_x = x.take(&from_x, shape.clone());
                let picked_y = y.take(&from_y, shape.clone());
                let mask: Vec<bool> = from_condition.iter().map(|&i| condition[i]).collect();
                select(&mask, picked_x, picked_y)?
            }
            Dense::Extremum { max } => {
                let mut out = first.clone();
                for next in &inputs[1..] {
                    let (a_shape, a) = float(&out)?;
                    let (b_shape, b) = float(next)?;
                    // NaN wins, as in onnxruntime's Eigen max/min.
                    let (shape, data) = broadcast((a_shape, a), (b_shape, b), |x: f32, y: f32| {
                        if x.is_nan() || y.is_nan() {
                            f32::NAN
                        } else if (*max && y > x) || (!*max && y < x) {
                            y
                        } else {
                            x
                        }
                    })?;
                    out = Tensor::Float { shape, data };
                }
                float(&out)?;
                out
            }
            Dense::ConstantOfShape { value } => {
                let (_, sizes) = ints(first)?;
                let shape = sizes
                    .iter()
                    .map(|&size| {
                        usize::try_from(size).map_err(|_| input_error(format!("size {size}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let count: usize = shape.iter().product();
                if value.is_empty() {
                    return Err(input_error("`value` has no element"));
                }
                value.take(&vec![0; count], shape)
            }
            Dense::CumSum { exclusive, reverse } => {
                let (_, axis) = ints(second()?)?;
                let axis = axis
                    .first()
                    .copied()
                    .ok_or_else(|| input_error("no axis given"))?;
                let (shape, data) = float(first)?;
                let axis = resolve_axis(axis, shape.len())?;
                let mut out = vec![0.0f32; data.len()];
                for_each_lane(shape, axis, |mut lane| {
                    if *reverse {
                        lane.reverse();
                    }
                    let mut sum = 0.0f32;
                    for &i in &lane {
                        if *exclusive {
                            out[i] = sum;
                            sum += data[i];
                        } else {
                            sum += data[i];
                            out[i] = sum;
                        }
                    }
                });
                Tensor::Float {
                    shape: shape.to_vec(),
                    data: out,
                }
            }
            Dense::GatherElements { axis } => {
                let (index_shape, index_data) = ints(second()?)?;
                let shape = first.shape();
                let axis = resolve_axis(*axis, shape.len())?;
                if index_shape.len() != shape.len() {
                    return Err(input_error(format!(
                        "indices of shape {index_shape:?} for a tensor of shape {shape:?}"
                    )));
                }
                let size = shape[axis];
                let own = strides(shape);
                let index_strides = strides(index_shape);
                let mut picks = Vec::with_capacity(index_data.len());
                for (position, &index) in index_data.iter().enumerate() {
                    let resolved = if index < 0 {
                        index + size as i64
                    } else {
                        index
                    };
                    let index = usize::try_from(resolved)
                        .ok()
                        .filter(|&i| i < size)
                        .ok_or_else(|| {
                            input_error(format!("index {index} is out of range for {size}"))
                        })?;
                    let mut offset = 0;
                    let mut rest = position;
                    for (dim, &stride) in index_strides.iter().enumerate() {
                        let coordinate = rest / stride;
                        rest %= stride;
                        if dim != axis && coordinate >= shape[dim] {
                            return Err(input_error(format!(
                                "indices of shape {index_shape:?} exceed {shape:?}"
                            )));
                        }
                        offset += own[dim] * if dim == axis { index } else { coordinate };
                    }
                    picks.push(offset);
                }
                first.take(&picks, index_shape.to_vec())
            }
            Dense::TopK { axis, largest } => {
                let (_, k) = ints(second()?)?;
                let k = k
                    .first()
                    .and_then(|&k| usize::try_from(k).ok())
                    .ok_or_else(|| input_error("`K` is not one non-negative integer"))?;
                return top_k(first, *axis, k, *largest);
            }
            Dense::ArrayFeatureExtractor => {
                let (_, index_data) = ints(second()?)?;
                let shape = first.shape();
                let axis = shape.len().saturating_sub(1);
                let mut out = gather(first, axis, &[index_data.len()], index_data)?;
                if shape.len() == 1 {
                    // onnxruntime gives a 1-D input's picks as one row.
                    out = reshaped(&out, vec![1, index_data.len()])?;
                }
                out
            }
        }])
    }
}

fn float(tensor: &Tensor) -> Result<(&[usize], &[f32]), OperatorError> {
    match tensor {
        Tensor::Float { shape, data } => Ok((shape, data)),
        other => Err(input_error(format!(
            "expected tensor(float), got {}",
            other.type_name()
        ))),
    }
}

fn bools(tensor: &Tensor) -> Result<(&[usize], &[bool]), OperatorError> {
    match tensor {
        Tensor::Bool { shape, data } => Ok((shape, data)),
        other => Err(input_error(format!(
            "expected tensor(bool), got {}",
            other.type_name()
        ))),
    }
}

/// `Where` once both sides are broadcast to the mask's shape.
fn select(mask: &[bool], x: Tensor, y: Tensor) -> Result<Tensor, OperatorError> {
    fn pick<T: Clone>(mask: &[bool], x: Vec<T>, y: Vec<T>) -> Vec<T> {
        mask.iter()
            .zip(x.into_iter().zip(y))
            .map(|(&m, (x, y))| if m { x } else { y })
            .collect()
    }
    Ok(match (x, y) {
        (Tensor::Float { shape, data: x }, Tensor::Float { data: y, .. }) => Tensor::Float {
            shape,
            data: pick(mask, x, y),
        },
        (Tensor::Int64 { shape, data: x }, Tensor::Int64 { data: y, .. }) => Tensor::Int64 {
            shape,
            data: pick(mask, x, y),
        },
        (Tensor::Bool { shape, data: x }, Tensor::Bool { data: y, .. }) => Tensor::Bool {
            shape,
            data: pick(mask, x, y),
        },
        (Tensor::Text { shape, data: x }, Tensor::Text { data: y, .. }) => Tensor::Text {
            shape,
            data: pick(mask, x, y),
        },
        (x, y) => {
            return Err(input_error(format!(
                "Where of {} and {}",
                x.type_name(),
                y.type_name()
            )));
        }
    })
}

fn compare(comparison: Comparison, a: &Tensor, b: &Tensor) -> Result<Tensor, OperatorError> {
    fn test<T: PartialOrd>(comparison: Comparison, x: &T, y: &T) -> bool {
        match comparison {
            Comparison::Less => x < y,
            Comparison::LessOrEqual => x <= y,
            Comparison::Greater => x > y,
            Comparison::GreaterOrEqual => x >= y,
            Comparison::Equal => x == y,
        }
    }
    let (shape, data) = match (a, b) {
        (Tensor::Float { shape: sa, data: a }, Tensor::Float { shape: sb, data: b }) => {
            broadcast((sa, a), (sb, b), |x, y| test(comparison, &x, &y))?
        }
        (Tensor::Int64 { shape: sa, data: a }, Tensor::Int64 { shape: sb, data: b }) => {
            broadcast((sa, a), (sb, b), |x, y| test(comparison, &x, &y))?
        }
        (Tensor::Bool { shape: sa, data: a }, Tensor::Bool { shape: sb, data: b })
            if comparison == Comparison::Equal =>
        {
            broadcast((sa, a), (sb, b), |x, y| x == y)?
        }
        (Tensor::Text { shape: sa, data: a }, Tensor::Text { shape: sb, data: b })
            if comparison == Comparison::Equal =>
        {
            let shape = broadcast_shape(sa, sb)?;
            let from_a = broadcast_positions(sa, &shape);
            let from_b = broadcast_positions(sb, &shape);
            let data = from_a
                .iter()
                .zip(&from_b)
                .map(|(&i, &j)| a[i] == b[j])
                .collect();
            (shape, data)
        }
        _ => {
            return Err(input_error(format!(
                "{comparison:?} of {} and {}",
                a.type_name(),
                b.type_name()
            )));
        }
    };
    Ok(Tensor::Bool { shape, data })
}

/// `TopK`'s values and int64 indices. The order is onnxruntime's: by value,
/// and among equal values the lower index first.
fn top_k(
    tensor: &Tensor,
    axis: i64,
    k: usize,
    largest: bool,
) -> Result<Vec<Tensor>, OperatorError> {
    let (shape, data) = float(tensor)?;
    let axis = resolve_axis(axis, shape.len())?;
    let size = shape.get(axis).copied().unwrap_or(1);
    if k > size {
        return Err(input_error(format!(
            "K = {k} is more than the {size} values along axis {axis}"
        )));
    }
    let mut out_shape = shape.to_vec();
    if let Some(at) = out_shape.get_mut(axis) {
        *at = k;
    }
    let inner: usize = shape.get(axis + 1..).map_or(1, |s| s.iter().product());
    let count: usize = out_shape.iter().product();
    let mut values = vec![0.0f32; count];
    let mut indices = vec![0i64; count];
    let mut lane_number = 0;
    for_each_lane(shape, axis, |lane| {
        let mut order: Vec<usize> = (0..lane.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (data[lane[a]], data[lane[b]]);
            let by_value = if largest {
                y.total_cmp(&x)
            } else {
                x.total_cmp(&y)
            };
            by_value.then(a.cmp(&b))
        });
        let (outer, within) = (lane_number / inner, lane_number % inner);
        for (rank, &position) in order.iter().take(k).enumerate() {
            let at = (outer * k + rank) * inner + within;
            values[at] = data[lane[position]];
            indices[at] = position as i64;
        }
        lane_number += 1;
    });
    Ok(vec![
        Tensor::Float {
            shape: out_shape.clone(),
            data: values,
        },
        Tensor::Int64 {
            shape: out_shape,
            data: indices,
        },
    ])
}

fn ints(tensor: &Tensor) -> Result<(&[usize], &[i64]), OperatorError> {
    match tensor {
        Tensor::Int64 { shape, data } => Ok((shape, data)),
        other => Err(input_error(format!(
            "expected tensor(int64), got {}",
            other.type_name()
        ))),
    }
}

fn reshaped(tensor: &Tensor, shape: Vec<usize>) -> Result<Tensor, OperatorError> {
    let from = tensor.shape().to_vec();
    tensor
        .reshaped(shape.clone())
        .ok_or_else(|| input_error(format!("cannot reshape {from:?} to {shape:?}")))
}

/// A possibly negative axis as an index below `rank`.
fn resolve_axis(axis: i64, rank: usize) -> Result<usize, OperatorError> {
    let rank_i = rank as i64;
    let resolved = if axis < 0 { axis + rank_i } else { axis };
    if (0..rank_i.max(1)).contains(&resolved) {
        Ok(resolved as usize)
    } else {
        Err(input_error(format!(
            "axis {axis} is out of range for {rank} dimensions"
        )))
    }
}

/// Row-major strides.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// For every position of `shape`, in row-major order, the sum of its
/// coordinates times `strides`: the source offset of each output element.
fn positions(shape: &[usize], strides: &[usize]) -> Vec<usize> {
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut coordinate = vec![0usize; shape.len()];
    let mut offset = 0usize;
    for _ in 0..total {
        out.push(offset);
        for axis in (0..shape.len()).rev() {
            coordinate[axis] += 1;
            offset += strides[axis];
            if coordinate[axis] < shape[axis] {
                break;
            }
            offset -= strides[axis] * shape[axis];
            coordinate[axis] = 0;
        }
    }
    out
}

/// The numpy broadcast of two shapes.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, OperatorError> {
    let rank = a.len().max(b.len());
    (0..rank)
        .map(|i| {
            let size = |shape: &[usize]| {
                (i + shape.len())
                    .checked_sub(rank)
                    .map_or(1, |axis| shape[axis])
            };
            match (size(a), size(b)) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                _ => Err(input_error(format!(
                    "shapes {a:?} and {b:?} do not broadcast"
                ))),
            }
        })
        .collect()
}

/// The source offsets of `shape`'s elements broadcast to `target`.
fn broadcast_positions(shape: &[usize], target: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let lead = target.len() - shape.len();
    let picked: Vec<usize> = (0..target.len())
        .map(|axis| match axis.checked_sub(lead) {
            Some(own_axis) if shape[own_axis] != 1 => own[own_axis],
            _ => 0,
        })
        .collect();
    positions(target, &picked)
}

/// `f` over two broadcast operands.
fn broadcast<T: Copy, U>(
    (a_shape, a): (&[usize], &[T]),
    (b_shape, b): (&[usize], &[T]),
    f: impl Fn(T, T) -> U,
) -> Result<(Vec<usize>, Vec<U>), OperatorError> {
    if a_shape == b_shape {
        return Ok((
            a_shape.to_vec(),
            a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(),
        ));
    }
    let shape = broadcast_shape(a_shape, b_shape)?;
    let from_a = broadcast_positions(a_shape, &shape);
    let from_b = broadcast_positions(b_shape, &shape);
    let data = from_a
        .iter()
        .zip(&from_b)
        .map(|(&i, &j)| f(a[i], b[j]))
        .collect();
    Ok((shape, data))
}

fn arithmetic(op: Arithmetic, a: &Tensor, b: &Tensor) -> Result<Tensor, OperatorError> {
    match (a, b) {
        (Tensor::Float { shape: sa, data: a }, Tensor::Float { shape: sb, data: b }) => {
            let (shape, data) = broadcast((sa, a), (sb, b), |x: f32, y: f32| match op {
                Arithmetic::Add => x + y,
                Arithmetic::Sub => x - y,
                Arithmetic::Mul => x * y,
                Arithmetic::Div => x / y,
                Arithmetic::Pow => pow(x, y),
            })?;
            Ok(Tensor::Float { shape, data })
        }
        (Tensor::Int64 { shape: sa, data: a }, Tensor::Int64 { shape: sb, data: b }) => {
            let (shape, data) = broadcast((sa, a), (sb, b), |x: i64, y: i64| match op {
                Arithmetic::Add => x.wrapping_add(y),
                Arithmetic::Sub => x.wrapping_sub(y),
                Arithmetic::Mul => x.wrapping_mul(y),
                Arithmetic::Div => x.checked_div(y).unwrap_or(0),
                Arithmetic::Pow => u32::try_from(y).map_or(0, |y| x.wrapping_pow(y)),
            })?;
            Ok(Tensor::Int64 { shape, data })
        }
        // Pow's exponent may have its own type.
        (Tensor::Float { shape: sa, data: a }, Tensor::Int64 { shape: sb, data: b })
            if op == Arithmetic::Pow =>
        {
            let b: Vec<f32> = b.iter().map(|&y| y as f32).collect();
            let (shape, data) = broadcast((sa, a), (sb, &b), pow)?;
            Ok(Tensor::Float { shape, data })
        }
        _ => Err(input_error(format!(
            "{op:?} of {} and {}",
            a.type_name(),
            b.type_name()
        ))),
    }
}

/// `x^y`, with the exact square onnxruntime uses for the common `y = 2`.
fn pow(x: f32, y: f32) -> f32 {
    if y == 2.0 { x * x } else { x.powf(y) }
}

fn apply(function: Function, x: f32) -> f32 {
    match function {
        Function::Relu => x.max(0.0),
        Function::Sigmoid => super::logistic(x),
        Function::Tanh => x.tanh(),
        Function::Exp => x.exp(),
        Function::Log => x.ln(),
        Function::Sqrt => x.sqrt(),
        Function::Abs => x.abs(),
        Function::Neg => -x,
        Function::Reciprocal => 1.0 / x,
    }
}

/// The element offsets of every lane along `axis`, one call per lane.
fn for_each_lane(shape: &[usize], axis: usize, mut f: impl FnMut(Vec<usize>)) {
    let size = shape.get(axis).copied().unwrap_or(1);
    let inner: usize = shape.get(axis + 1..).map_or(1, |s| s.iter().product());
    let outer: usize = shape[..axis.min(shape.len())].iter().product();
    for o in 0..outer {
        for i in 0..inner {
            f((0..size).map(|k| (o * size + k) * inner + i).collect());
        }
    }
}

fn argmax(
    tensor: &Tensor,
    min: bool,
    axis: i64,
    keepdims: bool,
    last: bool,
) -> Result<Tensor, OperatorError> {
    let (shape, data) = float(tensor)?;
    let axis = resolve_axis(axis, shape.len())?;
    let mut out = Vec::new();
    for_each_lane(shape, axis, |lane| {
        let mut best = 0;
        for (k, &i) in lane.iter().enumerate().skip(1) {
            let (value, top) = (data[i], data[lane[best]]);
            let better = if min { value < top } else { value > top };
            if better || (last && value == top) {
                best = k;
            }
        }
        out.push(best as i64);
    });
    let mut out_shape = shape.to_vec();
    if keepdims {
        out_shape[axis] = 1;
    } else if !out_shape.is_empty() {
        out_shape.remove(axis);
    }
    Ok(Tensor::Int64 {
        shape: out_shape,
        data: out,
    })
}

fn reduce(
    reduction: Reduction,
    tensor: &Tensor,
    axes: &[i64],
    keepdims: bool,
) -> Result<Tensor, OperatorError> {
    let (shape, data) = float(tensor)?;
    let reduced: Vec<usize> = if axes.is_empty() {
        (0..shape.len()).collect()
    } else {
        axes.iter()
            .map(|&axis| resolve_axis(axis, shape.len()))
            .collect::<Result<_, _>>()?
    };
    let kept_shape: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(axis, &size)| if reduced.contains(&axis) { 1 } else { size })
        .collect();
    // Each input element's output offset: its coordinates with the reduced
    // ones zeroed.
    let kept_strides = strides(&kept_shape);
    let zeroed: Vec<usize> = (0..shape.len())
        .map(|axis| {
            if reduced.contains(&axis) {
                0
            } else {
                kept_strides[axis]
            }
        })
        .collect();
    let target = positions(shape, &zeroed);
    let count: usize = kept_shape.iter().product();
    let mut out = vec![0.0f32; count];
    let per_output = data.len() / count.max(1);
    match reduction {
        Reduction::Sum | Reduction::Mean | Reduction::SumSquare => {
            for (&value, &o) in data.iter().zip(&target) {
                out[o] += if reduction == Reduction::SumSquare {
                    value * value
                } else {
                    value
                };
            }
            if reduction == Reduction::Mean {
                out.iter_mut().for_each(|v| *v /= per_output as f32);
            }
        }
        Reduction::Max | Reduction::LogSumExp => {
            let mut max = vec![f32::MIN; count];
            for (&value, &o) in data.iter().zip(&target) {
                max[o] = max[o].max(value);
            }
            if reduction == Reduction::Max {
                out = max;
            } else {
                for (&value, &o) in data.iter().zip(&target) {
                    out[o] += (value - max[o]).exp();
                }
                for (v, m) in out.iter_mut().zip(&max) {
                    *v = v.ln() + m;
                }
            }
        }
    }
    let out_shape = if keepdims {
        kept_shape
    } else {
        shape
            .iter()
            .enumerate()
            .filter(|(axis, _)| !reduced.contains(axis))
            .map(|(_, &size)| size)
            .collect()
    };
    Ok(Tensor::Float {
        shape: out_shape,
        data: out,
    })
}

/// `alpha · A · B` for 2-D `B` (optionally transposed) and `A` of rank
/// two or more (its leading axes are rows), summed in `f64`.
fn matmul(
    a: &Tensor,
    trans_a: bool,
    b: &Tensor,
    trans_b: bool,
    alpha: f32,
) -> Result<Tensor, OperatorError> {
    let (a_shape, a_data) = float(a)?;
    let (b_shape, b_data) = float(b)?;
    let (m, k) = match (a_shape, trans_a) {
        ([rows, columns], true) => (*columns, *rows),
        ([.., columns], false) => (a_data.len() / (*columns).max(1), *columns),
        _ => return Err(input_error(format!("cannot multiply a {a_shape:?} matrix"))),
    };
    let (b_rows, n) = match (b_shape, trans_b) {
        ([rows, columns], false) => (*rows, *columns),
        ([rows, columns], true) => (*columns, *rows),
        ([rows], false) => (*rows, 1),
        _ => {
            return Err(input_error(format!(
                "cannot multiply by a {b_shape:?} matrix"
            )));
        }
    };
    if b_rows != k {
        return Err(input_error(format!(
            "{k} columns times a matrix of {b_rows} rows"
        )));
    }
    let a_at = |i: usize, p: usize| {
        if trans_a {
            a_data[p * m + i]
        } else {
            a_data[i * k + p]
        }
    };
    let b_at = |p: usize, j: usize| {
        if trans_b {
            b_data[j * k + p]
        } else {
            b_data[p * n + j]
        }
    };
    let mut out = Vec::with_capacity(m * n);
    let mut sums = vec![0.0f64; n];
    for i in 0..m {
        sums.fill(-0.0);
        for p in 0..k {
            let x = f64::from(a_at(i, p));
            for (j, sum) in sums.iter_mut().enumerate() {
                *sum += x * f64::from(b_at(p, j));
            }
        }
        out.extend(sums.iter().map(|&s| alpha * s as f32));
    }
    let mut shape = if trans_a {
        vec![m]
    } else {
        a_shape[..a_shape.len() - 1].to_vec()
    };
    if b_shape.len() == 2 {
        shape.push(n);
    }
    Ok(Tensor::Float { shape, data: out })
}

fn reshape_target(
    from: &[usize],
    wanted: &[i64],
    len: usize,
    allow_zero: bool,
) -> Result<Vec<usize>, OperatorError> {
    let mut shape = Vec::with_capacity(wanted.len());
    let mut infer = None;
    for (i, &size) in wanted.iter().enumerate() {
        shape.push(match size {
            -1 => {
                infer = Some(i);
                1
            }
            0 if !allow_zero => from.get(i).copied().unwrap_or(0),
            size => usize::try_from(size)
                .map_err(|_| input_error(format!("cannot reshape to size {size}")))?,
        });
    }
    if let Some(i) = infer {
        let known: usize = shape.iter().product();
        shape[i] = len.checked_div(known).unwrap_or(0);
    }
    Ok(shape)
}

fn concat(inputs: &[&Tensor], axis: i64) -> Result<Tensor, OperatorError> {
    let first = inputs[0].shape();
    let axis = resolve_axis(axis, first.len())?;
    let mut shape = first.to_vec();
    shape[axis] = 0;
    for input in inputs {
        let other = input.shape();
        let fits = other.len() == first.len()
            && other
                .iter()
                .zip(first)
                .enumerate()
                .all(|(i, (x, y))| i == axis || x == y);
        if !fits {
            return Err(input_error(format!(
                "cannot concatenate {other:?} with {first:?} along axis {axis}"
            )));
        }
        shape[axis] += other[axis];
    }
    let joined = Tensor::joined(inputs, shape.clone())
        .ok_or_else(|| input_error("inputs of different element types"))?;
    let outer: usize = first[..axis].iter().product();
    let inner: usize = first[axis + 1..].iter().product();
    let mut indices = Vec::with_capacity(joined.len());
    for o in 0..outer {
        let mut base = 0;
        for input in inputs {
            let block = input.shape()[axis] * inner;
            indices.extend((0..block).map(|i| base + o * block + i));
            base += input.len();
        }
    }
    Ok(joined.take(&indices, shape))
}

fn gather(
    tensor: &Tensor,
    axis: usize,
    index_shape: &[usize],
    index_data: &[i64],
) -> Result<Tensor, OperatorError> {
    let shape = tensor.shape();
    let size = shape.get(axis).copied().unwrap_or(1);
    let picks = index_data
        .iter()
        .map(|&index| {
            let resolved = if index < 0 {
                index + size as i64
            } else {
                index
            };
            usize::try_from(resolved)
                .ok()
                .filter(|&i| i < size)
                .ok_or_else(|| input_error(format!("index {index} is out of range for {size}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outer: usize = shape[..axis.min(shape.len())].iter().product();
    let inner: usize = shape.get(axis + 1..).map_or(1, |s| s.iter().product());
    let mut indices = Vec::with_capacity(outer * picks.len() * inner);
    for o in 0..outer {
        for &pick in &picks {
            indices.extend((0..inner).map(|i| (o * size + pick) * inner + i));
        }
    }
    let mut out_shape = shape[..axis.min(shape.len())].to_vec();
    out_shape.extend_from_slice(index_shape);
    out_shape.extend_from_slice(shape.get(axis + 1..).unwrap_or_default());
    Ok(tensor.take(&indices, out_shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::Float {
            shape: shape.to_vec(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn arithmetic_broadcasts_a_row_and_a_column_as_numpy_does() {
        let column = floats(&[2, 1], &[10.0, 20.0]);
        let row = floats(&[3], &[1.0, 2.0, 3.0]);
        let sum = arithmetic(Arithmetic::Add, &column, &row).expect("broadcasts");
        assert_eq!(sum, floats(&[2, 3], &[11.0, 12.0, 13.0, 21.0, 22.0, 23.0]));
        let bad = arithmetic(Arithmetic::Add, &floats(&[2], &[1.0, 2.0]), &row);
        assert!(bad.is_err(), "{bad:?}");
    }

    #[test]
    fn reductions_keep_or_drop_the_reduced_axis() {
        let x = floats(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let kept = reduce(Reduction::Sum, &x, &[1], true).expect("reduces");
        assert_eq!(kept, floats(&[2, 1], &[6.0, 15.0]));
        let dropped = reduce(Reduction::Sum, &x, &[0], false).expect("reduces");
        assert_eq!(dropped, floats(&[3], &[5.0, 7.0, 9.0]));
        let lse = reduce(
            Reduction::LogSumExp,
            &floats(&[1, 2], &[1000.0, 1000.0]),
            &[1],
            false,
        )
        .expect("reduces");
        assert_eq!(lse, floats(&[1], &[1000.0 + 2f32.ln()]));
    }

    #[test]
    fn concat_interleaves_along_the_inner_axis() {
        let a = floats(&[2, 1], &[1.0, 2.0]);
        let b = floats(&[2, 2], &[3.0, 4.0, 5.0, 6.0]);
        let joined = concat(&[&a, &b], 1).expect("concatenates");
        assert_eq!(joined, floats(&[2, 3], &[1.0, 3.0, 4.0, 2.0, 5.0, 6.0]));
    }

    #[test]
    fn transpose_and_matmul_agree_with_hand_computed_values() {
        let x = floats(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t = Dense::Transpose { perm: None }
            .run(&[&x])
            .expect("transposes");
        assert_eq!(t[0], floats(&[3, 2], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
        let product = matmul(&x, false, &t[0], false, 1.0).expect("multiplies");
        assert_eq!(product, floats(&[2, 2], &[14.0, 32.0, 32.0, 77.0]));
        let gemm = matmul(&x, false, &x, true, 1.0).expect("multiplies");
        assert_eq!(gemm, product);
    }

    #[test]
    fn argmax_takes_the_first_of_equal_values_unless_asked_for_the_last() {
        let x = floats(&[1, 3], &[0.5, 0.5, 0.1]);
        let first = argmax(&x, false, 1, false, false).expect("argmax");
        assert_eq!(
            first,
            Tensor::Int64 {
                shape: vec![1],
                data: vec![0]
            }
        );
        let last = argmax(&x, false, 1, false, true).expect("argmax");
        assert_eq!(
            last,
            Tensor::Int64 {
                shape: vec![1],
                data: vec![1]
            }
        );
    }

    #[test]
    fn reshape_copies_zeros_and_infers_minus_one() {
        assert_eq!(
            reshape_target(&[4, 3], &[0, -1], 12, false).expect("fits"),
            [4, 3]
        );
        assert_eq!(
            reshape_target(&[4, 3], &[-1], 12, false).expect("fits"),
            [12]
        );
    }

    #[test]
    fn array_feature_extractor_looks_labels_up_by_index() {
        let labels = Tensor::Int64 {
            shape: vec![3],
            data: vec![7, 8, 9],
        };
        let picks = Tensor::Int64 {
            shape: vec![2],
            data: vec![2, 0],
        };
        let out = Dense::ArrayFeatureExtractor
            .run(&[&labels, &picks])
            .expect("extracts");
        assert_eq!(
            out[0],
            Tensor::Int64 {
                shape: vec![1, 2],
                data: vec![9, 7]
            }
        );
    }

    #[test]
    fn comparisons_broadcast_and_where_picks_by_them() {
        let x = floats(&[2, 2], &[-1.0, 2.0, 0.0, -3.0]);
        let zero = floats(&[], &[0.0]);
        let less = compare(Comparison::Less, &x, &zero).expect("compares");
        assert_eq!(
            less,
            Tensor::Bool {
                shape: vec![2, 2],
                data: vec![true, false, false, true]
            }
        );
        let picked = Dense::Where
            .run(&[&less, &floats(&[], &[10.0]), &x])
            .expect("selects");
        assert_eq!(picked, vec![floats(&[2, 2], &[10.0, 2.0, 0.0, 10.0])]);
        let not = Dense::Not.run(&[&less]).expect("negates");
        assert_eq!(
            not,
            vec![Tensor::Bool {
                shape: vec![2, 2],
                data: vec![false, true, true, false]
            }]
        );
        let labels = Tensor::Int64 {
            shape: vec![3],
            data: vec![2, 0, 2],
        };
        let two = Tensor::Int64 {
            shape: vec![1],
            data: vec![2],
        };
        assert_eq!(
            compare(Comparison::Equal, &labels, &two).expect("compares"),
            Tensor::Bool {
                shape: vec![3],
                data: vec![true, false, true]
            }
        );
    }

    #[test]
    fn top_k_orders_by_value_and_equal_values_by_index() {
        let x = floats(&[2, 4], &[3.0, 1.0, 2.0, 1.0, 0.5, 0.5, 0.5, -1.0]);
        let k = Tensor::Int64 {
            shape: vec![1],
            data: vec![3],
        };
        let smallest = Dense::TopK {
            axis: -1,
            largest: false,
        }
        .run(&[&x, &k])
        .expect("runs");
        assert_eq!(
            smallest[0],
            floats(&[2, 3], &[1.0, 1.0, 2.0, -1.0, 0.5, 0.5])
        );
        assert_eq!(
            smallest[1],
            Tensor::Int64 {
                shape: vec![2, 3],
                data: vec![1, 3, 2, 3, 0, 1]
            }
        );
        let largest = Dense::TopK {
            axis: 1,
            largest: true,
        }
        .run(&[&x, &k])
        .expect("runs");
        assert_eq!(
            largest[1],
            Tensor::Int64 {
                shape: vec![2, 3],
                data: vec![0, 2, 1, 0, 1, 2]
            }
        );
    }

    #[test]
    fn constant_of_shape_fills_the_given_shape() {
        let shape = Tensor::Int64 {
            shape: vec![2],
            data: vec![2, 3],
        };
        let zeros = Dense::ConstantOfShape {
            value: floats(&[1], &[0.0]),
        }
        .run(&[&shape])
        .expect("runs");
        assert_eq!(zeros, vec![floats(&[2, 3], &[0.0; 6])]);
    }

    #[test]
    fn argmin_cumsum_and_gather_elements_find_a_weighted_median() {
        // AdaBoostRegressor's median: the first cumulative weight reaching
        // half the total, then the prediction at that position.
        let weights = floats(&[1, 3], &[0.2, 0.5, 0.3]);
        let axis = Tensor::Int64 {
            shape: vec![],
            data: vec![1],
        };
        let cumulative = Dense::CumSum {
            exclusive: false,
            reverse: false,
        }
        .run(&[&weights, &axis])
        .expect("sums");
        assert_eq!(cumulative, vec![floats(&[1, 3], &[0.2, 0.7, 1.0])]);
        let below =
            compare(Comparison::Less, &cumulative[0], &floats(&[1, 1], &[0.5])).expect("compares");
        let below = super::super::cast(&below, super::super::CastTo::Float).expect("casts");
        let first_at_or_above = argmax(&below, true, 1, true, false).expect("argmin");
        assert_eq!(
            first_at_or_above,
            Tensor::Int64 {
                shape: vec![1, 1],
                data: vec![1]
            }
        );
        let predictions = floats(&[1, 3], &[10.0, 20.0, 30.0]);
        let picked = Dense::GatherElements { axis: 1 }
            .run(&[&predictions, &first_at_or_above])
            .expect("gathers");
        assert_eq!(picked, vec![floats(&[1, 1], &[20.0])]);
    }
}
