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
use weir_engine::{Engine, EngineConfig, Module, ModuleSpec};

use super::{Globals, human, print_json};

const EXAMPLES: &str = "\
Examples:
  weir build                       # the project in the current folder
  weir build path/to/my-transform --json
  weir build --print-sha256        # only the digest, for `sha256 = \"…\"`

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
    /// Print only the component's sha256 (hex), for pinning it in a
    /// pipeline file or a script (`sha=$(weir build --print-sha256)`).
    #[arg(long, conflicts_with = "json")]
    print_sha256: bool,
}

impl BuildCmd {
    pub(super) fn execute(self, g: &Globals) -> anyhow::Result<ExitCode> {
        let project = Project::open(&self.dir)?;
        let wasm = build_project(&project)?;
        let bytes =
            std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let shown = wasm.strip_prefix(&project.dir).unwrap_or(&wasm);
        let module = precompile(&project.name, &wasm)?;
        if self.print_sha256 {
            println!("{sha256}");
        } else if g.json {
            let compiled = module.compiled();
            print_json(&json!({
                "module": wasm.display().to_string(),
                "size": bytes.len(),
                "sha256": sha256,
                "compile_seconds": compiled.map(|c| c.elapsed.as_secs_f64()),
                "functions_reused": compiled.map(|c| c.functions_reused),
                "functions_compiled": compiled.map(|c| c.functions_compiled),
            }))?;
        } else {
            println!("{}", shown.display());
            println!(
                "  size      {} ({} bytes)",
                human(bytes.len() as u64),
                bytes.len()
            );
            println!("  sha256    {sha256}");
            match super::compile_summary(&module) {
                Some(summary) => println!("  compiled  {summary}"),
                None => println!("  compiled  already, in the module cache"),
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Compiles the built module into the module cache, as `weir run` and
/// `weir test` would on their first load, so neither pays for it (a Python
/// component is the CPython interpreter: seconds of Cranelift, most of it
/// taken from the function cache when an earlier build compiled the same
/// interpreter). It also checks, at build time, that the module loads as a
/// transform.
fn precompile(name: &str, wasm: &Path) -> anyhow::Result<Module> {
    let engine = Engine::new(EngineConfig::default())?;
    engine.load(ModuleSpec::new(name, wasm)).with_context(|| {
        format!(
            "{} was built but does not load as a transform",
            wasm.display()
        )
    })
}

/// A transform project's folder, as `weir new` makes it.
#[derive(Debug)]
pub(super) struct Project {
    /// The folder, absolute.
    pub(super) dir: PathBuf,
    /// The folder's name: the transform's.
    pub(super) name: String,
    python: bool,
}

impl Project {
    /// The project in `dir`: a Rust crate (`Cargo.toml`) or a Python app
    /// (`app.py`).
    pub(super) fn open(dir: &Path) -> anyhow::Result<Project> {
        let dir = std::path::absolute(dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let python = if dir.join("Cargo.toml").is_file() {
            false
        } else if dir.join("app.py").is_file() {
            true
        } else {
            bail!(
                "{} is not a transform project: no Cargo.toml or app.py (create one with `weir new`)",
                dir.display()
            );
        };
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("the project folder has no name")?
            .to_owned();
        Ok(Project { dir, name, python })
    }

    /// Whether it is a Python app.
    pub(super) fn is_python(&self) -> bool {
        self.python
    }
}

/// Builds `project`'s component and returns its path. What the build tool
/// prints goes to stderr, so stdout holds only weir's own lines.
pub(super) fn build_project(project: &Project) -> anyhow::Result<PathBuf> {
    if project.python {
        build_python(&project.dir, &project.name)
    } else {
        build_rust(&project.dir)
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
        .stdout(std::io::stderr())
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

/// Builds `app.py` (with the vendored `weir_guest.py`) into
/// `target/NAME.wasm` with componentize-py against the project's `wit/`.
/// When the app does not import, the error is Python's message
/// ([`componentize_failure`]), not componentize-py's backtrace.
fn build_python(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
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
    let out = Command::new(&tool)
        .args(["--quiet", "-d", "wit", "-w", "transform", "componentize", "-p", ".", "app", "-o"])
        .arg(&wasm)
        .env_remove("VIRTUAL_ENV")
        // Its error then ends at Python's message, without a Rust backtrace.
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "cannot run {}: install it with `pip install componentize-py==0.25.1` or set COMPONENTIZE_PY",
                Path::new(&tool).display()
            )
        })?;
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(componentize_failure(dir, &stderr, out.status));
    }
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    Ok(wasm)
}

/// Packages whose import needs compiled C extensions, which a component
/// cannot load (componentize-py bundles CPython and pure-Python code only),
/// by the top-level module name an app imports.
const C_EXTENSION_PACKAGES: [(&str, &str); 14] = [
    ("numpy", "numpy"),
    ("pandas", "pandas"),
    ("sklearn", "scikit-learn"),
    ("scipy", "scipy"),
    ("torch", "torch"),
    ("tensorflow", "tensorflow"),
    ("pyarrow", "pyarrow"),
    ("polars", "polars"),
    ("onnxruntime", "onnxruntime"),
    ("lxml", "lxml"),
    ("regex", "regex"),
    ("ujson", "ujson"),
    ("orjson", "orjson"),
    ("duckdb", "duckdb"),
];

/// What to say when componentize-py failed in `dir` with `stderr`: one line
/// for an import of a package with C extensions, else the Python error the
/// app raised while componentize-py imported it (file, line, caret), else
/// componentize-py's own output.
fn componentize_failure(dir: &Path, stderr: &str, status: std::process::ExitStatus) -> String {
    let Some(python) = python_error(stderr) else {
        return format!(
            "componentize-py failed in {} ({status}):\n{}",
            dir.display(),
            stderr.trim_end()
        );
    };
    // A package found by its missing compiled module, or one known by name.
    let found =
        bundled_extension(stderr, dir).or_else(|| c_extension_import(&python).map(str::to_owned));
    if let Some(module) = found {
        let package = C_EXTENSION_PACKAGES
            .iter()
            .find(|(m, _)| *m == module)
            .map_or(module.as_str(), |(_, p)| p);
        let sklearn = if module == "sklearn" {
            SKLEARN_ROUTE
        } else {
            ""
        };
        return format!(
            "app.py imports {module} ({package}), a package with C extensions, which cannot run \
             in the sandbox: a Python component holds CPython and pure-Python packages only{sklearn}"
        );
    }
    format!("app.py failed to import while building the component:\n{python}")
}

/// Where a scikit-learn model goes instead.
const SKLEARN_ROUTE: &str = "; to apply a scikit-learn model, export it and use a shipped \
     transform instead: transforms/categorize (text classifiers, export_sklearn.py) or \
     transforms/model-apply (ONNX, via skl2onnx)";

/// The top-level package of a bundled package that failed to import one
/// of its own submodules, in any traceback of componentize-py's `stderr`:
/// `No module named 'pkg._ext'` raised while `pkg`'s own code ran (a frame
/// in `/N/pkg/`, componentize-py's mount N of a folder it bundles). The
/// project folder is mount 0: there `pkg` counts only if it holds a
/// compiled file (`pip install --target .` put it there), so an app's own
/// package missing a module is not taken for one. Inside a
/// component a compiled submodule (`_ext.cpython-311-x86_64-linux-gnu.so`)
/// is not a module at all, so this is the mark of a package with C
/// extensions, whichever it is.
fn bundled_extension(python: &str, project: &Path) -> Option<String> {
    python.lines().find_map(|line| {
        let missing = line.split_once("No module named '")?.1.split('\'').next()?;
        let (top, _) = missing.split_once('.')?;
        let bundled = python.lines().any(|l| {
            l.trim_start()
                .strip_prefix("File \"/")
                .and_then(|p| p.split_once('/'))
                .is_some_and(|(mount, rest)| {
                    !mount.is_empty()
                        && mount.chars().all(|c| c.is_ascii_digit())
                        && rest.starts_with(&format!("{top}/"))
                        && (mount != "0" || holds_compiled(&project.join(top), 8))
                })
        });
        bundled.then(|| top.to_owned())
    })
}

/// Whether `dir` holds a compiled extension module (`.so`, `.pyd`) within
/// `depth` folders.
fn holds_compiled(dir: &Path, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => depth > 0 && holds_compiled(&path, depth - 1),
            Ok(t) if t.is_file() => path.extension().is_some_and(|x| x == "so" || x == "pyd"),
            _ => false,
        }
    })
}

