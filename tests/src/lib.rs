//! A tiny harness for Weir's end-to-end tests: run the real `weir` binary
//! in a temporary directory, read what it staged, and run real pandas and
//! DuckDB from the test venv.
//!
//! The binary is `$WEIR_BIN`, or `target/release/weir` when it is newer
//! than the sources (`scripts/setup` builds it), or one
//! [`weir_bin`] builds itself. Python is `.venv/bin/python` (made by `scripts/test`), or
//! `$WEIR_PYTHON`. `s3://` stages live on a real S3 server, [`S3Server`]
//! (s3s-fs, installed by `scripts/setup`), or `$WEIR_S3S_FS`. PostgreSQL
//! primaries and hot standbys are [`pg::Cluster`]s (also what extract/tests
//! use).

pub mod pg;

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

/// The `weir` binary under test: `$WEIR_BIN`, or the workspace's release
/// build when it is newer than every source it is built from (as after
/// `scripts/setup`, which builds it: `cargo test` builds only test harnesses), or else one this
/// harness builds itself, once, into `target/weir-bin` (a target directory
/// of its own, so it never waits on the lock of the cargo running the tests).
pub fn weir_bin() -> PathBuf {
    use std::sync::OnceLock;
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("WEIR_BIN") {
            return PathBuf::from(p);
        }
        let release = workspace().join("target/release/weir");
        if is_newer_than_sources(&release) {
            return release;
        }
        let target = workspace().join("target/weir-bin");
        eprintln!(
            "weir-tests: {} is missing or older than the sources; building the binary into {}",
            release.display(),
            target.display()
        );
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--locked",
                "-p",
                "weir",
                "--bin",
                "weir",
            ])
            .arg("--target-dir")
            .arg(&target)
            .current_dir(workspace())
            .status()
            .unwrap_or_else(|e| panic!("running cargo: {e}"));
        assert!(status.success(), "building the weir binary failed");
        target.join("release/weir")
    })
    .clone()
}

/// Whether `binary` exists and was written after every source file of the
/// crates it is built from.
fn is_newer_than_sources(binary: &Path) -> bool {
    let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
        return false;
    };
    let mut dirs: Vec<PathBuf> = ["runtime", "stage", "extract", "report", "lineage", "wit"]
        .iter()
        .map(|d| workspace().join(d))
        .collect();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| m > built)
            {
                return false;
            }
        }
    }
    true
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
        self.run_weir(args, None, stdin)
    }

    /// Runs `weir ARGS` here with the environment variables `env` set.
    /// `AWS_*` variables come only from `env`, never from the test's own
    /// environment, so a developer's credentials cannot leak into a test.
    pub fn weir_env(&self, args: &[&str], env: &[(&str, String)]) -> Run {
        self.run_weir(args, Some(env), None)
    }

    /// [`Sandbox::weir_env`] with `stdin` piped in.
    pub fn weir_env_with_stdin(&self, args: &[&str], env: &[(&str, String)], stdin: &[u8]) -> Run {
        self.run_weir(args, Some(env), Some(stdin))
    }

    fn run_weir(&self, args: &[&str], env: Option<&[(&str, String)]>, stdin: Option<&[u8]>) -> Run {
        let mut cmd = Command::new(weir_bin());
        if let Some(env) = env {
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("AWS_") {
                    cmd.env_remove(k);
                }
            }
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
        }
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

/// The s3s-fs version `scripts/setup` installs.
pub const S3S_FS_VERSION: &str = "0.14.1";
/// The access key id every [`S3Server`] accepts.
pub const S3_ACCESS_KEY: &str = "WEIRFAKEACCESSKEY";
/// The secret key every [`S3Server`] accepts: recognisable, so tests can
/// assert it never shows up in output.
pub const S3_SECRET_KEY: &str = "WEIRFAKESECRET0123456789abcdef";
/// The bucket every [`S3Server`] starts with.
pub const S3_BUCKET: &str = "weir-test";

/// The s3s-fs binary: `$WEIR_S3S_FS`, or where `scripts/setup` installs it.
pub fn s3s_fs_bin() -> PathBuf {
    let p = std::env::var_os("WEIR_S3S_FS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .unwrap_or_else(|| panic!("neither XDG_CACHE_HOME nor HOME is set"));
            cache
                .join("weir-tools")
                .join(format!("s3s-fs-{S3S_FS_VERSION}"))
                .join("bin/s3s-fs")
        });
    assert!(
        p.exists(),
        "{} does not exist: run scripts/setup, which installs the s3s-fs S3 server \
         the s3:// tests need (or point $WEIR_S3S_FS at an s3s-fs binary)",
        p.display()
    );
    p
}

