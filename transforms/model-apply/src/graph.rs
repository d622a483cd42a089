//! A loaded model: the ONNX graph turned into a list of built operators
//! over numbered value slots, run on a batch of feature rows.
//!
//! [`Model::load`] decodes the file, checks its inputs are `[rows,
//! columns]` tensors of floats, int64s or strings, builds every node's
//! operator (so an unsupported operator fails at load, not on the first
//! record) and resolves value names to slots. [`Model::run`] takes `rows ×
//! features` floats for a model of one float input, [`Model::run_inputs`]
//! one tensor per input (a ColumnTransformer's numeric and categorical
//! columns), and both return the graph's outputs. This module knows nothing
//! of records or config.

use std::collections::HashMap;

use thiserror::Error;

use crate::onnx::{DecodeError, GraphProto, ModelProto, NodeProto, ValueType};
use crate::operators::dense::{Dense, Function};
use crate::operators::{Operator, OperatorError};
use crate::tensor::{ClassLabels, Tensor};

/// A model that cannot be loaded or run.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The file is not a readable ONNX model.
    #[error("not an ONNX model")]
    Decode(#[from] DecodeError),
    /// The graph's inputs are not one float tensor.
    #[error("graph input: {0}")]
    Input(String),
    /// A node's operator is unsupported or misconfigured.
    #[error("node `{node}` ({op_type})")]
    Node {
        /// The node's name, or its index if unnamed.
        node: String,
        /// Its `op_type`.
        op_type: String,
        /// What is wrong.
        #[source]
        source: OperatorError,
    },
    /// A node or graph output names a value nothing produces.
    #[error("value `{0}` is used but never produced")]
    UnknownValue(String),
}

/// One node, ready to run: its operator and the slots it reads and writes.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    name: String,
    op_type: String,
    operator: Operator,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
}

/// What a graph output holds, as far as it can be known before running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputInfo {
    /// The output's name in the graph.
    pub name: String,
    /// Its declared element type (`TensorProto.DataType`), or `None` for a
    /// sequence, map or undeclared type.
    pub elem_type: Option<i64>,
    /// The class labels of its scores, if a classifier or ZipMap produces
    /// it.
    pub classes: Option<ClassLabels>,
    /// Whether its scores are known to be raw decision values rather than
    /// probabilities (a LinearClassifier without a score transform, as
    /// RidgeClassifier and LinearSVC export).
    pub decision_scores: bool,
}

/// The element type of a graph input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `tensor(float)`.
    Float,
    /// `tensor(int64)`.
    Int64,
    /// `tensor(string)`.
    Text,
}

/// A graph input: a `[rows, width]` tensor the caller provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputInfo {
    /// Its name in the graph.
    pub name: String,
    /// Its element type.
    pub kind: InputKind,
    /// Its declared number of columns, if declared.
    pub width: Option<usize>,
    /// Whether it is `[rows]` rather than `[rows, width]` (width 1).
    pub flat: bool,
}

/// A model loaded from an ONNX file.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    inputs: Vec<InputInfo>,
    constants: Vec<(usize, Tensor)>,
    steps: Vec<Step>,
    slots: usize,
    outputs: Vec<(OutputInfo, usize)>,
    producer: String,
}

