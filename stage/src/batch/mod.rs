//! Batch I/O: the byte-level format of parts, with no knowledge of stores.
//!
//! Owns framing lines ([`lines`]), checking records ([`record`]), cutting
//! records down to a transform's fields and patching them back
//! ([`fields`]) and the codecs of parts ([`codec`], over [`gzip`] and
//! [`zstd`]). Everything here is synchronous and works on `Read`ers
//! and byte slices; [`crate::read`] and [`crate::write`] move the bytes to
//! and from object stores. Must not import anything outside `batch`.

pub mod codec;
pub mod fields;
pub mod gzip;
pub mod lines;
pub mod record;
pub mod zstd;
