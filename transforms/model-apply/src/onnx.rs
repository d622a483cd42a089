//! The ONNX file format: the few messages of `onnx.proto` a scikit-learn
//! export uses, decoded from the protobuf wire format into plain structs.
//!
//! Field numbers follow `onnx/onnx.proto` (IR version 3 and later). Fields
//! this crate never reads (doc strings, metadata, training info, functions,
//! sparse tensors) are skipped. This module decodes only; what the nodes
//! mean is [`crate::graph`]'s and [`crate::operators`]' business.

use thiserror::Error;

use crate::protobuf::{Fields, Wire, WireError, push_doubles, push_floats, push_varints};

/// The file is not a readable ONNX model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cannot decode {message}")]
pub struct DecodeError {
    /// The message being decoded, as in `onnx.proto` (`NodeProto`).
    message: &'static str,
    #[source]
    source: WireError,
}

fn decode<'a, T>(
    message: &'static str,
    bytes: &'a [u8],
    mut on_field: impl FnMut(&mut T, u32, Wire<'a>) -> Result<(), WireError>,
) -> Result<T, DecodeError>
where
    T: Default,
{
    let mut value = T::default();
    for field in Fields::new(bytes) {
        let (number, wire) = field.map_err(|source| DecodeError { message, source })?;
        on_field(&mut value, number, wire).map_err(|source| DecodeError { message, source })?;
    }
    Ok(value)
}

/// Runs a nested decoder, turning its error into a [`WireError`] the outer
/// decoder can carry. The inner message's name is lost; the offset is not.
fn nested<T>(result: Result<T, DecodeError>) -> Result<T, WireError> {
    result.map_err(|error| error.source)
}

fn text(wire: Wire<'_>) -> String {
    match wire {
        Wire::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    }
}

/// `ModelProto`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelProto {
    /// `ir_version`.
    pub ir_version: i64,
    /// `opset_import`: (domain, version) pairs; `""` is the default domain.
    pub opset_import: Vec<(String, i64)>,
    /// `producer_name`, e.g. `skl2onnx`.
    pub producer_name: String,
    /// `graph`.
    pub graph: GraphProto,
}

impl ModelProto {
    /// Decodes a whole `.onnx` file.
    ///
    /// # Errors
    ///
    /// The bytes are not well-formed protobuf.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(
            "ModelProto",
            bytes,
            |model: &mut ModelProto, number, wire| {
                match (number, wire) {
                    (1, wire) => model.ir_version = wire.int().unwrap_or_default(),
                    (2, wire) => model.producer_name = text(wire),
                    (7, Wire::Bytes(bytes)) => model.graph = nested(GraphProto::decode(bytes))?,
                    (8, Wire::Bytes(bytes)) => {
                        let opset = nested(decode(
                            "OperatorSetIdProto",
                            bytes,
                            |opset: &mut (String, i64), number, wire| {
                                match number {
                                    1 => opset.0 = text(wire),
                                    2 => opset.1 = wire.int().unwrap_or_default(),
                                    _ => {}
                                }
                                Ok(())
                            },
                        ))?;
                        model.opset_import.push(opset);
                    }
                    _ => {}
                }
                Ok(())
            },
        )
    }
}

/// `GraphProto`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphProto {
    /// `node`, in the file's order (topologically sorted, as ONNX requires).
    pub node: Vec<NodeProto>,
    /// `initializer`: the constant tensors.
    pub initializer: Vec<TensorProto>,
    /// `input`.
    pub input: Vec<ValueInfoProto>,
    /// `output`.
    pub output: Vec<ValueInfoProto>,
}

impl GraphProto {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(
            "GraphProto",
            bytes,
            |graph: &mut GraphProto, number, wire| {
                if let Wire::Bytes(bytes) = wire {
                    match number {
                        1 => graph.node.push(nested(NodeProto::decode(bytes))?),
                        5 => graph.initializer.push(nested(TensorProto::decode(bytes))?),
                        11 => graph.input.push(nested(ValueInfoProto::decode(bytes))?),
                        12 => graph.output.push(nested(ValueInfoProto::decode(bytes))?),
                        _ => {}
                    }
                }
                Ok(())
            },
        )
    }
}

