//! `Scan` (opset 9 and later): a subgraph run once per slice of its scan
//! inputs along their first axis, threading state values from one run to
//! the next and stacking its scan outputs along a new first axis.
//! skl2onnx's nearest-neighbour models use it to compute every row's
//! distance to each training sample: the state is the batch, the scan input
//! the training matrix, one slice (one sample) per iteration.
//!
//! Only forward scans over axis 0 with outputs stacked on axis 0 (the
//! defaults, and all skl2onnx writes) are supported; the body sees its own
//! inputs and constants only.

use super::{Attributes, OperatorError};
use crate::graph::Body;
use crate::tensor::Tensor;

/// `ai.onnx.Scan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    body: Body,
    scan_inputs: usize,
}

impl Scan {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<Scan, OperatorError> {
        let bad = |name: &'static str, problem: String| OperatorError::Attribute { name, problem };
        let graph = attributes
            .graph("body")
            .ok_or_else(|| bad("body", "no subgraph".into()))?;
        let body = Body::build(graph).map_err(|error| bad("body", error_chain(&error)))?;
        let scan_inputs = attributes
            .int("num_scan_inputs")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n >= 1 && n <= body.inputs())
            .ok_or_else(|| bad("num_scan_inputs", "missing or out of range".into()))?;
        for name in [
            "scan_input_axes",
            "scan_input_directions",
            "scan_output_axes",
            "scan_output_directions",
        ] {
            if attributes.ints(name).iter().any(|&value| value != 0) {
                return Err(bad(
                    match name {
                        "scan_input_axes" => "scan_input_axes",
                        "scan_input_directions" => "scan_input_directions",
                        "scan_output_axes" => "scan_output_axes",
                        _ => "scan_output_directions",
                    },
                    "only forward scans over axis 0 are supported".into(),
                ));
            }
        }
        if body.outputs() < body.inputs() - scan_inputs {
            return Err(bad(
                "body",
                format!(
                    "{} outputs for {} state values",
                    body.outputs(),
                    body.inputs() - scan_inputs
                ),
            ));
        }
        Ok(Scan { body, scan_inputs })
    }

    /// The final state values, then each scan output stacked.
    pub(crate) fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, OperatorError> {
        let states = self.body.inputs() - self.scan_inputs;
        if inputs.len() != self.body.inputs() {
            return Err(OperatorError::Input(format!(
                "{} inputs; the body takes {}",
                inputs.len(),
                self.body.inputs()
            )));
        }
        let (initial, scanned) = inputs.split_at(states);
        let length = scanned[0].shape().first().copied().unwrap_or(0);
        if let Some(other) = scanned
            .iter()
            .find(|tensor| tensor.shape().first().copied().unwrap_or(0) != length)
        {
            return Err(OperatorError::Input(format!(
                "scan inputs of {length} and {:?} slices",
                other.shape()
            )));
        }
        let mut state: Vec<Tensor> = initial.iter().map(|&tensor| tensor.clone()).collect();
        let mut stacked: Vec<Vec<Tensor>> =
            vec![Vec::with_capacity(length); self.body.outputs() - states];
        for t in 0..length {
            let mut step_inputs = std::mem::take(&mut state);
            for tensor in scanned {
                let shape = tensor.shape()[1..].to_vec();
                let inner: usize = shape.iter().product();
                let indices: Vec<usize> = (t * inner..(t + 1) * inner).collect();
                step_inputs.push(tensor.take(&indices, shape));
            }
            let mut outputs = self
                .body
                .run(step_inputs)
                .map_err(|error| OperatorError::Input(format!("body: {}", error_chain(&error))))?;
            let scan_outputs = outputs.split_off(states);
            state = outputs;
            for (list, tensor) in stacked.iter_mut().zip(scan_outputs) {
                list.push(tensor);
            }
        }
        let mut out = state;
        for list in stacked {
            let element = list
                .first()
                .map(|tensor| tensor.shape().to_vec())
                .unwrap_or_default();
            if list
                .iter()
                .any(|tensor| tensor.shape() != element.as_slice())
            {
                return Err(OperatorError::Input(
                    "scan outputs change shape between iterations".into(),
                ));
            }
            let mut shape = vec![length];
            shape.extend(element);
            let parts: Vec<&Tensor> = list.iter().collect();
            out.push(if parts.is_empty() {
                Tensor::Float {
                    shape,
                    data: Vec::new(),
                }
            } else {
                Tensor::joined(&parts, shape).ok_or_else(|| {
                    OperatorError::Input("scan outputs change element type".into())
                })?
            });
        }
        Ok(out)
    }
}

/// An error with its causes, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
