//! `weir new`: scaffold a transform project anywhere on disk.
//!
//! The project is a crate for `wasm32-wasip2` with a sample config, two
//! golden cases and a README (`runtime/templates/rust/`). The guest SDK is
//! not on crates.io, so the project gets a vendored copy of it, embedded in
//! this binary: `vendor/weir-guest/` (the SDK's sources and a standalone
//! manifest) and `wit/weir.wit` (the contract its bindings are generated
//! from). The SDK a project gets is therefore always the one this runtime
//! was built with.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::{Globals, print_json};

const EXAMPLES: &str = "\
Examples:
  weir new my-transform            # creates ./my-transform
  cd my-transform && cargo test && weir build
  weir test target/wasm32-wasip2/release/my_transform.wasm --cases cases";

/// The languages a transform can be written in.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Lang {
    /// Rust, with the weir-guest SDK.
    Rust,
    /// Python, with the Python guest SDK, built by componentize-py.
    Python,
}

/// Create a new transform project (a crate with the guest SDK vendored).
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub(super) struct NewCmd {
    /// The project folder to create; its last component is the package name.
    path: PathBuf,
    /// The transform's language.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
}

/// The SDK's contract path as written in `guest-sdk/src/component.rs`
/// (relative to `guest-sdk/`), and what it becomes in `vendor/weir-guest/`.
const SDK_WIT_PATH: &str = r#"path: "../wit","#;
const VENDORED_WIT_PATH: &str = r#"path: "../../wit","#;

/// The guest SDK's sources, by file name under `src/`.
const SDK_SOURCES: [(&str, &str); 19] = [
    (
        "assets.rs",
        include_str!("../../../guest-sdk/src/assets.rs"),
    ),
    ("bytes.rs", include_str!("../../../guest-sdk/src/bytes.rs")),
    ("chunk.rs", include_str!("../../../guest-sdk/src/chunk.rs")),
    (
        "component.rs",
        include_str!("../../../guest-sdk/src/component.rs"),
    ),
    ("edit.rs", include_str!("../../../guest-sdk/src/edit.rs")),
    ("error.rs", include_str!("../../../guest-sdk/src/error.rs")),
    ("field.rs", include_str!("../../../guest-sdk/src/field.rs")),
    (
        "finite.rs",
        include_str!("../../../guest-sdk/src/finite.rs"),
    ),
    (
        "function.rs",
        include_str!("../../../guest-sdk/src/function.rs"),
    ),
    ("lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    (
        "outcome.rs",
        include_str!("../../../guest-sdk/src/outcome.rs"),
    ),
    ("parse.rs", include_str!("../../../guest-sdk/src/parse.rs")),
    ("patch.rs", include_str!("../../../guest-sdk/src/patch.rs")),
    (
        "random.rs",
        include_str!("../../../guest-sdk/src/random.rs"),
    ),
    (
        "record.rs",
        include_str!("../../../guest-sdk/src/record.rs"),
    ),
    ("scan.rs", include_str!("../../../guest-sdk/src/scan.rs")),
    (
        "spelling.rs",
        include_str!("../../../guest-sdk/src/spelling.rs"),
    ),
    (
        "testing.rs",
        include_str!("../../../guest-sdk/src/testing.rs"),
    ),
    (
        "transform.rs",
        include_str!("../../../guest-sdk/src/transform.rs"),
    ),
];

const WIT: &str = include_str!("../../../wit/weir.wit");

