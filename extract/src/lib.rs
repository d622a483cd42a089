//! Reads rows from PostgreSQL (usually a hot standby) as exact NDJSON pages
//! for Weir's extract stage. The contract is docs/extract.md.
//!
//! # Layout
//! - [`source`]: the `postgres://` URL, the password (never shown), connecting.
//! - `tls`: `sslmode` and `sslrootcert` as a rustls connector.
//! - [`encode`]: binary values to exact JSON, one type at a time.
//! - `copy`: a page as `COPY ... TO STDOUT (FORMAT binary)`: parameters
//!   as literals, COPY's binary framing split into fields.
//! - [`reader`]: the extract itself: schema checks, the window, keyset
//!   paging, retries, and the [`Summary`] a manifest records.
//! - [`error`]: [`ExtractError`], its messages and exit codes.
//!
//! This crate writes no stage: the stage writer (`weir-stage`) takes the
//! [`Page`]s and commits them. It must not depend on wasmtime or on `weir`.

mod copy;
pub mod encode;
pub mod error;
pub mod reader;
pub mod source;
mod tls;

pub use error::ExtractError;
pub use reader::{
    Extract, ExtractSpec, Key, KeyRange, Page, PartKeys, RetryPolicy, Summary, Window,
};
pub use source::{Source, SourceInfo};