/// The Python error inside componentize-py's report (`AssertionError:
/// <Python's lines>` up to `Caused by:`), with its in-component paths
/// (`/0/app.py`) made the project's (`app.py`).
fn python_error(stderr: &str) -> Option<String> {
    let start = stderr.find("AssertionError: ")? + "AssertionError: ".len();
    let rest = &stderr[start..];
    let end = rest.find("\nCaused by:").unwrap_or(rest.len());
    let text = rest[..end].trim_end();
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.find("File \"/") {
            Some(at) => {
                let path = &line[at + "File \"/".len()..];
                match path.split_once('/') {
                    Some((mount, tail)) if mount.chars().all(|c| c.is_ascii_digit()) => {
                        format!("{}File \"{tail}", &line[..at])
                    }
                    _ => line.to_owned(),
                }
            }
            None => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    Some(out.trim_end().to_owned())
}

/// The top-level module of a known C-extension package whose import failed in
/// `python` (a traceback), if that is what failed.
fn c_extension_import(python: &str) -> Option<&'static str> {
    // The last traceback starts at the app's frame (a chained cause,
    // printed first, is the package's inside).
    let last_traceback = python
        .rfind("Traceback (most recent call last):")
        .map_or(python, |at| &python[at..]);
    let import_failed = last_traceback
        .lines()
        .any(|l| l.starts_with("ModuleNotFoundError") || l.starts_with("ImportError"));
    if !import_failed {
        return None;
    }
    // The app's own `import X` / `from X import` lines, and the modules
    // named as missing.
    let named = last_traceback.lines().filter_map(|line| {
        let line = line.trim();
        let module = line
            .strip_prefix("import ")
            .or_else(|| line.strip_prefix("from "))
            .or_else(|| {
                line.split_once("No module named '")
                    .map(|(_, m)| m.trim_end_matches('\''))
            })?;
        module.split(['.', ' ', ',', '\'']).next()
    });
    for module in named {
        if let Some(&(found, _)) = C_EXTENSION_PACKAGES.iter().find(|(m, _)| *m == module) {
            return Some(found);
        }
    }
    None
}

