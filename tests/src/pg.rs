//! A real PostgreSQL for the tests that extract from it (extract/tests and
//! the end-to-end tests): a primary and a hot standby streaming from it
//! (`pg_basebackup -R`), in a temporary directory, run as the unprivileged
//! `postgres` user when the tests run as root (initdb refuses root).
//! Binaries from `$WEIR_PG_BIN` or /usr/lib/postgresql/15/bin
//! (scripts/setup installs the Debian package).
//!
//! Synchronous, and built on the PostgreSQL binaries alone (`psql` runs
//! the SQL), so this crate pulls no database driver or async runtime into
//! the builds of the tests that use it.
//!
//! Cleanup: every cluster has a watchdog shell holding the read end of a
//! pipe; dropping the cluster, or the test process ending in any way
//! (panic, SIGKILL), closes the pipe and the watchdog stops both servers
//! and removes the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The superuser's password on test clusters: recognisable, so tests can
/// assert it never shows up in output, logs or manifests.
pub const PASSWORD: &str = "weir-test-secret";

/// A primary and its hot standby on free 127.0.0.1 ports.
pub struct Cluster {
    /// The primary's port.
    pub primary_port: u16,
    /// The standby's port.
    pub standby_port: u16,
    dir: PathBuf,
    watchdog: Option<(Child, ChildStdin)>,
    _temp: tempfile::TempDir,
}

/// A PostgreSQL binary: `$WEIR_PG_BIN/NAME` or /usr/lib/postgresql/15/bin/NAME.
pub fn bin(name: &str) -> PathBuf {
    std::env::var_os("WEIR_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
        .join(name)
}

fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0\n"))
            .unwrap_or(false)
    })
}

/// Runs a command as the postgres user when we are root; panics with its stderr on failure.
fn run_as_postgres(program: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .env("PGPASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (is PostgreSQL installed? scripts/setup)",
                program.display()
            )
        });
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A path as a `&str` argument (test paths are UTF-8).
fn s(p: &Path) -> String {
    p.to_str().unwrap_or_default().to_owned()
}

impl Cluster {
    /// Starts a primary (password auth over TCP) and a hot standby with
    /// `max_standby_streaming_delay = 0`, so recovery conflicts cancel
    /// standby queries at once.
    pub fn start() -> Cluster {
        Cluster::start_with(false)
    }

    /// [`Cluster::start`] with `ssl = on` and TCP connections without TLS
    /// refused (`hostnossl ... reject`). The server's certificate is for
    /// `localhost` (not `127.0.0.1`), signed by a CA that `openssl` makes
    /// here ([`Cluster::ca_cert`]); [`Cluster::other_ca_cert`] is a CA
    /// that signed nothing.
    pub fn start_tls() -> Cluster {
        Cluster::start_with(true)
    }