/// `NodeProto`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeProto {
    /// `input`: value names; `""` marks an omitted optional input.
    pub input: Vec<String>,
    /// `output`: value names.
    pub output: Vec<String>,
    /// `name`.
    pub name: String,
    /// `op_type`, e.g. `TreeEnsembleClassifier`.
    pub op_type: String,
    /// `domain`: `""` (or `ai.onnx`) for the standard operators,
    /// `ai.onnx.ml` for the ML ones.
    pub domain: String,
    /// `attribute`.
    pub attribute: Vec<AttributeProto>,
}

impl NodeProto {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode("NodeProto", bytes, |node: &mut NodeProto, number, wire| {
            match number {
                1 => node.input.push(text(wire)),
                2 => node.output.push(text(wire)),
                3 => node.name = text(wire),
                4 => node.op_type = text(wire),
                7 => node.domain = text(wire),
                5 => {
                    if let Wire::Bytes(bytes) = wire {
                        node.attribute.push(nested(AttributeProto::decode(bytes))?);
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }
}

/// `AttributeProto`, with every value field kept; `kind` says which one
/// the writer meant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeProto {
    /// `name`.
    pub name: String,
    /// `type` (`AttributeType`): 1 float, 2 int, 3 string, 4 tensor,
    /// 6 floats, 7 ints, 8 strings; 0 if the writer left it out.
    pub kind: i64,
    /// `f`.
    pub f: f32,
    /// `i`.
    pub i: i64,
    /// `s`.
    pub s: Vec<u8>,
    /// `t`.
    pub t: Option<TensorProto>,
    /// `g`: a subgraph (Scan's `body`).
    pub g: Option<Box<GraphProto>>,
    /// `floats`.
    pub floats: Vec<f32>,
    /// `ints`.
    pub ints: Vec<i64>,
    /// `strings`.
    pub strings: Vec<Vec<u8>>,
}

impl AttributeProto {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(
            "AttributeProto",
            bytes,
            |attribute: &mut AttributeProto, number, wire| {
                match (number, wire) {
                    (1, wire) => attribute.name = text(wire),
                    (20, wire) => attribute.kind = wire.int().unwrap_or_default(),
                    (2, wire) => attribute.f = wire.float().unwrap_or_default(),
                    (3, wire) => attribute.i = wire.int().unwrap_or_default(),
                    (4, Wire::Bytes(bytes)) => attribute.s = bytes.to_vec(),
                    (5, Wire::Bytes(bytes)) => {
                        attribute.t = Some(nested(TensorProto::decode(bytes))?)
                    }
                    (6, Wire::Bytes(bytes)) => {
                        attribute.g = Some(Box::new(nested(GraphProto::decode(bytes))?))
                    }
                    (7, wire) => push_floats(wire, &mut attribute.floats)?,
                    (8, wire) => push_varints(wire, &mut attribute.ints)?,
                    (9, Wire::Bytes(bytes)) => attribute.strings.push(bytes.to_vec()),
                    _ => {}
                }
                Ok(())
            },
        )
    }
}

/// `TensorProto`, for initializers and tensor attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorProto {
    /// `name`.
    pub name: String,
    /// `dims`.
    pub dims: Vec<i64>,
    /// `data_type` (`TensorProto.DataType`): 1 float, 6 int32, 7 int64,
    /// 8 string, 9 bool, 11 double.
    pub data_type: i64,
    /// `float_data`.
    pub float_data: Vec<f32>,
    /// `int32_data` (also holds bool and smaller integer types).
    pub int32_data: Vec<i64>,
    /// `int64_data`.
    pub int64_data: Vec<i64>,
    /// `double_data`.
    pub double_data: Vec<f64>,
    /// `string_data`.
    pub string_data: Vec<Vec<u8>>,
    /// `raw_data`: the elements little-endian, when the writer used it.
    pub raw_data: Vec<u8>,
}

impl TensorProto {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(
            "TensorProto",
            bytes,
            |tensor: &mut TensorProto, number, wire| {
                match (number, wire) {
                    (1, wire) => push_varints(wire, &mut tensor.dims)?,
                    (2, wire) => tensor.data_type = wire.int().unwrap_or_default(),
                    (4, wire) => push_floats(wire, &mut tensor.float_data)?,
                    (5, wire) => push_varints(wire, &mut tensor.int32_data)?,
                    (6, Wire::Bytes(bytes)) => tensor.string_data.push(bytes.to_vec()),
                    (7, wire) => push_varints(wire, &mut tensor.int64_data)?,
                    (8, wire) => tensor.name = text(wire),
                    (9, Wire::Bytes(bytes)) => tensor.raw_data = bytes.to_vec(),
                    (10, wire) => push_doubles(wire, &mut tensor.double_data)?,
                    _ => {}
                }
                Ok(())
            },
        )
    }
}

