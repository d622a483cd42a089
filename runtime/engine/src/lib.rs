//! Weir's WebAssembly engine: runs transform components in a sandbox, under
//! limits, and keeps one bad record from spoiling its chunk.
//!
//! The public API is plain Rust; no wasmtime type leaves this crate.
//!
//! ```no_run
//! use weir_engine::{Engine, EngineConfig, ModuleSpec};
//!
//! # fn main() -> Result<(), weir_engine::EngineError> {
//! let engine = Engine::new(EngineConfig::default())?;
//! let module = engine.load(ModuleSpec::new("normalize", "normalize.wasm"))?;
//! let mut instance = module.instantiate()?;
//! let processed = instance.process("{\"a\":1}\n{\"a\":2}\n", 2)?;
//! assert_eq!(processed.outcomes.len(), 2);
//! let extra = instance.finish()?;
//! # let _ = extra;
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! - `config`: [`EngineConfig`], [`Limits`], [`default_cache_dir`] and
//!   [`default_cache_key_file`]; plain data.
//! - `engine`: [`Engine`], the process-wide wasmtime engine, linker and epoch
//!   ticker; [`Engine::load`] reads, verifies, compiles and type-checks a module.
//! - `cache`: the on-disk cache of compiled components, each entry tagged
//!   with a per-user key and checked before it is loaded.
//! - `module`: [`ModuleSpec`] and [`Module`], a loaded transform.
//! - `inspect`: [`Engine::inspect`] and [`Inspection`]: a module's world,
//!   imports, capabilities and compatibility, without running it.
//! - `outline`: a module's import and export names and largest function,
//!   read before it is compiled.
//! - `instance`: [`Instance`], running chunks with per-record isolation.
//! - `sandbox`: the guest's view of the host: WASI with nothing granted,
//!   fixed clocks and seeds, captured stdio, the memory limiter.
//! - `stop`: [`Stop`], the signal that ends a lost run early (too many
//!   failed records, or its time up).
//! - `error`: [`EngineError`].
//!
//! See `docs/engine.md` for the sandbox, the limits and the cache.

mod cache;
mod config;
mod contract;
mod engine;
mod error;
mod function_cache;
mod inspect;
mod instance;
mod module;
mod outline;
mod sandbox;
mod stop;

/// Host bindings generated from `wit/weir.wit`, the same file guests use.
mod bindings {
    wasmtime::component::bindgen!({ path: "../../wit", world: "transform" });
}

/// Host bindings of the previous contract, `wit/0.1.0/weir.wit` (no
/// `fields`): modules built against it still run.
mod bindings_v1 {
    wasmtime::component::bindgen!({ path: "../../wit/0.1.0", world: "transform" });
}

pub use config::{EngineConfig, Limits, default_cache_dir, default_cache_key_file};
pub use contract::{ImportKind, OLDER_WIT_VERSIONS, WIT_PACKAGE, WIT_VERSION, WIT_WORLD};
pub use engine::Engine;
pub use error::EngineError;
pub use inspect::{Import, Inspection};
pub use instance::{FieldSpec, Instance, Outcome, Processed};
pub use module::{Compiled, Module, ModuleSpec};
pub use stop::{Stop, StopReason};
