//! The values that flow between operators: dense tensors of `f32`, `i64`,
//! booleans or strings, row-major, with the batch (one row per record) first.
//!
//! This module owns the data only; operators live in [`crate::operators`].

/// A dense tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum Tensor {
    /// `tensor(float)`.
    Float {
        /// One size per dimension.
        shape: Vec<usize>,
        /// The elements, row-major.
        data: Vec<f32>,
    },
    /// `tensor(int64)`.
    Int64 {
        /// One size per dimension.
        shape: Vec<usize>,
        /// The elements, row-major.
        data: Vec<i64>,
    },
    /// `tensor(bool)`: what comparisons (`Less`, `Equal`) produce and
    /// `Where`, `Not` and `And` take.
    Bool {
        /// One size per dimension.
        shape: Vec<usize>,
        /// The elements, row-major.
        data: Vec<bool>,
    },
    /// `tensor(string)`.
    Text {
        /// One size per dimension.
        shape: Vec<usize>,
        /// The elements, row-major.
        data: Vec<String>,
    },
}

impl Tensor {
    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::Float { shape, .. }
            | Tensor::Int64 { shape, .. }
            | Tensor::Bool { shape, .. }
            | Tensor::Text { shape, .. } => shape,
        }
    }

    /// The ONNX name of the element type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Tensor::Float { .. } => "tensor(float)",
            Tensor::Int64 { .. } => "tensor(int64)",
            Tensor::Bool { .. } => "tensor(bool)",
            Tensor::Text { .. } => "tensor(string)",
        }
    }

    /// The number of rows (the first dimension; 1 for a scalar) and the
    /// number of elements per row.
    pub fn rows_and_columns(&self) -> (usize, usize) {
        match self.shape() {
            [] => (1, 1),
            [rows] => (*rows, 1),
            [rows, rest @ ..] => (*rows, rest.iter().product()),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Tensor::Float { data, .. } => data.len(),
            Tensor::Int64 { data, .. } => data.len(),
            Tensor::Bool { data, .. } => data.len(),
            Tensor::Text { data, .. } => data.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same elements under another shape of the same size (Reshape,
    /// Flatten, Squeeze, Unsqueeze); `None` if the sizes differ.
    pub fn reshaped(&self, shape: Vec<usize>) -> Option<Tensor> {
        if shape.iter().product::<usize>() != self.len() {
            return None;
        }
        let mut out = self.clone();
        match &mut out {
            Tensor::Float { shape: s, .. }
            | Tensor::Int64 { shape: s, .. }
            | Tensor::Bool { shape: s, .. }
            | Tensor::Text { shape: s, .. } => *s = shape,
        }
        Some(out)
    }

    /// The elements at the row-major positions `indices`, in that order,
    /// under `shape` (Transpose, Gather, Slice, ArrayFeatureExtractor and
    /// broadcasting are all such picks). Every index must be in range.
    pub fn take(&self, indices: &[usize], shape: Vec<usize>) -> Tensor {
        match self {
            Tensor::Float { data, .. } => Tensor::Float {
                shape,
                data: indices.iter().map(|&i| data[i]).collect(),
            },
            Tensor::Int64 { data, .. } => Tensor::Int64 {
                shape,
                data: indices.iter().map(|&i| data[i]).collect(),
            },
            Tensor::Bool { data, .. } => Tensor::Bool {
                shape,
                data: indices.iter().map(|&i| data[i]).collect(),
            },
            Tensor::Text { data, .. } => Tensor::Text {
                shape,
                data: indices.iter().map(|&i| data[i].clone()).collect(),
            },
        }
    }

    /// The tensors' elements one after the other under `shape`, if they
    /// all have this tensor's element type (the first step of Concat).
    pub fn joined(parts: &[&Tensor], shape: Vec<usize>) -> Option<Tensor> {
        let first = parts.first()?;
        Some(match first {
            Tensor::Float { .. } => Tensor::Float {
                shape,
                data: parts
                    .iter()
                    .map(|part| match part {
                        Tensor::Float { data, .. } => Some(data.as_slice()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?
                    .concat(),
            },
            Tensor::Int64 { .. } => Tensor::Int64 {
                shape,
                data: parts
                    .iter()
                    .map(|part| match part {
                        Tensor::Int64 { data, .. } => Some(data.as_slice()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?
                    .concat(),
            },
            Tensor::Bool { .. } => Tensor::Bool {
                shape,
                data: parts
                    .iter()
                    .map(|part| match part {
                        Tensor::Bool { data, .. } => Some(data.as_slice()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?
                    .concat(),
            },
            Tensor::Text { .. } => Tensor::Text {
                shape,
                data: parts
                    .iter()
                    .map(|part| match part {
                        Tensor::Text { data, .. } => Some(data.as_slice()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?
                    .concat(),
            },
        })
    }

    /// A 2-D float tensor, `rows × columns`.
    pub fn matrix(rows: usize, columns: usize, data: Vec<f32>) -> Tensor {
        Tensor::Float {
            shape: vec![rows, columns],
            data,
        }
    }
}

/// A classifier's class labels, in the order of its score columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassLabels {
    /// `classlabels_ints` / `classlabels_int64s`.
    Ints(Vec<i64>),
    /// `classlabels_strings`.
    Strings(Vec<String>),
}

impl ClassLabels {
    /// The number of classes.
    pub fn len(&self) -> usize {
        match self {
            ClassLabels::Ints(labels) => labels.len(),
            ClassLabels::Strings(labels) => labels.len(),
        }
    }

    /// Whether there are no classes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The label tensor for one class index per row.
    pub fn select(&self, indices: &[usize]) -> Tensor {
        let shape = vec![indices.len()];
        match self {
            ClassLabels::Ints(labels) => Tensor::Int64 {
                shape,
                data: indices.iter().map(|&i| labels[i]).collect(),
            },
            ClassLabels::Strings(labels) => Tensor::Text {
                shape,
                data: indices.iter().map(|&i| labels[i].clone()).collect(),
            },
        }
    }

    /// The label of class `index` as text, as used for probability keys.
    pub fn key(&self, index: usize) -> String {
        match self {
            ClassLabels::Ints(labels) => labels[index].to_string(),
            ClassLabels::Strings(labels) => labels[index].clone(),
        }
    }
}
