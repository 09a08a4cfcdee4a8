"""Throwaway X.509 material for TLS tests, made with the openssl command line: a CA and server
certificates it signs, valid for 127.0.0.1 and localhost; and a PostgreSQL cluster that serves
TLS with one of them."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from pgharness import UNPRIVILEGED_USER, PostgresCluster


class ServerCert(NamedTuple):
    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str = "ca") -> Path:
    """A self-signed CA certificate `name`.crt with its key `name`.key in `directory`."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", f"/CN=pgmask test {name}", "-keyout", f"{name}.key",
             "-out", f"{name}.crt", cwd=directory)
    return directory / f"{name}.crt"


def make_server_cert(directory: Path, ca_name: str, name: str) -> ServerCert:
    """A server certificate for 127.0.0.1 and localhost, signed by the CA `ca_name`."""
    (directory / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca_name}.crt", "-CAkey", f"{ca_name}.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt",
             cwd=directory)
    os.chmod(directory / f"{name}.key", 0o600)
    return ServerCert(directory / f"{name}.crt", directory / f"{name}.key")


def start_tls_cluster(certs: Path, hba_host_rules: list[str], name: str = "server") -> PostgresCluster:
    """A started cluster with ssl = on, presenting `name`.crt from `certs`. The caller destroys it."""
    cluster = PostgresCluster(hba_host_rules)
    try:
        tls_dir = cluster.dir / "tls"
        tls_dir.mkdir()
        for suffix in ("crt", "key"):
            shutil.copy(certs / f"{name}.{suffix}", tls_dir / f"server.{suffix}")
        if os.geteuid() == 0:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            for path in (tls_dir, tls_dir / "server.crt", tls_dir / "server.key"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(tls_dir / "server.key", 0o600)
        cluster._settings.update({"ssl": "on", "ssl_cert_file": f"'{tls_dir / 'server.crt'}'",
                                  "ssl_key_file": f"'{tls_dir / 'server.key'}'"})
        cluster.init()
        cluster.start()
    except BaseException:
        cluster.destroy()
        raise
    return cluster