/// `ValueInfoProto`: a graph input's or output's name and type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueInfoProto {
    /// `name`.
    pub name: String,
    /// `type`.
    pub value_type: ValueType,
}

/// `TypeProto`, reduced to what this crate checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ValueType {
    /// `tensor_type`: element type and, if known, one entry per dimension
    /// (`None` for a symbolic or unknown size).
    Tensor {
        /// `elem_type`, a `TensorProto.DataType`.
        elem_type: i64,
        /// `shape`, if the writer gave one.
        shape: Option<Vec<Option<i64>>>,
    },
    /// `sequence_type`, e.g. the list of maps ZipMap produces.
    Sequence,
    /// `map_type`.
    Map,
    /// Absent or of another kind.
    #[default]
    Unknown,
}

impl ValueInfoProto {
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(
            "ValueInfoProto",
            bytes,
            |info: &mut ValueInfoProto, number, wire| {
                match (number, wire) {
                    (1, wire) => info.name = text(wire),
                    (2, Wire::Bytes(bytes)) => info.value_type = nested(decode_type(bytes))?,
                    _ => {}
                }
                Ok(())
            },
        )
    }
}

fn decode_type(bytes: &[u8]) -> Result<ValueType, DecodeError> {
    decode(
        "TypeProto",
        bytes,
        |value_type: &mut ValueType, number, wire| {
            match (number, wire) {
                (1, Wire::Bytes(bytes)) => *value_type = nested(decode_tensor_type(bytes))?,
                (4, _) => *value_type = ValueType::Sequence,
                (5, _) => *value_type = ValueType::Map,
                _ => {}
            }
            Ok(())
        },
    )
}

fn decode_tensor_type(bytes: &[u8]) -> Result<ValueType, DecodeError> {
    let mut elem = 0;
    let mut dims = None;
    for field in Fields::new(bytes) {
        let (number, wire) = field.map_err(|source| DecodeError {
            message: "TypeProto.Tensor",
            source,
        })?;
        match (number, wire) {
            (1, wire) => elem = wire.int().unwrap_or_default(),
            (2, Wire::Bytes(shape)) => {
                dims = Some(decode(
                    "TensorShapeProto",
                    shape,
                    |dims: &mut Vec<Option<i64>>, number, wire| {
                        if let (1, Wire::Bytes(dim)) = (number, wire) {
                            dims.push(nested(decode(
                                "TensorShapeProto.Dimension",
                                dim,
                                |size: &mut Option<i64>, number, wire| {
                                    if number == 1 {
                                        *size = wire.int();
                                    }
                                    Ok(())
                                },
                            ))?);
                        }
                        Ok(())
                    },
                )?);
            }
            _ => {}
        }
    }
    Ok(ValueType::Tensor {
        elem_type: elem,
        shape: dims,
    })
}
