//! The process-wide [`Engine`]: one wasmtime engine (pooling allocator, epoch
//! interruption), the linker with WASI, the epoch ticker thread and the module
//! cache. Loading a module ([`Engine::load`]) lives here because it needs all
//! of them; running one lives in `instance`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, types::ComponentItem};

use crate::cache::{CacheRoot, ModuleCache};
use crate::config::{ByteSize, EngineConfig};
use crate::contract::{ImportKind, WIT_WORLD};
use crate::error::EngineError;
use crate::function_cache::{FunctionCache, FunctionCounts};
use crate::module::{Compiled, Module, ModuleInner, ModuleSpec, Pre};
use crate::outline::Outline;
use crate::sandbox::HostState;

/// The exports every version of the `weir:transform/transform` world has.
const WORLD_EXPORTS: [&str; 3] = ["init", "process", "finish"];
/// The export only `weir:transform@0.2.0` has: a module that exports it is
/// checked against that world, one without against 0.1.0.
const FIELDS_EXPORT: &str = "fields";
const WORLD_NAME: &str = WIT_WORLD;

/// Runs transforms. Create one per process and clone it freely (it is an
/// `Arc` inside); every [`Module`] and instance keeps it alive.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) wasmtime: wasmtime::Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) config: EngineConfig,
    cache: Option<ModuleCache>,
    functions: Option<Arc<FunctionCache>>,
    pooling: bool,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Engine {
    /// Builds the engine and starts its epoch ticker thread.
    pub fn new(mut config: EngineConfig) -> Result<Engine, EngineError> {
        // A zero tick would spin the ticker thread; 1 ms is already fine-grained.
        config.epoch_tick = config.epoch_tick.max(Duration::from_millis(1));
        let setup = |e: wasmtime::Error| EngineError::Setup {
            message: format!("{e:#}"),
        };
        let root = match config.cache_dir.clone() {
            Some(dir) => CacheRoot::open(dir, config.cache_key_file.as_deref())?,
            None => None,
        };
        let functions = root.as_ref().map(|root| Arc::new(FunctionCache::new(root)));
        let pooled = if config.pooling {
            wasmtime::Engine::new(&wasmtime_config(&config, true, functions.as_ref()))
                .inspect_err(|e| {
                    tracing::warn!(
                        error = %format!("{e:#}"),
                        "pooling allocator unavailable; falling back to on-demand allocation"
                    );
                })
                .ok()
        } else {
            None
        };
        let pooling = pooled.is_some();
        let wasmtime = match pooled {
            Some(engine) => engine,
            None => wasmtime::Engine::new(&wasmtime_config(&config, false, functions.as_ref()))
                .map_err(setup)?,
        };
        let mut linker = Linker::new(&wasmtime);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(setup)?;
        crate::sandbox::link_sandbox_clock(&mut linker).map_err(setup)?;
        let cache = root.as_ref().map(|root| ModuleCache::new(root, &wasmtime));
        let ticker = EpochTicker::start(wasmtime.clone(), config.epoch_tick).map_err(|e| {
            EngineError::Setup {
                message: format!("cannot start the epoch ticker thread: {e}"),
            }
        })?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                linker,
                config,
                cache,
                functions,
                pooling,
                _ticker: ticker,
            }),
        })
    }

    /// What the function cache did since the engine started (zero without a
    /// cache).
    fn function_counts(&self) -> FunctionCounts {
        self.inner
            .functions
            .as_ref()
            .map(|f| f.counts())
            .unwrap_or_default()
    }

    /// Whether instances come from wasmtime's pooling allocator: false if
    /// [`EngineConfig::pooling`] is off or the host refused its reservation.
    pub fn is_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// Loads a transform: reads the file, checks its sha256 (before anything
    /// else), compiles it or loads it from the cache, and checks that it is a
    /// component of the `weir:transform/transform` world whose imports the
    /// sandbox can satisfy.
    pub fn load(&self, spec: ModuleSpec) -> Result<Module, EngineError> {
        let path = spec.wasm.clone();
        let bytes = std::fs::read(&path).map_err(|source| EngineError::Read {
            path: path.clone(),
            source,
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(expected) = &spec.expected_sha256
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            return Err(EngineError::DigestMismatch {
                path,
                expected: expected.to_ascii_lowercase(),
                actual: sha256,
            });
        }
        if spec.limits.memory_bytes > self.inner.config.max_memory_bytes {
            return Err(EngineError::Limits {
                transform: spec.name,
                message: format!(
                    "memory limit of {} exceeds the engine's maximum of {}",
                    ByteSize(spec.limits.memory_bytes),
                    ByteSize(self.inner.config.max_memory_bytes)
                ),
            });
        }
        if spec.limits.cpu_time_per_call.is_zero() {
            return Err(EngineError::Limits {
                transform: spec.name,
                message: "CPU time limit must be more than zero".to_owned(),
            });
        }
        if let Some(assets) = &spec.assets {
            check_assets_dir(&spec.name, assets)?;
        }
        check_is_component(&path, &bytes)?;
        self.check_outline(&path, &bytes)?;

        let started = Instant::now();
        let counts_before = self.function_counts();
        let cached = self
            .inner
            .cache
            .as_ref()
            .and_then(|cache| cache.get(&self.inner.wasmtime, &sha256));
        let from_cache = cached.is_some();
        let component = match cached {
            Some(component) => component,
            None => {
                let component = compile_within(
                    &self.inner.wasmtime,
                    &bytes,
                    self.inner.config.compile_timeout,
                )
                .map_err(|message| EngineError::Compile {
                    path: path.clone(),
                    message,
                })?;
                if let Some(cache) = &self.inner.cache {
                    cache.put(&sha256, &component)?;
                }
                component
            }
        };
        let load_time = started.elapsed();
        let compile = (!from_cache).then(|| {
            let functions = self.function_counts().since(counts_before);
            Compiled {
                elapsed: load_time,
                functions_reused: functions.reused,
                functions_compiled: functions.compiled,
            }
        });
        tracing::info!(
            transform = %spec.name,
            module = %path.display(),
            sha256 = %sha256,
            size = bytes.len(),
            from_cache,
            elapsed_ms = load_time.as_secs_f64() * 1000.0,
            functions_reused = compile.map(|c| c.functions_reused),
            functions_compiled = compile.map(|c| c.functions_compiled),
            "loaded transform module"
        );

        let declares_fields = check_exports(&self.inner.wasmtime, &path, &component)?;
        let not_a_transform = |e: wasmtime::Error| EngineError::NotATransform {
            path: path.clone(),
            message: format!("{e:#}"),
        };
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(not_a_transform)?;
        let pre = if declares_fields {
            Pre::Current(crate::bindings::TransformPre::new(instance_pre).map_err(not_a_transform)?)
        } else {
            Pre::V1(crate::bindings_v1::TransformPre::new(instance_pre).map_err(not_a_transform)?)
        };

        Ok(Module {
            inner: Arc::new(ModuleInner {
                engine: self.clone(),
                name: spec.name,
                path,
                sha256,
                size: bytes.len() as u64,
                from_cache,
                compiled: compile,
                config_json: spec.config_json,
                assets: spec.assets,
                limits: spec.limits,
                pre,
            }),
        })
    }
}

