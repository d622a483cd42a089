//! Batch I/O: the byte-level format of parts, with no knowledge of stores.
//!
//! Owns framing lines ([`lines`]), checking records ([`record`]) and the gzip
//! codec ([`gzip`]). Everything here is synchronous and works on `Read`ers
//! and byte slices; `staging` moves the bytes to and from object stores.
//! Must not import `staging`, `engine` or `pipeline`.

pub mod gzip;
pub mod lines;
pub mod record;