/// The Rust template: (path in the project, text with `{{name}}`,
/// `{{crate}}` and `{{weir_version}}` placeholders).
const RUST_TEMPLATE: [(&str, &str); 13] = [
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml"),
    ),
    ("README.md", include_str!("../../templates/rust/README.md")),
    (
        ".gitignore",
        include_str!("../../templates/rust/gitignore.txt"),
    ),
    (
        "config.json",
        include_str!("../../templates/rust/config.json"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs"),
    ),
    (
        "tests/golden.rs",
        include_str!("../../templates/rust/tests/golden.rs"),
    ),
    (
        "cases/basic/config.json",
        include_str!("../../templates/rust/cases/basic/config.json"),
    ),
    (
        "cases/basic/input.ndjson",
        include_str!("../../templates/rust/cases/basic/input.ndjson"),
    ),
    (
        "cases/basic/expected.ndjson",
        include_str!("../../templates/rust/cases/basic/expected.ndjson"),
    ),
    (
        "cases/missing-id/config.json",
        include_str!("../../templates/rust/cases/missing-id/config.json"),
    ),
    (
        "cases/missing-id/input.ndjson",
        include_str!("../../templates/rust/cases/missing-id/input.ndjson"),
    ),
    (
        "cases/missing-id/expected.ndjson",
        include_str!("../../templates/rust/cases/missing-id/expected.ndjson"),
    ),
    (
        "cases/missing-id/expected-quarantine.ndjson",
        include_str!("../../templates/rust/cases/missing-id/expected-quarantine.ndjson"),
    ),
];

const VENDOR_MANIFEST: &str = include_str!("../../templates/rust/vendor-weir-guest.Cargo.toml");

/// The Python template, with the same placeholders.
const PYTHON_TEMPLATE: [(&str, &str); 11] = [
    ("app.py", include_str!("../../templates/python/app.py")),
    (
        "README.md",
        include_str!("../../templates/python/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/python/gitignore.txt"),
    ),
    (
        "config.json",
        include_str!("../../templates/python/config.json"),
    ),
    (
        "cases/basic/config.json",
        include_str!("../../templates/python/cases/basic/config.json"),
    ),
    (
        "cases/basic/input.ndjson",
        include_str!("../../templates/python/cases/basic/input.ndjson"),
    ),
    (
        "cases/basic/expected.ndjson",
        include_str!("../../templates/python/cases/basic/expected.ndjson"),
    ),
    (
        "cases/missing-id/config.json",
        include_str!("../../templates/python/cases/missing-id/config.json"),
    ),
    (
        "cases/missing-id/input.ndjson",
        include_str!("../../templates/python/cases/missing-id/input.ndjson"),
    ),
    (
        "cases/missing-id/expected.ndjson",
        include_str!("../../templates/python/cases/missing-id/expected.ndjson"),
    ),
    (
        "cases/missing-id/expected-quarantine.ndjson",
        include_str!("../../templates/python/cases/missing-id/expected-quarantine.ndjson"),
    ),
];

/// What `weir new` says about time and randomness in the sandbox.
const CLOCK_NOTE: &str = "\
note: in the sandbox the clock is frozen at 2000-01-01T00:00:00Z and random numbers are
      seeded, so a transform gives the same output for the same input whenever it runs
      (a replay, a backfill); take times from the records, not from the clock";

/// The Python guest SDK, vendored into Python projects.
const PYTHON_SDK: &str = include_str!("../../../guest-sdk/python/weir_guest.py");

impl NewCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let name = package_name(&self.path)?;
        if self.path.exists() {
            bail!(
                "{} already exists; choose a new folder",
                self.path.display()
            );
        }
        let (files, wasm) = match self.lang {
            Lang::Rust => (
                rust_project(&name)?,
                format!("target/wasm32-wasip2/release/{}.wasm", crate_name(&name)),
            ),
            Lang::Python => (python_project(&name), format!("target/{name}.wasm")),
        };
        for (rel, text) in &files {
            let path = self.path.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let lang = match self.lang {
            Lang::Rust => "rust",
            Lang::Python => "python",
        };
        if g.json {
            print_json(&json!({
                "path": self.path.display().to_string(),
                "name": name,
                "lang": lang,
                "files": files.iter().map(|(p, _)| p).collect::<Vec<_>>(),
                "module": wasm,
            }))?;
        } else {
            println!(
                "created transform {name} in {} ({} files)",
                self.path.display(),
                files.len()
            );
            println!("next:");
            println!("  cd {}", self.path.display());
            if let Lang::Rust = self.lang {
                println!("  cargo test                # natively, fast");
                println!("  weir build                # the component, its size and sha256");
                println!("  weir test {wasm} --cases cases");
            } else {
                println!(
                    "  weir test                 # the cases, natively under python3: no build"
                );
                println!("  pip install componentize-py==0.25.1   # once, to build");
                println!("  weir build                # the component, its size and sha256");
                println!(
                    "  weir test --component     # the cases against the component, in the sandbox"
                );
            }
            println!("{CLOCK_NOTE}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The package name: the folder's last component, a valid Cargo name.
fn package_name(path: &Path) -> anyhow::Result<String> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} does not end in a folder name", path.display()))?;
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!(
            "{name:?} is not a valid package name: start with a letter, then letters, \
             digits, `-` or `_`"
        );
    }
    Ok(name.to_owned())
}

