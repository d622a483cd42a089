//! The protobuf wire format, read only: just enough to walk the fields of
//! an ONNX file.
//!
//! [`Fields`] iterates over one message's fields as (number, [`Wire`])
//! pairs; nested messages are length-delimited bytes handed to a new
//! `Fields`. Unknown fields are skipped by their wire type, so files written
//! by newer exporters still load. This module knows nothing of ONNX: the
//! message layouts live in [`crate::onnx`].

use thiserror::Error;

/// The file is not well-formed protobuf.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    /// A varint, fixed-width value or length-delimited field runs past the
    /// end of its message.
    #[error("truncated field at byte {offset}")]
    Truncated {
        /// Where the field starts, in bytes from the start of its message.
        offset: usize,
    },
    /// A varint longer than ten bytes.
    #[error("overlong varint at byte {offset}")]
    Overlong {
        /// Where the varint starts, in bytes from the start of its message.
        offset: usize,
    },
    /// A wire type protobuf does not define, or one of the deprecated
    /// group types.
    #[error("unsupported wire type {wire_type} at byte {offset}")]
    WireType {
        /// The wire type found.
        wire_type: u64,
        /// Where the field's key starts.
        offset: usize,
    },
}

/// One field's payload, by wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire<'a> {
    /// Wire type 0: int32, int64, enum, bool...
    Varint(u64),
    /// Wire type 1: double, fixed64.
    Fixed64(u64),
    /// Wire type 2: bytes, string, nested message, packed repeated scalars.
    Bytes(&'a [u8]),
    /// Wire type 5: float, fixed32.
    Fixed32(u32),
}

impl Wire<'_> {
    /// The value as a signed integer (int32/int64 are plain two's
    /// complement varints), or `None` for other wire types.
    pub fn int(self) -> Option<i64> {
        match self {
            // Two's complement reinterpretation is how protobuf encodes them.
            Wire::Varint(value) => Some(value as i64),
            _ => None,
        }
    }

    /// The value as a float, or `None` for other wire types.
    pub fn float(self) -> Option<f32> {
        match self {
            Wire::Fixed32(bits) => Some(f32::from_bits(bits)),
            _ => None,
        }
    }
}

/// The fields of one message, in file order.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Fields<'a> {
    /// The fields of the message encoded in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.offset;
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.bytes.get(self.offset) else {
                return Err(WireError::Truncated { offset: start });
            };
            self.offset += 1;
            value |= u64::from(byte & 0x7f) << shift.min(63);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Overlong { offset: start })
    }

    fn take(&mut self, len: usize, start: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .offset
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(WireError::Truncated { offset: start })?;
        let taken = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(taken)
    }

    fn field(&mut self) -> Result<(u32, Wire<'a>), WireError> {
        let start = self.offset;
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).unwrap_or(u32::MAX);
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                let bytes = self.take(8, start)?;
                let mut word = [0u8; 8];
                word.copy_from_slice(bytes);
                Wire::Fixed64(u64::from_le_bytes(word))
            }
            2 => {
                let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
                Wire::Bytes(self.take(len, start)?)
            }
            5 => {
                let bytes = self.take(4, start)?;
                let mut word = [0u8; 4];
                word.copy_from_slice(bytes);
                Wire::Fixed32(u32::from_le_bytes(word))
            }
            wire_type => {
                return Err(WireError::WireType {
                    wire_type,
                    offset: start,
                });
            }
        };
        Ok((number, wire))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.offset >= self.bytes.len() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            // Stop after the first error: the rest cannot be framed.
            self.offset = self.bytes.len();
        }
        Some(field)
    }
}

/// Appends a repeated varint field's values to `out`, whether the writer
/// packed them (one length-delimited field) or not (one field each).
pub fn push_varints(wire: Wire<'_>, out: &mut Vec<i64>) -> Result<(), WireError> {
    match wire {
        Wire::Varint(value) => out.push(value as i64),
        Wire::Bytes(bytes) => {
            let mut packed = Fields::new(bytes);
            while packed.offset < bytes.len() {
                out.push(packed.varint()? as i64);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Appends a repeated float field's values to `out`, packed or not.
pub fn push_floats(wire: Wire<'_>, out: &mut Vec<f32>) -> Result<(), WireError> {
    match wire {
        Wire::Fixed32(bits) => out.push(f32::from_bits(bits)),
        Wire::Bytes(bytes) => {
            if bytes.len() % 4 != 0 {
                return Err(WireError::Truncated { offset: 0 });
            }
            out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|word| f32::from_le_bytes([word[0], word[1], word[2], word[3]])),
            );
        }
        _ => {}
    }
    Ok(())
}

/// Appends a repeated double field's values to `out`, packed or not.
pub fn push_doubles(wire: Wire<'_>, out: &mut Vec<f64>) -> Result<(), WireError> {
    match wire {
        Wire::Fixed64(bits) => out.push(f64::from_bits(bits)),
        Wire::Bytes(bytes) => {
            if bytes.len() % 8 != 0 {
                return Err(WireError::Truncated { offset: 0 });
            }
            out.extend(bytes.chunks_exact(8).map(|word| {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(word);
                f64::from_le_bytes(bytes)
            }));
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_varint_bytes_and_fixed32_fields() {
        // field 1 varint 150; field 2 bytes "hi"; field 3 float 1.5
        let mut bytes = vec![0x08, 0x96, 0x01, 0x12, 0x02, b'h', b'i', 0x1d];
        bytes.extend(1.5f32.to_le_bytes());
        let fields: Vec<_> = Fields::new(&bytes)
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(
            fields,
            [
                (1, Wire::Varint(150)),
                (2, Wire::Bytes(b"hi")),
                (3, Wire::Fixed32(1.5f32.to_bits()))
            ]
        );
    }

    #[test]
    fn reports_truncated_length_delimited_field() {
        let bytes = [0x12, 0x05, b'h'];
        let first = Fields::new(&bytes).next();
        assert_eq!(first, Some(Err(WireError::Truncated { offset: 0 })));
    }

    #[test]
    fn reads_packed_and_unpacked_repeated_varints() {
        let mut out = Vec::new();
        push_varints(Wire::Bytes(&[0x01, 0x96, 0x01]), &mut out).expect("valid");
        push_varints(Wire::Varint(u64::MAX), &mut out).expect("valid");
        assert_eq!(out, [1, 150, -1]);
    }
}
