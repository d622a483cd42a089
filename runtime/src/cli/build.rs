//! `weir build`: build a transform project's component and print its path,
//! size and sha256.
//!
//! Rust projects build with `cargo build --release --target wasm32-wasip2`;
//! the module is found through `cargo metadata` (target directory and
//! package name). Paths that would otherwise end up in the module (the
//! project folder, cargo's home) are remapped, so the same source gives the
//! same sha256 wherever it is built.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Globals, human, print_json};

const EXAMPLES: &str = "\
Examples:
  weir build                       # the project in the current folder
  weir build path/to/my-transform --json

Then pin the printed sha256 in the pipeline file (`sha256 = \"…\"`).";

/// The compilation target of every transform.
const TARGET: &str = "wasm32-wasip2";

/// Build a transform project into a component; print its path, size and sha256.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(super) struct BuildCmd {
    /// The project folder.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

impl BuildCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let dir = std::path::absolute(&self.dir)
            .with_context(|| format!("cannot resolve {}", self.dir.display()))?;
        let wasm = if dir.join("Cargo.toml").is_file() {
            build_rust(&dir)?
        } else if dir.join("app.py").is_file() {
            build_python(&dir)?
        } else {
            bail!(
                "{} is not a transform project: no Cargo.toml or app.py (create one with `weir new`)",
                dir.display()
            );
        };
        let bytes =
            std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let shown = wasm.strip_prefix(&dir).unwrap_or(&wasm);
        if g.json {
            print_json(&json!({
                "module": wasm.display().to_string(),
                "size": bytes.len(),
                "sha256": sha256,
            }))?;
        } else {
            println!("{}", shown.display());
            println!(
                "  size    {} ({} bytes)",
                human(bytes.len() as u64),
                bytes.len()
            );
            println!("  sha256  {sha256}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the Rust package in `dir` and returns its component's path.
fn build_rust(dir: &Path) -> anyhow::Result<PathBuf> {
    let (target_dir, package) = cargo_metadata(dir)?;
    let mut flags = remap_flags(dir);
    // Flags the user set for this build still apply, after ours.
    if let Ok(user) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        flags.extend(
            user.split('\x1f')
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        );
    } else if let Ok(user) = std::env::var("RUSTFLAGS") {
        flags.extend(user.split_whitespace().map(str::to_owned));
    }
    let status = cargo()
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .current_dir(dir)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build failed in {} ({status})", dir.display());
    }
    let wasm = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.is_file() {
        bail!(
            "cargo built {package}, but {} does not exist: is its [lib] crate-type \"cdylib\"?",
            wasm.display()
        );
    }
    Ok(wasm)
}

/// `--remap-path-prefix` flags for the paths a build would otherwise embed:
/// the project folder and cargo's home (registry sources).
/// Builds `app.py` (with the vendored `weir_guest.py`) into
/// `target/NAME.wasm` with componentize-py against the project's `wit/`.
fn build_python(dir: &Path) -> anyhow::Result<PathBuf> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("the project folder has no name")?;
    if !dir.join("wit/weir.wit").is_file() {
        bail!(
            "{} has no wit/weir.wit (create the project with `weir new --lang python`)",
            dir.display()
        );
    }
    let out_dir = dir.join("target");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let wasm = out_dir.join(format!("{name}.wasm"));
    let tool = std::env::var_os("COMPONENTIZE_PY").unwrap_or_else(|| "componentize-py".into());
    let status = Command::new(&tool)
        .args(["--quiet", "-d", "wit", "-w", "transform", "componentize", "-p", ".", "app", "-o"])
        .arg(&wasm)
        .env_remove("VIRTUAL_ENV")
        .current_dir(dir)
        .status()
        .with_context(|| {
            format!(
                "cannot run {}: install it with `pip install componentize-py==0.25.1` or set COMPONENTIZE_PY",
                Path::new(&tool).display()
            )
        })?;
    if !status.success() {
        bail!("componentize-py failed in {} ({status})", dir.display());
    }
    Ok(wasm)
}

fn remap_flags(dir: &Path) -> Vec<String> {
    let mut flags = vec![format!("--remap-path-prefix={}=/build", dir.display())];
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags
}

/// The target directory and the package name of the project in `dir`.
fn cargo_metadata(dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    let manifest = dir.join("Cargo.toml");
    let out = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .current_dir(dir)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed for {}:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("cargo metadata printed something not JSON")?;
    let target_dir = meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata has no target_directory")?;
    let manifest = std::fs::canonicalize(&manifest).unwrap_or(manifest);
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| std::fs::canonicalize(m).is_ok_and(|m| m == manifest))
        })
        .and_then(|p| p["name"].as_str())
        .with_context(|| {
            format!(
                "{} is a workspace without a package of its own; run weir build in the \
                 transform's folder",
                dir.display()
            )
        })?;
    Ok((target_dir, package.to_owned()))
}