/// The Rust crate name of a package (`my-transform` → `my_transform`),
/// which is also the `.wasm` file's stem.
fn crate_name(package: &str) -> String {
    package.replace('-', "_")
}

/// Every file of a new Rust project named `name`: the template, the
/// vendored SDK and the contract.
fn rust_project(name: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name(name))
            .replace("{{weir_version}}", env!("CARGO_PKG_VERSION"))
    };
    let mut files: Vec<(PathBuf, String)> = RUST_TEMPLATE
        .iter()
        .map(|(rel, text)| (PathBuf::from(rel), fill(text)))
        .collect();
    files.push((
        PathBuf::from("vendor/weir-guest/Cargo.toml"),
        fill(VENDOR_MANIFEST),
    ));
    for (file, text) in SDK_SOURCES {
        files.push((
            Path::new("vendor/weir-guest/src").join(file),
            vendor_source(file, text)?,
        ));
    }
    files.push((PathBuf::from("wit/weir.wit"), WIT.to_owned()));
    Ok(files)
}

/// Every file of a new Python project named `name`: the template, the
/// vendored Python SDK and the contract.
fn python_project(name: &str) -> Vec<(PathBuf, String)> {
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{weir_version}}", env!("CARGO_PKG_VERSION"))
    };
    let mut files: Vec<(PathBuf, String)> = PYTHON_TEMPLATE
        .iter()
        .map(|(rel, text)| (PathBuf::from(rel), fill(text)))
        .collect();
    files.push((PathBuf::from("weir_guest.py"), PYTHON_SDK.to_owned()));
    files.push((PathBuf::from("wit/weir.wit"), WIT.to_owned()));
    files
}

/// One SDK source as it lives in `vendor/weir-guest/src/`: the bindings
/// read the contract from the project's `wit/`, two levels up.
fn vendor_source(file: &str, text: &str) -> anyhow::Result<String> {
    if file != "component.rs" {
        return Ok(text.to_owned());
    }
    if text.matches(SDK_WIT_PATH).count() != 1 {
        bail!("the guest SDK's component.rs no longer reads its contract from `{SDK_WIT_PATH}`");
    }
    Ok(text.replace(SDK_WIT_PATH, VENDORED_WIT_PATH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_source_file_is_vendored() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rs"))
            .collect();
        on_disk.sort();
        let mut vendored: Vec<String> = SDK_SOURCES.iter().map(|(n, _)| (*n).to_owned()).collect();
        vendored.sort();
        assert_eq!(
            vendored, on_disk,
            "SDK_SOURCES must list every guest-sdk/src file"
        );
    }

    #[test]
    fn vendored_sdk_reads_the_project_wit() {
        let files = rust_project("my-transform").unwrap_or_else(|e| panic!("{e:#}"));
        let component = files
            .iter()
            .find(|(p, _)| p.ends_with("vendor/weir-guest/src/component.rs"))
            .map(|(_, t)| t)
            .unwrap_or_else(|| panic!("no component.rs"));
        assert!(component.contains(VENDORED_WIT_PATH));
        assert!(files.iter().any(|(p, _)| p == Path::new("wit/weir.wit")));
        let golden = files
            .iter()
            .find(|(p, _)| p == Path::new("tests/golden.rs"))
            .map(|(_, t)| t)
            .unwrap_or_else(|| panic!("no tests/golden.rs"));
        assert!(golden.contains("my_transform::transform"));
        assert!(files.iter().all(|(_, t)| !t.contains("{{")));
    }

    #[test]
    fn package_names_are_checked() {
        assert!(package_name(Path::new("some/dir/my-transform")).is_ok());
        assert!(package_name(Path::new("1st")).is_err());
        assert!(package_name(Path::new("has space")).is_err());
    }
}
