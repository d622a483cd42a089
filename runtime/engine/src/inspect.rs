//! Introspection of a module file ([`Engine::inspect`]): what world it
//! implements, what it imports and which of those imports are capabilities
//! beyond the sandbox's default, and whether this engine would load it.
//!
//! Compatibility is decided by [`Engine::load`] itself, so `inspect` and a
//! real run can never disagree; this module only adds the listing. Like the
//! rest of the crate it returns plain Rust types: no wasmtime type leaves it.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::types::ComponentItem;

use crate::contract::{ImportKind, OLDER_WIT_VERSIONS, WIT_PACKAGE, WIT_VERSION};
use crate::engine::{Engine, compile_within};
use crate::error::EngineError;
use crate::module::ModuleSpec;

/// What [`Engine::inspect`] found out about a module file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inspection {
    /// The file inspected.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, lowercase hex: the digest to pin in a pipeline file.
    pub sha256: String,
    /// The version of the `weir:transform` package it was built against,
    /// read from its import of `weir:transform/types@…`; `None` if it
    /// imports no version of the contract at all.
    pub contract_version: Option<String>,
    /// The world this engine runs it as, `weir:transform/transform@0.2.0`
    /// (it may declare fields) or `…@0.1.0` (whole records); `None` if it
    /// would not run.
    pub world: Option<String>,
    /// Every import, in the component's order.
    pub imports: Vec<Import>,
    /// The names of its exports, in the component's order.
    pub exports: Vec<String>,
    /// `None` if this engine loads it as a transform of [`WIT_WORLD`](crate::WIT_WORLD);
    /// otherwise why not (the message `weir run` would fail with).
    pub incompatibility: Option<String>,
}

impl Inspection {
    /// Whether this engine would run it.
    pub fn is_compatible(&self) -> bool {
        self.incompatibility.is_none()
    }

    /// The imports that ask for more than the sandbox grants by default.
    pub fn capabilities(&self) -> impl Iterator<Item = &Import> {
        self.imports
            .iter()
            .filter(|i| matches!(i.kind, ImportKind::Capability { .. }))
    }
}

/// One import of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Its name, e.g. `wasi:filesystem/types@0.2.6`.
    pub name: String,
    /// What it is to the sandbox.
    pub kind: ImportKind,
}

impl Engine {
    /// Inspects a module file without running it: its digest and size, the
    /// contract version it was built against, its imports (flagging the
    /// capabilities beyond the sandbox's default) and exports, and whether
    /// [`Engine::load`] accepts it.
    ///
    /// A component of another world is still inspected: its
    /// [`Inspection::incompatibility`] says why it would not run. Anything
    /// that is not a component at all (a core module, a text file) is an
    /// error, [`EngineError::NotATransform`], as it is for `load`.
    pub fn inspect(&self, path: impl AsRef<Path>) -> Result<Inspection, EngineError> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| EngineError::Read {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "transform".to_owned());
        let mut world = None;
        let (component, incompatibility) = match self.load(ModuleSpec::new(name, &path)) {
            Ok(module) => {
                world = Some(format!(
                    "{WIT_PACKAGE}/transform@{}",
                    module.contract_version()
                ));
                (module.inner.pre.instance_pre().component().clone(), None)
            }
            Err(refused @ EngineError::NotATransform { .. }) => {
                // A component of another world still compiles; anything
                // else (a core module, text) keeps `load`'s message.
                let deadline = self.inner.config.compile_timeout;
                match compile_within(&self.inner.wasmtime, &bytes, deadline) {
                    Ok(component) => (component, Some(refused_reason(refused))),
                    Err(_) => return Err(refused),
                }
            }
            Err(e) => return Err(e),
        };
        let ty = component.component_type();
        let engine = &self.inner.wasmtime;
        let imports: Vec<Import> = ty
            .imports(engine)
            .map(|(name, _)| Import {
                name: name.to_owned(),
                kind: ImportKind::of(name),
            })
            .collect();
        let exports = ty
            .exports(engine)
            .map(|(name, item)| match item.ty {
                ComponentItem::ComponentFunc(_) => name.to_owned(),
                _ => format!("{name} (not a function)"),
            })
            .collect();
        let contract_version = imports.iter().find_map(|i| {
            (i.kind == ImportKind::Contract)
                .then(|| i.name.split_once('@').map(|(_, v)| v.to_owned()))
                .flatten()
        });
        let incompatibility = incompatibility.map(|reason| match &contract_version {
            Some(v) if v != WIT_VERSION && !OLDER_WIT_VERSIONS.contains(&v.as_str()) => format!(
                "{reason} (it was built against {WIT_PACKAGE}@{v}; this runtime runs \
                 {WIT_PACKAGE}@{WIT_VERSION} and {})",
                OLDER_WIT_VERSIONS.join(", ")
            ),
            _ => reason,
        });
        Ok(Inspection {
            path,
            size: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            contract_version,
            world,
            imports,
            exports,
            incompatibility,
        })
    }
}

/// The reason inside a `NotATransform`, without the path (the caller has it).
fn refused_reason(e: EngineError) -> String {
    match e {
        EngineError::NotATransform { message, .. } => message,
        other => other.to_string(),
    }
}
