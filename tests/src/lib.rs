//! A tiny harness for Weir's end-to-end tests: run the real `weir` binary
//! in a temporary directory, read what it staged, and run real pandas and
//! DuckDB from the test venv.
//!
//! The binary is `target/release/weir` (built by `scripts/test`), or
//! `$WEIR_BIN`. Python is `.venv/bin/python` (made by `scripts/test`), or
//! `$WEIR_PYTHON`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| panic!("tests/ has a parent"))
        .to_path_buf()
}

/// The `weir` binary under test.
pub fn weir_bin() -> PathBuf {
    let p = std::env::var_os("WEIR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/release/weir"));
    assert!(
        p.exists(),
        "{} does not exist: run scripts/test (or cargo build --release -p weir)",
        p.display()
    );
    p
}

/// The test venv's Python, with pandas and DuckDB.
pub fn python() -> PathBuf {
    let p = std::env::var_os("WEIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "{} does not exist: run scripts/test, which creates the test venv",
        p.display()
    );
    p
}

/// A finished command.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with the output unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Panics unless the command succeeded.
    pub fn ok(self) -> Self {
        self.expect_code(0)
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A temporary working directory to run `weir` in.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("weir-test-")
                .tempdir()
                .unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside it.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating folders) and returns its path.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        }
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    /// Runs `weir ARGS` here.
    pub fn weir(&self, args: &[&str]) -> Run {
        self.weir_with_stdin(args, None)
    }

    /// Runs `weir ARGS` here with `stdin` piped in.
    pub fn weir_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        let mut cmd = Command::new(weir_bin());
        cmd.args(args)
            .current_dir(self.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning weir: {e}"));
        if let Some(input) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
            let data = input.to_vec();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&data);
            });
        }
        Run::from(
            child
                .wait_with_output()
                .unwrap_or_else(|e| panic!("waiting for weir: {e}")),
        )
    }

    /// Runs the test venv's Python with `script` and arguments, here.
    pub fn python(&self, script: &str, args: &[&str]) -> Run {
        let o = Command::new(python())
            .arg("-c")
            .arg(script)
            .args(args)
            .current_dir(self.path())
            .output()
            .unwrap_or_else(|e| panic!("running python: {e}"));
        Run::from(o)
    }

    /// Files under `rel`, relative to it, sorted.
    pub fn files(&self, rel: &str) -> Vec<String> {
        let root = self.join(rel);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(r) = p.strip_prefix(&root) {
                    out.push(r.to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    }
}

/// Decompresses a (multi-member) gzip file.
pub fn gunzip(path: &Path) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(f)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// Compresses bytes into one gzip member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    e.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// sha256 of bytes, hex.
pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Lines of NDJSON text (without their `\n`).
pub fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Builds a guest component from source (a workspace package) for
/// `wasm32-wasip2` and returns the `.wasm` path. Uses its own target
/// directory (`target/guests`) so it never waits on the lock of the cargo
/// that runs the tests; cargo makes repeated builds no-ops.
pub fn guest(package: &str) -> PathBuf {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(p) = built.get(package) {
        return p.clone();
    }
    let target = workspace().join("target/guests");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(workspace())
        .output()
        .unwrap_or_else(|e| panic!("running cargo: {e}"));
    assert!(
        out.status.success(),
        "building guest {package} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = target
        .join("wasm32-wasip2/guest")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(path.exists(), "{} was not built", path.display());
    built.insert(package.to_owned(), path.clone());
    path
}