impl Model {
    /// Loads a model from the bytes of an `.onnx` file.
    ///
    /// # Errors
    ///
    /// The file does not decode, its input is not one float tensor, a node
    /// uses an unsupported operator or attribute, or the graph is not
    /// wired up.
    pub fn load(bytes: &[u8]) -> Result<Model, ModelError> {
        let proto = ModelProto::decode(bytes)?;
        let graph = proto.graph;
        let initialized: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|input| !initialized.contains(&input.name.as_str()))
            .collect();
        if inputs.is_empty() {
            return Err(ModelError::Input("the graph has no input".into()));
        }
        let inputs = inputs
            .iter()
            .map(|input| {
                let ValueType::Tensor { elem_type, shape } = &input.value_type else {
                    return Err(ModelError::Input(format!(
                        "`{}` is not a tensor",
                        input.name
                    )));
                };
                let kind = match elem_type {
                    1 => InputKind::Float,
                    7 => InputKind::Int64,
                    8 => InputKind::Text,
                    other => {
                        return Err(ModelError::Input(format!(
                            "`{}` has element type {other}; only float (1), int64 (7) and \
                             string (8) inputs are supported, so export with skl2onnx's \
                             FloatTensorType (or Int64TensorType, StringTensorType)",
                            input.name
                        )));
                    }
                };
                let (width, flat) = match shape.as_deref() {
                    Some([_, Some(width)]) => (usize::try_from(*width).ok(), false),
                    Some([_, None]) | None => (None, false),
                    // `[rows]`: one value per row (a LabelEncoder's input).
                    Some([_]) => (Some(1), true),
                    Some(other) => {
                        return Err(ModelError::Input(format!(
                            "`{}` has {} dimensions; expected [rows, features] or [rows]",
                            input.name,
                            other.len()
                        )));
                    }
                };
                Ok(InputInfo {
                    name: input.name.clone(),
                    kind,
                    width,
                    flat,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut slot_of: HashMap<String, usize> = HashMap::new();
        for input in &inputs {
            let slot = slot_of.len();
            slot_of.insert(input.name.clone(), slot);
        }
        let mut constants = Vec::new();
        for initializer in &graph.initializer {
            let slot = slot_of.len();
            slot_of.insert(initializer.name.clone(), slot);
            constants.push((slot, constant(initializer)));
        }
        let mut classes_of: HashMap<usize, ClassLabels> = HashMap::new();
        let mut decision_slots: Vec<usize> = Vec::new();
        let mut steps = Vec::with_capacity(graph.node.len());
        for (position, node) in graph.node.iter().enumerate() {
            let Step {
                name,
                operator,
                inputs,
                outputs,
                ..
            } = step(node, position, &mut slot_of)?;
            // Scores keep their labels through Identity, Normalizer, Cast.
            let labels = operator.class_labels().cloned().or_else(|| {
                inputs
                    .first()
                    .and_then(|slot| classes_of.get(slot).cloned())
            });
            if let Some(labels) = labels {
                let scores = match operator {
                    Operator::LinearClassifier(_)
                    | Operator::TreeEnsembleClassifier(_)
                    | Operator::SvmClassifier(_) => outputs.get(1),
                    _ => outputs.first(),
                };
                if let Some(&slot) = scores {
                    classes_of.insert(slot, labels);
                }
            }
            // Raw decision scores stay such through the glue after them, and
            // through the arithmetic skl2onnx turns SVC's pairwise scores
            // into scikit-learn's one-vs-rest `decision_function` with.
            let decision = match &operator {
                Operator::LinearClassifier(op) => {
                    op.gives_decision_scores().then(|| outputs.get(1)).flatten()
                }
                Operator::SvmClassifier(op) => {
                    op.gives_decision_scores().then(|| outputs.get(1)).flatten()
                }
                Operator::Identity
                | Operator::Cast(_)
                | Operator::ZipMap(_)
                | Operator::Dense(
                    Dense::ArrayFeatureExtractor
                    | Dense::Arithmetic(_)
                    | Dense::Sum
                    | Dense::Function(Function::Neg | Function::Abs)
                    | Dense::Compare(_)
                    | Dense::Concat { .. }
                    | Dense::Reshape { .. }
                    | Dense::Flatten { .. }
                    | Dense::Squeeze { .. },
                ) => inputs
                    .iter()
                    .any(|slot| decision_slots.contains(slot))
                    .then(|| outputs.first())
                    .flatten(),
                _ => None,
            };
            decision_slots.extend(decision);
            steps.push(Step {
                name,
                op_type: node.op_type.clone(),
                operator,
                inputs,
                outputs,
            });
        }
        // A classifier built of standard operators (an MLP, SGD, naive
        // Bayes) looks its label up in a constant of class labels with
        // ArrayFeatureExtractor; its scores are labelled with that list.
        if classes_of.is_empty() {
            let slots: Vec<Option<usize>> = graph
                .output
                .iter()
                .map(|output| slot_of.get(&output.name).copied())
                .collect();
            let traced = slots
                .iter()
                .flatten()
                .find_map(|&slot| looked_up_labels(&steps, &constants, slot));
            if let Some(labels) = traced {
                for (output, slot) in graph.output.iter().zip(&slots) {
                    if let (ValueType::Tensor { elem_type: 1, .. }, Some(slot)) =
                        (&output.value_type, slot)
                    {
                        classes_of.insert(*slot, labels.clone());
                    }
                }
            }
        }
        let outputs = graph
            .output
            .iter()
            .map(|output| {
                let slot = *slot_of
                    .get(&output.name)
                    .ok_or_else(|| ModelError::UnknownValue(output.name.clone()))?;
                let elem_type = match output.value_type {
                    ValueType::Tensor { elem_type, .. } => Some(elem_type),
                    _ => None,
                };
                let info = OutputInfo {
                    name: output.name.clone(),
                    elem_type,
                    classes: classes_of.get(&slot).cloned(),
                    decision_scores: decision_slots.contains(&slot),
                };
                Ok((info, slot))
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Model {
            inputs,
            constants,
            steps,
            slots: slot_of.len(),
            outputs,
            producer: proto.producer_name,
        })
    }

    /// The number of features per row, if the model declares it: the sum
    /// of its inputs' widths.
    pub fn features(&self) -> Option<usize> {
        self.inputs.iter().map(|input| input.width).sum()
    }

    /// The graph's inputs, in order.
    pub fn inputs(&self) -> &[InputInfo] {
        &self.inputs
    }

    /// Whether the model takes one float tensor, the feature matrix
    /// [`run`](Model::run) gives it.
    pub fn takes_one_matrix(&self) -> bool {
        matches!(
            self.inputs[..],
            [InputInfo {
                kind: InputKind::Float,
                flat: false,
                ..
            }]
        )
    }

    /// The graph's outputs, in order.
    pub fn outputs(&self) -> impl Iterator<Item = &OutputInfo> {
        self.outputs.iter().map(|(info, _)| info)
    }

    /// The exporter that wrote the file (`producer_name`), e.g. `skl2onnx`.
    pub fn producer(&self) -> &str {
        &self.producer
    }

    /// Runs the graph on `rows` rows of `columns` features, row-major;
    /// returns one tensor per graph output.
    ///
    /// # Errors
    ///
    /// An operator rejects its input (a shape the model does not expect).
    pub fn run(&self, rows: usize, columns: usize, x: Vec<f32>) -> Result<Vec<Tensor>, ModelError> {
        self.run_inputs(vec![Tensor::matrix(rows, columns, x)])
    }

    /// Runs the graph on one tensor per graph input, in order; returns one
    /// tensor per graph output.
    ///
    /// # Errors
    ///
    /// The number of tensors is not the number of inputs, or an operator
    /// rejects its input.
    pub fn run_inputs(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ModelError> {
        if inputs.len() != self.inputs.len() {
            return Err(ModelError::Input(format!(
                "{} input tensors for a graph of {} inputs",
                inputs.len(),
                self.inputs.len()
            )));
        }
        let mut values: Vec<Option<Tensor>> = vec![None; self.slots];
        for (slot, tensor) in inputs.into_iter().enumerate() {
            values[slot] = Some(tensor);
        }
        for (slot, tensor) in &self.constants {
            values[*slot] = Some(tensor.clone());
        }
        execute(&self.steps, &mut values)?;
        self.outputs
            .iter()
            .map(|(info, slot)| {
                values[*slot]
                    .take()
                    .ok_or_else(|| ModelError::UnknownValue(info.name.clone()))
            })
            .collect()
    }

    /// The name of the graph's first input.
    pub fn input_name(&self) -> &str {
        &self.inputs[0].name
    }

    /// The same model as if its file left the feature count open
    /// (`[N, None]`), as some exporters other than skl2onnx do.
    #[cfg(test)]
    pub(crate) fn with_undeclared_width(self) -> Model {
        let mut inputs = self.inputs;
        for input in &mut inputs {
            input.width = None;
        }
        Model { inputs, ..self }
    }
}

/// Builds `node`'s operator and wires it to slots, giving new slots to the
/// values it produces.
fn step(
    node: &NodeProto,
    position: usize,
    slot_of: &mut HashMap<String, usize>,
) -> Result<Step, ModelError> {
    let name = if node.name.is_empty() {
        format!("#{position}")
    } else {
        node.name.clone()
    };
    let operator = Operator::from_node(node).map_err(|source| ModelError::Node {
        node: name.clone(),
        op_type: node.op_type.clone(),
        source,
    })?;
    let inputs = node
        .input
        .iter()
        .filter(|value| !value.is_empty())
        .map(|value| {
            slot_of
                .get(value)
                .copied()
                .ok_or_else(|| ModelError::UnknownValue(value.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outputs: Vec<usize> = node
        .output
        .iter()
        .map(|value| {
            let slot = slot_of.len();
            *slot_of.entry(value.clone()).or_insert(slot)
        })
        .collect();
    Ok(Step {
        name,
        op_type: node.op_type.clone(),
        operator,
        inputs,
        outputs,
    })
}

/// Runs `steps` in order over `values`, each reading its inputs' slots and
/// filling its outputs'.
fn execute(steps: &[Step], values: &mut [Option<Tensor>]) -> Result<(), ModelError> {
    for step in steps {
        let inputs = step
            .inputs
            .iter()
            .map(|&slot| values[slot].as_ref())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ModelError::UnknownValue(format!("an input of `{}`", step.name)))?;
        let produced = step
            .operator
            .run(&inputs)
            .map_err(|source| ModelError::Node {
                node: step.name.clone(),
                op_type: step.op_type.clone(),
                source,
            })?;
        for (&slot, tensor) in step.outputs.iter().zip(produced) {
            values[slot] = Some(tensor);
        }
    }
    Ok(())
}

/// A subgraph (Scan's `body`): its inputs are its first slots, in order.
/// It sees only its own inputs and constants, not the enclosing graph's
/// values (skl2onnx's bodies need no more).
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    inputs: usize,
    constants: Vec<(usize, Tensor)>,
    steps: Vec<Step>,
    slots: usize,
    outputs: Vec<usize>,
}

impl Body {
    /// Builds a subgraph.
    ///
    /// # Errors
    ///
    /// A node is unsupported, or a value is used but never produced (or
    /// comes from the enclosing graph).
    pub fn build(graph: &GraphProto) -> Result<Body, ModelError> {
        let mut slot_of: HashMap<String, usize> = HashMap::new();
        for input in &graph.input {
            let slot = slot_of.len();
            slot_of.insert(input.name.clone(), slot);
        }
        let inputs = slot_of.len();
        let mut constants = Vec::new();
        for initializer in &graph.initializer {
            let slot = slot_of.len();
            slot_of.insert(initializer.name.clone(), slot);
            constants.push((slot, constant(initializer)));
        }
        let steps = graph
            .node
            .iter()
            .enumerate()
            .map(|(position, node)| step(node, position, &mut slot_of))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = graph
            .output
            .iter()
            .map(|output| {
                slot_of
                    .get(&output.name)
                    .copied()
                    .ok_or_else(|| ModelError::UnknownValue(output.name.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Body {
            inputs,
            constants,
            steps,
            slots: slot_of.len(),
            outputs,
        })
    }

    /// How many inputs the subgraph takes.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// How many outputs it gives.
    pub fn outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Runs the subgraph on its inputs, in order.
    ///
    /// # Errors
    ///
    /// Too few inputs, or an operator rejects its input.
    pub fn run(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ModelError> {
        if inputs.len() != self.inputs {
            return Err(ModelError::Input(format!(
                "the body takes {} inputs, given {}",
                self.inputs,
                inputs.len()
            )));
        }
        let mut values: Vec<Option<Tensor>> = inputs.into_iter().map(Some).collect();
        values.resize(self.slots, None);
        for (slot, tensor) in &self.constants {
            values[*slot] = Some(tensor.clone());
        }
        execute(&self.steps, &mut values)?;
        self.outputs
            .iter()
            .map(|&slot| {
                values[slot]
                    .take()
                    .ok_or_else(|| ModelError::UnknownValue(format!("body output {slot}")))
            })
            .collect()
    }
}

/// The class labels `slot` is looked up in: following `slot` back through
/// Cast, Identity and reshapes to an ArrayFeatureExtractor over a constant.
fn looked_up_labels(
    steps: &[Step],
    constants: &[(usize, Tensor)],
    mut slot: usize,
) -> Option<ClassLabels> {
    use crate::operators::dense::Dense;
    loop {
        let step = steps.iter().find(|step| step.outputs.contains(&slot))?;
        match &step.operator {
            Operator::Cast(_)
            | Operator::Identity
            | Operator::Dense(
                Dense::Reshape { .. } | Dense::Flatten { .. } | Dense::Squeeze { .. },
            ) => {
                slot = *step.inputs.first()?;
            }
            Operator::Dense(Dense::ArrayFeatureExtractor) => {
                let table = step.inputs.first()?;
                let (_, labels) = constants.iter().find(|(at, _)| at == table)?;
                return match labels {
                    Tensor::Int64 { data, .. } => Some(ClassLabels::Ints(data.clone())),
                    Tensor::Text { data, .. } => Some(ClassLabels::Strings(data.clone())),
                    Tensor::Float { .. } | Tensor::Bool { .. } => None,
                };
            }
            _ => return None,
        }
    }
}

/// An initializer as a tensor: float, double (as float), int64, int32 (as
/// int64), bool and string; other element types become empty float
/// tensors, which any operator reading them rejects.
pub(crate) fn constant(proto: &crate::onnx::TensorProto) -> Tensor {
    let shape: Vec<usize> = proto
        .dims
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(0))
        .collect();
    match proto.data_type {
        7 => Tensor::Int64 {
            shape,
            data: if proto.raw_data.is_empty() {
                proto.int64_data.clone()
            } else {
                proto
                    .raw_data
                    .chunks_exact(8)
                    .map(|word| {
                        let mut bytes = [0u8; 8];
                        bytes.copy_from_slice(word);
                        i64::from_le_bytes(bytes)
                    })
                    .collect()
            },
        },
        // int32 (skl2onnx's class indices) is held as int64.
        6 => Tensor::Int64 {
            shape,
            data: if proto.raw_data.is_empty() {
                proto.int32_data.clone()
            } else {
                proto
                    .raw_data
                    .chunks_exact(4)
                    .map(|word| i64::from(i32::from_le_bytes([word[0], word[1], word[2], word[3]])))
                    .collect()
            },
        },
        // bool, one byte each in `raw_data` or one int32 each.
        9 => Tensor::Bool {
            shape,
            data: if proto.raw_data.is_empty() {
                proto.int32_data.iter().map(|&value| value != 0).collect()
            } else {
                proto.raw_data.iter().map(|&byte| byte != 0).collect()
            },
        },
        8 => Tensor::Text {
            shape,
            data: proto
                .string_data
                .iter()
                .map(|text| String::from_utf8_lossy(text).into_owned())
                .collect(),
        },
        1 => Tensor::Float {
            shape,
            data: if proto.raw_data.is_empty() {
                proto.float_data.clone()
            } else {
                proto
                    .raw_data
                    .chunks_exact(4)
                    .map(|word| f32::from_le_bytes([word[0], word[1], word[2], word[3]]))
                    .collect()
            },
        },
        // double (skl2onnx keeps a KNN regressor's training targets so):
        // rounded to float, which commutes with the picking and the Cast
        // to float that follow it.
        11 => Tensor::Float {
            shape,
            data: if proto.raw_data.is_empty() {
                proto
                    .double_data
                    .iter()
                    .map(|&value| value as f32)
                    .collect()
            } else {
                proto
                    .raw_data
                    .chunks_exact(8)
                    .map(|word| {
                        let mut bytes = [0u8; 8];
                        bytes.copy_from_slice(word);
                        f64::from_le_bytes(bytes) as f32
                    })
                    .collect()
            },
        },
        // Another type: no elements, and a shape that says so, so that an
        // operator reading it finds nothing to index.
        _ => Tensor::Float {
            shape: vec![0],
            data: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Vec<u8> {
        let path = format!("{}/assets/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn loads_a_zipmap_classifier_with_its_labels() {
        let model = Model::load(&example("iris-forest.onnx")).expect("loads");
        assert_eq!(model.features(), Some(4));
        assert_eq!(model.producer(), "skl2onnx");
        let outputs: Vec<_> = model.outputs().collect();
        assert_eq!(outputs[0].elem_type, Some(7));
        assert_eq!(
            outputs[1].elem_type, None,
            "ZipMap yields a sequence of maps"
        );
        assert_eq!(outputs[1].classes, Some(ClassLabels::Ints(vec![0, 1, 2])));
    }

    #[test]
    fn runs_a_batch_of_rows_at_once() {
        let model = Model::load(&example("iris-species.onnx")).expect("loads");
        let rows = vec![5.1, 3.5, 1.4, 0.2, 6.3, 3.3, 6.0, 2.5];
        let outputs = model.run(2, 4, rows).expect("runs");
        assert_eq!(
            outputs[0],
            Tensor::Text {
                shape: vec![2],
                data: vec!["setosa".into(), "virginica".into()]
            }
        );
        assert_eq!(outputs[1].shape(), [2, 3]);
    }

    #[test]
    fn rejects_a_truncated_file() {
        let bytes = example("diabetes-linear.onnx");
        let error = Model::load(&bytes[..bytes.len() / 2]).expect_err("truncated");
        assert!(matches!(error, ModelError::Decode(_)), "{error}");
    }
}
