"""A real PostgreSQL for the Python tests that extract from it: a primary and
a hot standby streaming from it (`pg_basebackup -R`), in a temporary
directory, on free 127.0.0.1 ports, run as the unprivileged `postgres` user
when the tests run as root (initdb refuses root). The Python twin of
tests/src/pg.rs, which the Rust tests use: the same settings, the same
password (recognisable, so tests can assert it never shows up), `psql` for
the SQL. Binaries from `$WEIR_PG_BIN` or /usr/lib/postgresql/15/bin
(scripts/setup installs the Debian package).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: The superuser's password on test clusters.
PASSWORD = "weir-test-secret"

BIN = Path(os.environ.get("WEIR_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(*argv: str | Path) -> list[str]:
    argv = [str(a) for a in argv]
    return ["runuser", "-u", "postgres", "--", *argv] if os.getuid() == 0 else argv


def _run(*argv: str | Path) -> None:
    proc = subprocess.run(
        _as_postgres(*argv), env={**os.environ, "PGPASSWORD": PASSWORD}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, f"{argv} failed: {proc.stdout}{proc.stderr}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A primary and its hot standby; `stop()` stops both and removes the directory."""

    def __init__(self) -> None:
        if not (BIN / "initdb").exists():
            raise FileNotFoundError(f"no PostgreSQL binaries in {BIN}: scripts/setup installs them, or set WEIR_PG_BIN")
        self.dir = Path(tempfile.mkdtemp(prefix="weir-pg-"))
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD)
        primary, standby = self.dir / "primary", self.dir / "standby"
        self.primary_port = _free_port()
        self.standby_port = _free_port()
        while self.standby_port == self.primary_port:
            self.standby_port = _free_port()
        try:
            _run(BIN / "initdb", "-D", primary, "-U", "postgres", "--no-sync", "--auth-local=trust",
                 "--auth-host=scram-sha-256", "--pwfile", pwfile, "-E", "UTF8", "--locale=C")
            with open(primary / "postgresql.conf", "a") as conf:
                conf.write(
                    f"listen_addresses = '127.0.0.1'\nport = {self.primary_port}\n"
                    f"unix_socket_directories = '{self.dir}'\nwal_level = replica\nmax_wal_senders = 4\n"
                    "fsync = off\nfull_page_writes = off\nautovacuum = off\nhot_standby = on\n"
                    "max_standby_streaming_delay = 0\nhot_standby_feedback = off\nshared_buffers = 16MB\n"
                )
            _run(BIN / "pg_ctl", "-D", primary, "-l", self.dir / "primary.log", "-w", "start")
            _run(BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                 "-D", standby, "-R", "-X", "stream", "--no-sync")
            with open(standby / "postgresql.conf", "a") as conf:
                conf.write(f"port = {self.standby_port}\n")
            _run(BIN / "pg_ctl", "-D", standby, "-l", self.dir / "standby.log", "-w", "start")
        except BaseException:
            self.stop()
            raise

    def standby_url_without_password(self) -> str:
        """A URL for the standby without the password (give it by `PGPASSWORD`)."""
        return f"postgres://postgres@127.0.0.1:{self.standby_port}/postgres"

    def psql(self, port: int, sql: str) -> str:
        """Runs `sql` (several statements allowed, in one transaction) and
        returns what it prints, unaligned, without headers."""
        proc = subprocess.run(
            [str(BIN / "psql"), "-X", "-q", "-A", "-t", "-1", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres", "-f", "-"],
            input=sql, env={**os.environ, "PGPASSWORD": PASSWORD}, capture_output=True, text=True, check=False,
        )
        assert proc.returncode == 0, f"psql on port {port}: {sql}\n{proc.stderr}"
        return proc.stdout.rstrip("\n")

    def primary_exec(self, sql: str) -> None:
        """Runs SQL on the primary, then waits until the standby has replayed it."""
        self.psql(self.primary_port, sql)
        lsn = self.psql(self.primary_port, "SELECT pg_current_wal_insert_lsn()")
        deadline = time.monotonic() + 60
        while self.psql(self.standby_port, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") != "t":
            assert time.monotonic() < deadline, f"the standby did not replay {lsn}; see {self.dir}"
            time.sleep(0.05)

    def stop(self) -> None:
        for server in ("standby", "primary"):
            if (self.dir / server / "postmaster.pid").exists():
                subprocess.run(
                    _as_postgres(BIN / "pg_ctl", "-D", self.dir / server, "-m", "immediate", "stop"),
                    capture_output=True, check=False,
                )
        shutil.rmtree(self.dir, ignore_errors=True)
