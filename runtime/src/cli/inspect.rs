//! `weir inspect`: what a module is, without running it: the world and
//! version it implements, its imports (flagging capabilities beyond the
//! sandbox's default), size, sha256, and whether this runtime runs it.
//! The introspection itself is `weir_engine::Engine::inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use weir_engine::{Engine, EngineConfig, ImportKind, Inspection, WIT_WORLD};

use super::{Globals, human, print_json};

const EXAMPLES: &str = "\
Examples:
  weir inspect target/wasm32-wasip2/release/my_transform.wasm
  weir inspect my_transform.wasm --json | jq .sha256

Exits 1 if the file is not a component of the weir:transform world this
runtime runs (a core module, a text file, another world or version).";

/// Show a module's world, imports, capabilities, size and sha256.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(super) struct InspectCmd {
    /// The module file (`.wasm`).
    module: PathBuf,
}

impl InspectCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let engine = Engine::new(EngineConfig::default())?;
        let inspection = engine.inspect(&self.module)?;
        if g.json {
            print_json(&to_json(&inspection))?;
        } else {
            print_text(&inspection);
        }
        match &inspection.incompatibility {
            None => Ok(ExitCode::SUCCESS),
            Some(reason) => {
                eprintln!(
                    "error: {} is not compatible with this runtime: {reason}",
                    self.module.display()
                );
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// What an import means, in a few words.
fn describe(kind: ImportKind) -> &'static str {
    match kind {
        ImportKind::Contract => "the weir:transform contract",
        ImportKind::Sandbox => "sandbox default",
        ImportKind::Capability {
            capability: "files",
            ..
        } => "CAPABILITY files: denied, except a granted assets dir (read-only)",
        ImportKind::Capability {
            capability: "network",
            ..
        } => "CAPABILITY network: linked, every use denied",
        ImportKind::Capability { linked: false, .. } => "CAPABILITY not provided: will not load",
        ImportKind::Capability { .. } => "CAPABILITY",
        _ => "not provided by this runtime",
    }
}

fn capability_name(kind: ImportKind) -> Option<&'static str> {
    match kind {
        ImportKind::Capability { capability, .. } => Some(capability),
        _ => None,
    }
}

/// The capabilities imported, each once, in order of first import.
fn capability_names(i: &Inspection) -> Vec<&'static str> {
    let mut names = Vec::new();
    for name in i.capabilities().filter_map(|m| capability_name(m.kind)) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn print_text(i: &Inspection) {
    let world = match (&i.incompatibility, &i.contract_version) {
        (None, _) => format!(
            "{} (compatible with this runtime{})",
            i.world.as_deref().unwrap_or(WIT_WORLD),
            if i.world.as_deref() == Some(WIT_WORLD) {
                "; it may declare the fields it reads and writes"
            } else {
                "; whole records"
            }
        ),
        (Some(_), Some(v)) => format!("weir:transform@{v}: NOT compatible with this runtime"),
        (Some(_), None) => "not a weir:transform world: NOT compatible with this runtime".into(),
    };
    println!("{}", i.path.display());
    println!("  world    {world}");
    if let Some(reason) = &i.incompatibility {
        println!("  why      {reason}");
    }
    println!("  size     {} ({} bytes)", human(i.size), i.size);
    println!("  sha256   {}", i.sha256);
    println!("  exports  {}", i.exports.join(", "));
    println!("  imports  {}", i.imports.len());
    let width = i.imports.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for import in &i.imports {
        println!("    {:<width$}  {}", import.name, describe(import.kind));
    }
    let capabilities = capability_names(i);
    if capabilities.is_empty() {
        println!("  capabilities  none beyond the sandbox default");
    } else {
        println!(
            "  capabilities  {} (imported; the sandbox grants none of them)",
            capabilities.join(", ")
        );
    }
}

fn to_json(i: &Inspection) -> serde_json::Value {
    let capabilities = capability_names(i);
    json!({
        "path": i.path.display().to_string(),
        "world": i.world,
        "contract_version": i.contract_version,
        "compatible": i.is_compatible(),
        "incompatibility": i.incompatibility,
        "size": i.size,
        "sha256": i.sha256,
        "exports": i.exports,
        "imports": i.imports.iter().map(|m| json!({
            "name": m.name,
            "kind": match m.kind {
                ImportKind::Contract => "contract",
                ImportKind::Sandbox => "sandbox",
                ImportKind::Capability { .. } => "capability",
                _ => "unknown",
            },
            "capability": capability_name(m.kind),
        })).collect::<Vec<_>>(),
        "capabilities": capabilities,
    })
}