/// A real S3 server (s3s-fs) on 127.0.0.1, serving a fresh temporary
/// directory with one bucket, [`S3_BUCKET`]. Objects are plain files under
/// [`S3Server::bucket_dir`], so tests can look at what the store holds.
/// Stopped when dropped.
pub struct S3Server {
    child: std::process::Child,
    endpoint: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server on a free port and waits until it accepts
    /// connections.
    pub fn start() -> Self {
        use std::io::BufRead;
        use std::sync::{Arc, Mutex, mpsc};
        let root = tempfile::Builder::new()
            .prefix("weir-s3-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        // s3s-fs maps buckets to folders of its root (CreateBucket is a mkdir).
        std::fs::create_dir(root.path().join(S3_BUCKET))
            .unwrap_or_else(|e| panic!("creating the bucket folder: {e}"));
        let bin = s3s_fs_bin();
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(root.path())
            // Its address (info) and each request's operation (debug).
            .env("RUST_LOG", "s3s_fs=info,s3s::ops=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        // Port 0: the server picks a free port and logs its address. Both
        // pipes are drained for the server's lifetime so it never blocks.
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap_or_else(|| panic!("stdout"))),
            Box::new(child.stderr.take().unwrap_or_else(|| panic!("stderr"))),
        ];
        for pipe in pipes {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(at) = line.find("server is running at http://") {
                        let addr = line[at..].trim_start_matches("server is running at ");
                        let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
                    }
                    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        drop(tx);
        let endpoint = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "s3s-fs did not report its address ({e}); its output:\n{}",
                    log.lock().unwrap_or_else(|p| p.into_inner())
                );
            }
        };
        let addr = endpoint.trim_start_matches("http://");
        std::net::TcpStream::connect(addr)
            .unwrap_or_else(|e| panic!("s3s-fs says it listens on {addr} but: {e}"));
        Self {
            child,
            endpoint,
            log,
            root,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `s3://BUCKET/prefix`: a stage URL on this server.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{S3_BUCKET}/{prefix}")
    }

    /// The standard AWS variables that point `weir` at this server, and
    /// nothing else configures it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            // Tests may reach only 127.0.0.1: never the metadata address.
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// Runs `weir ARGS` in `sandbox` against this server.
    pub fn weir(&self, sandbox: &Sandbox, args: &[&str]) -> Run {
        sandbox.weir_env(args, &self.env())
    }

    /// Runs `weir ARGS` in `sandbox` against this server, `stdin` piped in.
    pub fn weir_with_stdin(&self, sandbox: &Sandbox, args: &[&str], stdin: &[u8]) -> Run {
        sandbox.weir_env_with_stdin(args, &self.env(), stdin)
    }

    /// The folder holding the bucket's objects, one file per key.
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(S3_BUCKET)
    }

    /// The stored bytes of the object `key` in the bucket.
    pub fn object(&self, key: &str) -> Vec<u8> {
        let p = self.bucket_dir().join(key);
        std::fs::read(&p).unwrap_or_else(|e| panic!("object {key} ({}): {e}", p.display()))
    }

    /// What the server has logged so far (stdout and stderr): its address
    /// and a `resolved route` line naming each request's operation.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    /// Starts `weir ARGS` here without waiting, with `env` set as in
    /// [`Sandbox::weir_env`] (no `AWS_*` variable but those of `env`);
    /// stdout and stderr are piped. For tests that kill it mid-flight.
    pub fn spawn_weir(&self, args: &[&str], env: &[(&str, String)]) -> std::process::Child {
        let mut cmd = Command::new(weir_bin());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .current_dir(self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning weir: {e}"))
    }
}

impl Run {
    /// A finished child started by [`Sandbox::spawn_weir`] (code -1 when a
    /// signal ended it).
    pub fn wait(child: std::process::Child) -> Self {
        Self::from(
            child
                .wait_with_output()
                .unwrap_or_else(|e| panic!("waiting for weir: {e}")),
        )
    }
}

impl S3Server {
    /// Stops the server (SIGKILL), as an outage would: clients get
    /// "connection refused" until [`S3Server::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and root folder (what it
    /// stored survives), and waits until it accepts connections.
    pub fn restart(&mut self) {
        use std::io::BufRead;
        self.stop();
        let port = self
            .endpoint
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let bin = s3s_fs_bin();
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.root.path())
            .env("RUST_LOG", "s3s_fs=info,s3s::ops=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("restarting {}: {e}", bin.display()));
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap_or_else(|| panic!("stdout"))),
            Box::new(child.stderr.take().unwrap_or_else(|| panic!("stderr"))),
        ];
        for pipe in pipes {
            let log = self.log.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        self.child = child;
        let addr = self.endpoint.trim_start_matches("http://").to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "s3s-fs exited on restart ({status}); its output:\n{}",
                    self.log()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "s3s-fs did not listen on {addr} again within 30 s; its output:\n{}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Runs a shipped transform's golden cases through its component with
/// `weir test` (exactly what transform authors run), with the transform's
/// `assets/` for cases that have none of their own, and asserts they all
/// pass.
pub fn assert_golden_cases(module: &Path, crate_dir: &Path) {
    let sb = Sandbox::new();
    let cases = crate_dir.join("cases");
    let assets = crate_dir.join("assets");
    let mut args = vec![
        "test",
        module.to_str().unwrap_or_default(),
        "--cases",
        cases.to_str().unwrap_or_default(),
    ];
    if assets.is_dir() {
        args.extend(["--assets", assets.to_str().unwrap_or_default()]);
    }
    let run = sb.weir(&args).ok();
    let last = run.stdout.lines().last().unwrap_or_default().to_owned();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 "),
        "{}",
        run.stdout
    );
}
