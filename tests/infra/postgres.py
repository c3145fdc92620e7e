"""A throwaway PostgreSQL cluster on 127.0.0.1 for the storage tests, from Debian's server binaries.

initdb into a temporary folder, pg_ctl start on a free port (unix socket inside that folder, TCP on
loopback only, password auth over TCP), and on stop the cluster and its folder are removed. PostgreSQL
refuses to run as root, so as root the server runs as the `postgres` OS user the package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from .service import free_port

SUPERUSER = "cds_test"
SERVER_USER = "postgres"


def server_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb (where Debian puts the server)."""
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not candidates:
        on_path = shutil.which("initdb")
        if on_path:
            return Path(on_path).parent
        raise RuntimeError("PostgreSQL server binaries not found; run `bash tests/infra/install.sh` (as root)")
    newest = max(candidates, key=lambda path: int(Path(path).parts[-3].split(".")[0]))
    return Path(newest).parent


@dataclass
class PostgresCluster:
    root: Path
    bin_dir: Path
    port: int
    password: str
    run_as: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_schema(self, name: str | None = None) -> str:
        """A new empty schema; returns a URL whose connections use it (tests never see each other's tables).

        A schema per test rather than a database: CREATE DATABASE copies the template through the WAL
        (several MB each), a schema costs a catalog row.
        """
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url()}?options={quote(f'-csearch_path={name}', safe='')}"

    def _command(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else list(argv)

    def stop(self) -> None:
        subprocess.run(
            self._command(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                          "-w", "stop"),
            capture_output=True, check=False, timeout=30,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        log = self.root / "server.log"
        return log.read_text(errors="replace") if log.exists() else ""


def start(timeout_s: int = 60) -> PostgresCluster:
    bin_dir = server_bin_dir()
    run_as = SERVER_USER if os.geteuid() == 0 else None
    # As root, TMPDIR may sit under /root, which the postgres user cannot enter; /tmp it can.
    root = Path(tempfile.mkdtemp(prefix="cds-pg-", dir="/tmp" if run_as else None))
    password = secrets.token_urlsafe(18)
    cluster = PostgresCluster(root, bin_dir, free_port(), password, run_as)
    try:
        (root / "pwfile").write_text(password + "\n")
        if run_as:
            account = pwd.getpwnam(run_as)
            for path in (root, root / "pwfile"):
                os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(root / "pwfile", 0o600)
        subprocess.run(
            cluster._command(
                str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER, f"--pwfile={root / 'pwfile'}",
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
            ),
            capture_output=True, check=True, timeout=timeout_s,
        )
        options = f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        subprocess.run(
            cluster._command(
                str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"), "-o", options,
                "-w", "-t", str(timeout_s), "start",
            ),
            capture_output=True, check=True, timeout=timeout_s + 10,
        )
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace")[-2000:] + cluster.log_text()[-2000:]
        cluster.stop()
        raise RuntimeError(f"could not start PostgreSQL ({exc.cmd[-1]}):\n{detail}") from None
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextmanager
def running() -> Iterator[PostgresCluster]:
    cluster = start()
    try:
        yield cluster
    finally:
        cluster.stop()
