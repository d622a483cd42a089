//! The values that flow between operators: dense tensors of `f32`, `i64`
//! or strings, row-major, with the batch (one row per record) first.
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
            | Tensor::Text { shape, .. } => shape,
        }
    }

    /// The ONNX name of the element type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Tensor::Float { .. } => "tensor(float)",
            Tensor::Int64 { .. } => "tensor(int64)",
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