fn wasmtime_config(
    config: &EngineConfig,
    pooling: bool,
    functions: Option<&Arc<FunctionCache>>,
) -> wasmtime::Config {
    let mut wasmtime = wasmtime::Config::new();
    wasmtime
        .wasm_component_model(true)
        .epoch_interruption(true)
        .parallel_compilation(true);
    if let Some(functions) = functions {
        // Infallible in wasmtime 48 (it only stores the handle); the store
        // is also an optimisation, so a refusal would only cost time.
        if let Err(e) = wasmtime.enable_incremental_compilation(functions.clone()) {
            tracing::warn!(error = %format!("{e:#}"), "compiling without the function cache");
        }
    }
    if pooling {
        let instances = config.max_instances.max(1);
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        // A Rust component holds a handful of core instances, one memory and a
        // few tables; interpreters (componentize-py) hold more. The slots are
        // virtual-memory reservations, committed only when used.
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(16))
            .total_memories(instances.saturating_mul(2))
            .total_tables(instances.saturating_mul(8))
            .total_stacks(instances)
            .max_memories_per_component(4)
            .max_tables_per_component(16)
            .max_memories_per_module(2)
            .max_tables_per_module(4)
            .table_elements(100_000)
            .max_memory_size(usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX));
        wasmtime.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    wasmtime
}

/// Fails at load time, not at every instantiation, if the assets directory
/// is missing or not a directory.
fn check_assets_dir(transform: &str, dir: &std::path::Path) -> Result<(), EngineError> {
    let source = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        Err(e) => e,
    };
    Err(EngineError::Assets {
        transform: transform.to_owned(),
        path: dir.to_path_buf(),
        source,
    })
}

/// Refuses anything that is not a binary WebAssembly component, naming what
/// it is instead.
fn check_is_component(path: &std::path::Path, bytes: &[u8]) -> Result<(), EngineError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_MODULE: [u8; 4] = [1, 0, 0, 0];
    let message = if bytes.len() < 8 || !bytes.starts_with(MAGIC) {
        "not a WebAssembly binary (no `\\0asm` header)".to_owned()
    } else if bytes[4..8] == CORE_MODULE {
        format!(
            "it is a core WebAssembly module, not a component of the {WORLD_NAME} world; \
             build it for wasm32-wasip2 (or run `wasm-tools component new`)"
        )
    } else {
        return Ok(());
    };
    Err(EngineError::NotATransform {
        path: path.to_path_buf(),
        message,
    })
}

