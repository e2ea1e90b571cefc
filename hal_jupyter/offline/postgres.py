"""A real, throwaway PostgreSQL cluster: the stand-in of a shared job store
(tests, benchmarks, trying many servers and workers on one machine).

``PostgresCluster`` runs Debian's server binaries (``initdb``, ``pg_ctl``) on
127.0.0.1 and a free port, in its own temporary directory. PostgreSQL refuses
to run as root: when the tests run as root, the cluster runs as the
``postgres`` OS user (``runuser -u postgres``), else as the current user.

The tests' fixtures over it are in ``tests/postgres.py``.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote


#: the owner of the cluster's files and processes when the tests run as root
OS_USER = "postgres"
SUPERUSER = "postgres"
HOST = "127.0.0.1"


def find_bindir() -> Path:
    """The directory of PostgreSQL's server programs (``initdb``, ``pg_ctl``, ``postgres``)."""
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=30, check=True).stdout
        bindir = Path(out.strip())
        if out.strip() and (bindir / "initdb").is_file() and os.access(bindir / "initdb", os.X_OK):
            return bindir
    except (OSError, subprocess.SubprocessError):
        pass
    # Debian's layout: /usr/lib/postgresql/<major>/bin (pg_config may come from a
    # libpq-dev of another major version, without the server).
    candidates = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        if os.access(initdb, os.X_OK):
            version = tuple(int(n) for n in re.findall(r"\d+", initdb.parent.parent.name))
            candidates.append((version, initdb.parent))
    if candidates:
        return max(candidates)[1]
    raise RuntimeError(
        "no PostgreSQL server programs (initdb) found: neither `pg_config --bindir` nor "
        "/usr/lib/postgresql/*/bin has initdb; install Debian's postgresql package "
        "(apt-get install postgresql)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _proc_state(pid: int) -> str | None:
    """The state letter of a process (``Z`` for a zombie), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


class PostgresCluster:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1 and a free port.

    Layout of ``root``: ``data/`` (the cluster), ``sock/`` (its Unix socket,
    unused by clients: they all connect over TCP), ``postgres.log``.
    """

    def __init__(self, root: Path | None = None, synchronous_commit: str = "on") -> None:
        # synchronous_commit stays on: with fsync=off a commit costs one write() and no
        # fsync, as fast as "off" (measured), and kill() then loses no committed
        # transaction. With "off", commits of the last ~0.6 s die with the server's memory.
        self.synchronous_commit = synchronous_commit
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                owner = pwd.getpwnam(OS_USER)
            except KeyError:
                raise RuntimeError(
                    f"running as root, but there is no {OS_USER!r} OS user to run PostgreSQL as; "
                    "install Debian's postgresql package"
                ) from None
            self.uid, self.gid = owner.pw_uid, owner.pw_gid
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()
        self.own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="hal-pg-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.socket_dir.mkdir(exist_ok=True)
        self.log_path = self.root / "postgres.log"
        for path in (self.root, self.socket_dir):
            os.chown(path, self.uid, self.gid)
            path.chmod(0o700)
        if self.as_root and not self.own_root:
            check = subprocess.run(self._as_owner(["test", "-w", str(self.root), "-a", "-x", str(self.root)]),
                                   capture_output=True, timeout=30)
            if check.returncode != 0:
                raise RuntimeError(f"the {OS_USER!r} OS user cannot write to {self.root}: "
                                   "every directory above it must be searchable by others")
        self.port = free_port()
        self.password = secrets.token_hex(16)  # the superuser's
        self.started = False  # ever: the port is then fixed for good

    # -- running the server ------------------------------------------------

    def _as_owner(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", OS_USER, "--", *args] if self.as_root else args

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        # Without the caller's PG* variables (PGDATA, PGPORT...), in a directory
        # the postgres user can enter.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        return subprocess.run(self._as_owner(args), capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=self.root, stdin=subprocess.DEVNULL)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, self.uid, self.gid)
        pwfile.chmod(0o600)
        try:
            result = self._run([
                str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                f"--pwfile={pwfile}", "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
            ], timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")

    def _cluster_pids(self) -> list[int]:
        """Every live (not zombie) process of this cluster: those working in its data directory."""
        pids = []
        data_dir = str(self.data_dir)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "cwd") == data_dir:
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids

    def is_running(self) -> bool:
        return bool(self._cluster_pids())

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._cluster_pids():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _remove_stale_lock_files(self) -> None:
        # After a crash (kill()) the lock files name a dead postmaster, or a zombie
        # one that nobody reaps yet, which PostgreSQL would take as still running.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        for lock in self.socket_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)

    def start(self, timeout: float = 60.0) -> PostgresCluster:
        """Start (initdb the first time); a no-op when it runs already."""
        if self.is_running():
            return self
        self._initdb()
        self._remove_stale_lock_files()
        for attempt in range(3):
            options = " ".join([
                f"-p {self.port}", f"-k {shlex.quote(str(self.socket_dir))}", "-c listen_addresses=127.0.0.1",
                "-c fsync=off", f"-c synchronous_commit={self.synchronous_commit}", "-c full_page_writes=off",
                "-c max_connections=200",
            ])
            args = [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                    "-w", "-t", str(int(timeout)), "start", "-o", options]
            try:
                result = self._run(args, timeout=timeout + 30)
                failed = result.returncode != 0
                output = f"{result.stdout[-1000:]}\n{result.stderr[-1000:]}"
            except subprocess.TimeoutExpired:
                failed, output = True, f"pg_ctl start did not return in {timeout + 30} s"
            if not failed:
                self.started = True
                return self
            log = self.log_tail()
            self._stop_processes()
            # Another process took the port before the very first start: try another one.
            if not self.started and "could not bind" in log and attempt < 2:
                self.port = free_port()
                continue
            raise RuntimeError(f"PostgreSQL did not start on port {self.port}: {output.strip()}\n"
                               f"--- tail of {self.log_path} ---\n{log}")
        raise AssertionError("unreachable")

    def stop(self, mode: str = "fast", timeout: float = 60.0) -> None:
        """Stop (``mode``: smart, fast or immediate); a no-op when it does not run."""
        if not self.is_running():
            return
        try:
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w",
                       "-t", str(int(timeout)), "stop"], timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            pass
        if not self._wait_gone(10):
            self._stop_processes()

    def restart(self, mode: str = "fast") -> PostgresCluster:
        """Stop, then start on the same port and data directory (clients can reconnect)."""
        self.stop(mode)
        return self.start()

    def _stop_processes(self) -> None:
        """SIGKILL every process of this cluster (the postmaster first), and wait for them to be gone."""
        deadline = time.monotonic() + 30
        pid_file = self.data_dir / "postmaster.pid"
        try:
            postmaster = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            postmaster = None
        pids = self._cluster_pids()
        if postmaster in pids:  # first, so that it does not start new children
            os.kill(postmaster, signal.SIGKILL)
        while pids:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL processes {pids} survived SIGKILL for 30 s")
            time.sleep(0.05)
            pids = self._cluster_pids()

    def kill(self) -> None:
        """Crash: SIGKILL the postmaster (pid from postmaster.pid) and its children; ``start()`` recovers.

        Committed transactions survive (WAL, with synchronous_commit on), the others are lost.
        """
        self._stop_processes()

    def cleanup(self) -> None:
        """Stop, and remove the directory (when this cluster made it)."""
        try:
            self.stop()
        finally:
            if self.is_running():
                self._stop_processes()
            if self.own_root:
                shutil.rmtree(self.root, ignore_errors=True)

    # -- clients -----------------------------------------------------------

    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """The SQLAlchemy URL (``postgresql+psycopg://``); the superuser's password for ``postgres``."""
        if password is None and user == SUPERUSER:
            password = self.password
        auth = quote(user, safe="") + ("" if password is None else ":" + quote(password, safe=""))
        return f"postgresql+psycopg://{auth}@{HOST}:{self.port}/{quote(dbname, safe='')}"

    def superuser_url(self, dbname: str = "postgres") -> str:
        return self.url(dbname)

    def connect(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None,
                **kwargs: Any) -> Any:
        """A psycopg connection over TCP (autocommit unless told otherwise)."""
        import psycopg

        if password is None and user == SUPERUSER:
            password = self.password
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(host=HOST, port=self.port, dbname=dbname, user=user, password=password, **kwargs)

    def execute(self, sql: Any, dbname: str = "postgres", params: Any = None) -> list[tuple[Any, ...]] | None:
        """Run SQL as the superuser (autocommit); the rows, if it returns any."""
        with self.connect(dbname) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description is not None else None

    def create_database(self, name: str) -> str:
        """A new database owned by the superuser; its SQLAlchemy URL."""
        from psycopg import sql

        self.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
            sql.Identifier(name), sql.Identifier(SUPERUSER)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def create_role(self, name: str, password: str) -> None:
        """A role that can log in with ``password`` (not a superuser)."""
        from psycopg import sql

        self.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(password)))