/// `--remap-path-prefix` flags for the paths a build would otherwise embed:
/// the project folder and cargo's home (registry sources).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(fixture: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/cli/testdata")
            .join(fixture);
        let stderr =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let status = Command::new("false")
            .status()
            .unwrap_or_else(|e| panic!("false: {e}"));
        componentize_failure(Path::new("/p/app"), &stderr, status)
    }

    #[test]
    fn numpy_bundled_from_a_venv_is_one_line_naming_it() {
        let message = failure("componentize-numpy-in-venv.txt");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(
            message.starts_with("app.py imports numpy (numpy), a package with C extensions"),
            "{message}"
        );
        assert!(!message.contains("model-apply"), "{message}");
    }

    #[test]
    fn any_bundled_package_missing_a_compiled_submodule_is_named() {
        // msgspec (not in the list): its compiled core is not a module in
        // the component.
        let stderr = "AssertionError: Traceback (most recent call last):\n  File \"/0/app.py\", \
                      line 2, in <module>\n    import msgspec\n  File \"/2/msgspec/__init__.py\", \
                      line 1, in <module>\n    from ._core import Struct\n\
                      ModuleNotFoundError: No module named 'msgspec._core'\n\nCaused by:\n    x\n";
        let status = Command::new("false")
            .status()
            .unwrap_or_else(|e| panic!("false: {e}"));
        let message = componentize_failure(Path::new("/p"), stderr, status);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(
            message.starts_with("app.py imports msgspec (msgspec), a package with C extensions"),
            "{message}"
        );
        // Installed into the project folder (pip install --target .): it
        // holds the compiled file.
        let project = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pkg = project.path().join("msgspec");
        std::fs::create_dir_all(&pkg).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(pkg.join("_core.cpython-314-x86_64-linux-gnu.so"), b"")
            .unwrap_or_else(|e| panic!("{e}"));
        let in_project = stderr.replace("/2/msgspec", "/0/msgspec");
        let message = componentize_failure(project.path(), &in_project, status);
        assert!(
            message.starts_with("app.py imports msgspec (msgspec)"),
            "{message}"
        );
        // The app's own package (the project, mounted at /0) missing a
        // submodule is not a package's extension.
        let own = "AssertionError: Traceback (most recent call last):\n  File \"/0/app.py\", \
                   line 2, in <module>\n    import helpers.text\n  File \"/0/helpers/__init__.py\", \
                   line 1, in <module>\n    from . import text\n\
                   ModuleNotFoundError: No module named 'helpers.text'\n\nCaused by:\n    x\n";
        let message = componentize_failure(Path::new("/p"), own, status);
        assert!(message.starts_with("app.py failed to import"), "{message}");
    }

    #[test]
    fn numpy_missing_from_the_build_is_one_line_naming_it() {
        let message = failure("componentize-no-numpy.txt");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.contains("imports numpy"), "{message}");
    }

    #[test]
    fn scikit_learn_points_to_the_shipped_model_transforms() {
        let stderr = "AssertionError: Traceback (most recent call last):\n  File \"/0/app.py\", \
                      line 3, in <module>\n    from sklearn.linear_model import LogisticRegression\n\
                      ModuleNotFoundError: No module named 'sklearn'\n\nCaused by:\n    x\n";
        let status = Command::new("false")
            .status()
            .unwrap_or_else(|e| panic!("false: {e}"));
        let message = componentize_failure(Path::new("/p"), stderr, status);
        assert!(
            message.contains("imports sklearn (scikit-learn)"),
            "{message}"
        );
        assert!(message.contains("transforms/categorize"), "{message}");
        assert!(message.contains("transforms/model-apply"), "{message}");
    }

    #[test]
    fn a_syntax_error_is_pythons_message_without_a_backtrace() {
        let message = failure("componentize-syntax-error.txt");
        assert_eq!(
            message,
            "app.py failed to import while building the component:\n  \
             File \"app.py\", line 4\n    return record[\n                 ^\n\
             SyntaxError: '[' was never closed"
        );
    }

    #[test]
    fn an_error_componentize_py_reports_itself_is_kept_whole() {
        let status = Command::new("false")
            .status()
            .unwrap_or_else(|e| panic!("false: {e}"));
        let message = componentize_failure(Path::new("/p"), "error: unknown world `x`\n", status);
        assert!(message.contains("error: unknown world `x`"), "{message}");
    }
}