    /// The CA certificate (PEM) that signed a TLS cluster's certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("tls/ca.crt")
    }

    /// A CA certificate (PEM) that signed nothing of the cluster's.
    pub fn other_ca_cert(&self) -> PathBuf {
        self.dir.join("tls/other-ca.crt")
    }

    fn start_with(tls: bool) -> Cluster {
        let temp = tempfile::Builder::new()
            .prefix("weir-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let dir = temp.path().to_path_buf();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status();
            assert!(ok.is_ok_and(|s| s.success()), "chown {}", dir.display());
        }
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap_or_else(|e| panic!("{e}"));
        let (primary, standby) = (dir.join("primary"), dir.join("standby"));
        let (primary_port, standby_port) = (free_port(), free_port());
        run_as_postgres(
            &bin("initdb"),
            &[
                "-D",
                &s(&primary),
                "-U",
                "postgres",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                &s(&pwfile),
                "-E",
                "UTF8",
                "--locale=C",
            ],
        );
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {primary_port}\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 4\nfsync = off\nfull_page_writes = off\n\
             autovacuum = off\nhot_standby = on\nmax_standby_streaming_delay = 0\nhot_standby_feedback = off\nshared_buffers = 16MB\n",
            dir.display()
        );
        append(&primary.join("postgresql.conf"), &conf);
        if tls {
            make_certificates(&dir.join("tls"));
            let tls_dir = dir.join("tls");
            append(
                &primary.join("postgresql.conf"),
                &format!(
                    "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                    s(&tls_dir.join("server.crt")),
                    s(&tls_dir.join("server.key"))
                ),
            );
            // TLS or nothing over TCP, for queries and replication alike;
            // the first matching line wins.
            let hba = primary.join("pg_hba.conf");
            let old = std::fs::read_to_string(&hba).unwrap_or_else(|e| panic!("{e}"));
            let rules = "hostnossl all all 0.0.0.0/0 reject\nhostnossl replication all 0.0.0.0/0 reject\n\
                         hostssl all all 127.0.0.1/32 scram-sha-256\nhostssl replication all 127.0.0.1/32 scram-sha-256\n";
            std::fs::write(&hba, format!("{rules}{old}")).unwrap_or_else(|e| panic!("{e}"));
        }
        run_as_postgres(
            &bin("pg_ctl"),
            &[
                "-D",
                &s(&primary),
                "-l",
                &s(&dir.join("primary.log")),
                "-w",
                "start",
            ],
        );
        run_as_postgres(
            &bin("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port.to_string(),
                "-U",
                "postgres",
                "-D",
                &s(&standby),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        append(
            &standby.join("postgresql.conf"),
            &format!("port = {standby_port}\n"),
        );
        run_as_postgres(
            &bin("pg_ctl"),
            &[
                "-D",
                &s(&standby),
                "-l",
                &s(&dir.join("standby.log")),
                "-w",
                "start",
            ],
        );

        let script = format!(
            "read _ ; for d in {st} {pr}; do {ctl} -D $d -m immediate stop >/dev/null 2>&1; done; rm -rf {dir}",
            dir = s(&dir),
            st = s(&standby),
            pr = s(&primary),
            ctl = s(&bin("pg_ctl")),
        );
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("watchdog: {e}"));
        let stdin = child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("watchdog stdin"));
        Cluster {
            primary_port,
            standby_port,
            dir,
            watchdog: Some((child, stdin)),
            _temp: temp,
        }
    }

    /// The shared cluster of this test binary, started on first use.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(Cluster::start)
    }

    /// A URL for the standby, with the password in it.
    pub fn standby_url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
            self.standby_port
        )
    }

    /// A URL for the standby without the password (give it by
    /// `PGPASSWORD` or `PGPASSFILE`).
    pub fn standby_url_without_password(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.standby_port
        )
    }

    /// Runs `sql` with `psql` on the server at `port` (given on stdin, so
    /// it may be of any size; several statements allowed, in one
    /// transaction) and returns what it prints, unaligned and without
    /// headers; panics with psql's message when the SQL fails.
    pub fn psql(&self, port: u16, sql: &str) -> String {
        use std::io::Write as _;
        let mut child = Command::new(bin("psql"))
            .args(["-X", "-q", "-A", "-t", "-1", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-f", "-"])
            .env("PGPASSWORD", PASSWORD)
            .env_remove("PGPASSFILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{}: {e} (scripts/setup installs it)", bin("psql").display())
            });
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("psql stdin"));
        let script = sql.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for psql: {e}"));
        let _ = writer.join();
        assert!(
            out.status.success(),
            "psql on port {port}: {sql}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// Runs SQL on the primary (several statements allowed), then waits
    /// until the standby has replayed it.
    pub fn primary_exec(&self, sql: &str) {
        self.psql(self.primary_port, sql);
        self.wait_for_standby();
    }

    /// Waits until the standby has replayed everything the primary has
    /// written so far.
    pub fn wait_for_standby(&self) {
        let lsn = self.psql(self.primary_port, "SELECT pg_current_wal_insert_lsn()");
        let deadline = Instant::now() + Duration::from_secs(60);
        let check = format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn");
        while self.psql(self.standby_port, &check) != "t" {
            assert!(
                Instant::now() < deadline,
                "standby did not replay {lsn}; see {}",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the standby now (`-m immediate`).
    pub fn stop_standby(&self) {
        let s = self.dir.join("standby");
        run_as_postgres(
            &bin("pg_ctl"),
            &[
                "-D",
                s.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}

/// A CA, a server certificate for `localhost` signed by it (and its key,
/// mode 0600 as PostgreSQL wants), and a second CA, in `dir`, made by
/// `openssl` as the postgres user. EC keys: quick to make.
fn make_certificates(dir: &Path) {
    run_as_postgres(Path::new("mkdir"), &["-p", &s(dir)]);
    let at = |name: &str| s(&dir.join(name));
    for ca in ["ca", "other-ca"] {
        run_as_postgres(
            Path::new("openssl"),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "3",
                "-subj",
                &format!("/CN=Weir test {ca}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                &at(&format!("{ca}.key")),
                "-out",
                &at(&format!("{ca}.crt")),
            ],
        );
    }
    run_as_postgres(
        Path::new("openssl"),
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &at("server.key"),
            "-out",
            &at("server.csr"),
        ],
    );
    run_as_postgres(
        Path::new("sh"),
        &[
            "-c",
            &format!(
                "printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' > {ext}",
                ext = at("server.ext")
            ),
        ],
    );
    run_as_postgres(
        Path::new("openssl"),
        &[
            "x509",
            "-req",
            "-in",
            &at("server.csr"),
            "-CA",
            &at("ca.crt"),
            "-CAkey",
            &at("ca.key"),
            "-CAcreateserial",
            "-days",
            "3",
            "-extfile",
            &at("server.ext"),
            "-out",
            &at("server.crt"),
        ],
    );
    run_as_postgres(Path::new("chmod"), &["600", &at("server.key")]);
}

fn append(path: &Path, text: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}