/// Names the world's exports a compiled component lacks, before wasmtime's
/// type check (which stops at the first). `Ok` says whether it exports
/// `fields`, i.e. which version of the world to check it against.
fn check_exports(
    engine: &wasmtime::Engine,
    path: &std::path::Path,
    component: &Component,
) -> Result<bool, EngineError> {
    let ty = component.component_type();
    let exports: Vec<(String, bool)> = ty
        .exports(engine)
        .map(|(name, item)| {
            (
                name.to_owned(),
                matches!(item.ty, ComponentItem::ComponentFunc(_)),
            )
        })
        .collect();
    match missing_exports(&exports) {
        None => Ok(exports
            .iter()
            .any(|(name, is_func)| name == FIELDS_EXPORT && *is_func)),
        Some(message) => Err(EngineError::NotATransform {
            path: path.to_path_buf(),
            message,
        }),
    }
}

/// Why a component with these exports (name, is a function) is not of the
/// world, if it is not.
fn missing_exports(exports: &[(String, bool)]) -> Option<String> {
    let missing: Vec<&str> = WORLD_EXPORTS
        .into_iter()
        .filter(|want| {
            !exports
                .iter()
                .any(|(name, is_func)| name == want && *is_func)
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let found = if exports.is_empty() {
        "nothing".to_owned()
    } else {
        exports
            .iter()
            .map(|(name, _)| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "it does not export {} of the {WORLD_NAME} world (it exports {found})",
        missing
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

impl Engine {
    /// Refuses, before compiling, a module over the size limits, one that
    /// does not export the world's functions, or one that imports what the
    /// sandbox does not provide.
    fn check_outline(&self, path: &std::path::Path, bytes: &[u8]) -> Result<(), EngineError> {
        let config = &self.inner.config;
        let refused = |message: String| EngineError::Refused {
            path: path.to_path_buf(),
            message,
        };
        if bytes.len() as u64 > config.max_module_bytes {
            return Err(refused(format!(
                "it has {} bytes, more than the module size limit of {} (EngineConfig::max_module_bytes)",
                bytes.len(),
                ByteSize(config.max_module_bytes)
            )));
        }
        let not_a_transform = |message: String| EngineError::NotATransform {
            path: path.to_path_buf(),
            message,
        };
        let outline =
            Outline::of(bytes).map_err(|e| not_a_transform(format!("it does not parse: {e}")))?;
        if let Some(message) = missing_exports(&outline.exports) {
            return Err(not_a_transform(message));
        }
        // Interfaces have `package:name/…` names; plain names are the types
        // the world uses, which wasmtime's type check below covers.
        if let Some(import) = outline.imports.iter().find(|name| {
            name.contains(':')
                && matches!(
                    ImportKind::of(name),
                    ImportKind::Unknown | ImportKind::Capability { linked: false, .. }
                )
        }) {
            return Err(not_a_transform(format!(
                "it imports `{import}`, which the sandbox does not provide (WASI preview 2 and \
                 weir:transform/types only)"
            )));
        }
        if outline.largest_function_bytes as u64 > config.max_function_bytes {
            return Err(refused(format!(
                "its largest function has {} bytes of code, more than the function size limit of {} \
                 (EngineConfig::max_function_bytes)",
                outline.largest_function_bytes,
                ByteSize(config.max_function_bytes)
            )));
        }
        Ok(())
    }
}

/// Compiles a component on a thread of its own and waits for it at most
/// `deadline`. Past it the load fails; the compilation (which Cranelift
/// cannot interrupt) runs on and its result is dropped, so a process that
/// gives up on the module, like `weir`, exits without waiting for it.
pub(crate) fn compile_within(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    deadline: Duration,
) -> Result<Component, String> {
    let (done, result) = std::sync::mpsc::sync_channel(1);
    let (engine, bytes) = (engine.clone(), bytes.to_vec());
    std::thread::Builder::new()
        .name("weir-compile".into())
        .spawn(move || {
            let _ = done.send(Component::new(&engine, &bytes).map_err(|e| format!("{e:#}")));
        })
        .map_err(|e| format!("cannot start the compiler thread: {e}"))?;
    match result.recv_timeout(deadline) {
        Ok(compiled) => compiled,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "it did not compile within the compile deadline of {:?} (EngineConfig::compile_timeout)",
            deadline
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err("the compiler thread ended without a result (it panicked)".to_owned())
        }
    }
}

/// Advances the engine's epoch every tick until dropped. The CPU-time limit
/// is a deadline counted in these ticks.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine, tick: Duration) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("weir-epoch".to_owned())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
