//! Weir: run sandboxed WebAssembly transforms over staged NDJSON data.
//!
//! # Layout
//!
//! Data flows one way: the `weir` binary → [`pipeline`] → {the staging
//! protocol (crate `weir-stage`), the engine (crate `weir-engine`)}. The
//! two never import each other; only the pipeline joins them, and the
//! compiler holds that line: weir-stage cannot reach wasmtime.
//!
//! - [`pipeline`]: staging files (`weir stage`), running transforms
//!   (`weir run`), sharded runs, replays and golden tests, with parallel
//!   workers, deterministic output and one settings layer.

pub mod pipeline;
