//! A loaded transform: [`ModuleSpec`] says what to load, [`Module`] is the
//! compiled, type-checked result, cheap to clone and ready to instantiate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::InstancePre;

use crate::Engine;
use crate::config::Limits;
use crate::contract::{OLDER_WIT_VERSIONS, WIT_VERSION};
use crate::sandbox::HostState;

/// What to load and how to run it.
#[derive(Clone, Debug)]
pub struct ModuleSpec {
    /// The transform's name, used in logs and errors.
    pub name: String,
    /// The component file (`.wasm`).
    pub wasm: PathBuf,
    /// The JSON text passed to the transform's `init` (`{}` when none).
    pub config_json: String,
    /// A host directory the guest may read at `/assets`; `None` grants no
    /// file access at all.
    pub assets: Option<PathBuf>,
    /// The limits every instance runs under.
    pub limits: Limits,
    /// If set, the module's sha256 (hex) must equal this, or loading fails
    /// before the bytes are used.
    pub expected_sha256: Option<String>,
}

impl ModuleSpec {
    /// A spec for `wasm` named `name`, with config `{}`, no assets, default
    /// limits and no pinned digest.
    pub fn new(name: impl Into<String>, wasm: impl Into<PathBuf>) -> ModuleSpec {
        ModuleSpec {
            name: name.into(),
            wasm: wasm.into(),
            config_json: "{}".to_owned(),
            assets: None,
            limits: Limits::default(),
            expected_sha256: None,
        }
    }

    /// Sets the JSON text passed to `init`.
    pub fn with_config_json(mut self, config_json: impl Into<String>) -> ModuleSpec {
        self.config_json = config_json.into();
        self
    }

    /// Grants read-only access to `dir` at `/assets`.
    pub fn with_assets(mut self, dir: impl Into<PathBuf>) -> ModuleSpec {
        self.assets = Some(dir.into());
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> ModuleSpec {
        self.limits = limits;
        self
    }

    /// Pins the module's sha256 (hex).
    pub fn with_expected_sha256(mut self, sha256: impl Into<String>) -> ModuleSpec {
        self.expected_sha256 = Some(sha256.into());
        self
    }
}

/// How a module that was not in the module cache was compiled: how long it
/// took, and how many of its functions came from the function cache (both
/// counts are 0 when the engine has no cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compiled {
    /// Compiling, with the function cache's reads and writes.
    pub elapsed: Duration,
    /// Functions whose compiled form the function cache held.
    pub functions_reused: u64,
    /// Functions Cranelift compiled.
    pub functions_compiled: u64,
}

/// A compiled transform whose exports and imports have been checked; create
/// instances of it with [`Module::instantiate`]. Cloning is cheap.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    pub(crate) engine: Engine,
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) size: u64,
    pub(crate) from_cache: bool,
    pub(crate) compiled: Option<Compiled>,
    pub(crate) config_json: String,
    pub(crate) assets: Option<PathBuf>,
    pub(crate) limits: Limits,
    pub(crate) pre: Pre,
}

/// The component, ready to instantiate, by the version of the contract it
/// implements.
pub(crate) enum Pre {
    /// `weir:transform@0.2.0` (`wit/weir.wit`): it may declare fields.
    Current(crate::bindings::TransformPre<HostState>),
    /// `weir:transform@0.1.0` (`wit/0.1.0/weir.wit`): whole records only.
    V1(crate::bindings_v1::TransformPre<HostState>),
}

impl Pre {
    pub(crate) fn instance_pre(&self) -> &InstancePre<HostState> {
        match self {
            Pre::Current(pre) => pre.instance_pre(),
            Pre::V1(pre) => pre.instance_pre(),
        }
    }

    /// The version of `weir:transform` it implements.
    pub(crate) fn version(&self) -> &'static str {
        match self {
            Pre::Current(_) => WIT_VERSION,
            Pre::V1(_) => OLDER_WIT_VERSIONS[0],
        }
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.inner.name)
            .field("path", &self.inner.path)
            .field("sha256", &self.inner.sha256)
            .field("size", &self.inner.size)
            .field("from_cache", &self.inner.from_cache)
            .field("compiled", &self.inner.compiled)
            .finish()
    }
}

impl Module {
    /// The transform's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The component file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The sha256 of the component file, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// The size of the component file in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    /// Whether the compiled code came from the disk cache (no compilation).
    pub fn from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// How this module was compiled, if it was not loaded from the module
    /// cache.
    pub fn compiled(&self) -> Option<Compiled> {
        self.inner.compiled
    }

    /// The limits its instances run under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The configuration text given to `init`.
    pub fn config_json(&self) -> &str {
        &self.inner.config_json
    }

    /// The version of the `weir:transform` contract it implements:
    /// [`WIT_VERSION`](crate::WIT_VERSION) or one of the older ones this
    /// engine still runs.
    pub fn contract_version(&self) -> &'static str {
        self.inner.pre.version()
    }

    /// The read-only assets directory granted, if any.
    pub fn assets(&self) -> Option<&Path> {
        self.inner.assets.as_deref()
    }
}
