"""Run a real nginx in a temporary directory for TLS tests and benchmarks.

The server is Debian's stock ``nginx`` binary (found on ``PATH`` or at ``/usr/sbin/nginx``) with a
configuration this module writes: its own prefix, pid file, error log and temp paths under the
given directory, ``worker_processes 1``, and nothing read from ``/etc/nginx``. It runs in the
foreground (``daemon off``) as a child of the test process, in its own process group, so that
:meth:`Nginx.stop` can always take it down together with its worker.

Example::

    with Nginx(tmp_path) as server:
        port = server.add_site("good", cert=leaf)             # leaf: mamori.demo.pki.IssuedCert
        server.add_site("other", cert=other, port=port)      # second SNI name on the same port
        server.start()
        ...
        server.replace_cert("good", renewed)
        server.reload()                                      # returns once the new config serves

Sites are added before :meth:`start` (or followed by :meth:`reload`). No pytest in here.

TLS settings that OpenSSL negotiates before SNI is seen (protocol versions, cipher list) come from
the *first* site added on a port (nginx's default server for it): give a site with unusual
``protocols``/``ciphers`` its own port.

The process gets ``OPENSSL_CONF`` pointing at a permissive OpenSSL configuration
(``@SECLEVEL=0``) so that deliberately weak test certificates (RSA 1024, SHA-1) load; Debian's
default level 2 would make nginx refuse them at start-up.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DEFAULT_BINARY = "/usr/sbin/nginx"


class NginxError(RuntimeError):
    """nginx could not be found, configured, started or reloaded."""


class _CertLike(Protocol):
    """What :meth:`Nginx.add_site` needs from a certificate (``pki.IssuedCert`` fits)."""

    cert_pem: str
    key_pem: str
    chain_pem: str


@dataclass
class _Site:
    name: str
    port: int
    server_names: list[str]
    protocols: str
    ciphers: str | None
    send_chain: bool
    ipv6: bool
    cert_file: Path
    key_file: Path


@dataclass
class _Listener:
    port: int
    ipv6: bool
    sites: list[str] = field(default_factory=list)


def find_nginx() -> str | None:
    """Path of the nginx binary, or None when it is not installed."""
    found = shutil.which("nginx")
    if found:
        return found
    if os.access(DEFAULT_BINARY, os.X_OK):
        return DEFAULT_BINARY
    return None


def free_port(host: str = "127.0.0.1", *, also_ipv6: bool = False) -> int:
    """A TCP port that is free on ``host`` (and on ``::1`` when ``also_ipv6``) right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if not also_ipv6:
            return port
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                s6.bind(("::1", port))
        except OSError:
            continue
        return port
    raise NginxError("no free TCP port found")


def ipv6_loopback_available() -> bool:
    """Whether ``::1`` can be bound here (some containers have no IPv6 at all)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


_OPENSSL_CNF = """\
# Written by tests/support/nginx.py: allow weak test certificates and TLS 1.0/1.1.
openssl_conf = openssl_init

[openssl_init]
ssl_conf = ssl_section

[ssl_section]
system_default = system_default_section

[system_default_section]
CipherString = DEFAULT:@SECLEVEL=0
MinProtocol = TLSv1
"""


class Nginx:
    """A private nginx instance rooted in ``directory`` (created if missing)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        binary: str | None = None,
        host: str = "127.0.0.1",
        worker_connections: int = 4096,
    ) -> None:
        self.prefix = Path(directory).resolve()
        self.binary = binary or find_nginx()
        self.host = host
        self.worker_connections = worker_connections
        self._sites: dict[str, _Site] = {}
        self._listeners: dict[int, _Listener] = {}
        self._http: dict[str, tuple[int, Path]] = {}
        self._process: subprocess.Popen[bytes] | None = None
        for sub in ("conf", "certs", "logs", "tmp", "http"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        (self.prefix / "conf" / "openssl.cnf").write_text(_OPENSSL_CNF)

    # -- configuration --------------------------------------------------------------------------

    def add_site(
        self,
        name: str,
        *,
        cert: _CertLike | tuple[str, str] | tuple[str, str, str],
        port: int | None = None,
        server_names: list[str] | None = None,
        protocols: str = "TLSv1.2 TLSv1.3",
        ciphers: str | None = None,
        send_chain: bool = True,
        ipv6: bool = False,
    ) -> int:
        """Serve ``cert`` over TLS for ``server_names`` and return the port on ``self.host``.

        ``cert`` is an ``IssuedCert`` or ``(cert_pem, key_pem[, chain_pem])``. ``server_names``
        defaults to the DNS names in the certificate. ``port=None`` picks a free port; passing
        the port of an earlier site adds an SNI virtual host on it. ``send_chain=False`` serves
        the leaf alone (the classic "incomplete chain" mistake). ``ipv6=True`` also listens on
        ``[::1]`` with the same port (must be the same for every site on that port).
        """
        if name in self._sites:
            raise NginxError(f"site {name!r} already exists")
        cert_pem, key_pem, chain_pem = _pems(cert)
        if port is None:
            port = free_port(self.host, also_ipv6=ipv6)
        listener = self._listeners.get(port)
        if listener is None:
            listener = self._listeners[port] = _Listener(port=port, ipv6=ipv6)
        elif listener.ipv6 != ipv6:
            raise NginxError(f"port {port} is already configured with ipv6={listener.ipv6}")
        names = server_names if server_names is not None else _dns_names(cert_pem)
        site = _Site(
            name=name,
            port=port,
            server_names=names,
            protocols=protocols,
            ciphers=ciphers,
            send_chain=send_chain,
            ipv6=ipv6,
            cert_file=self.prefix / "certs" / f"{_file_name(name)}.crt",
            key_file=self.prefix / "certs" / f"{_file_name(name)}.key",
        )
        self._write_cert(site, cert_pem, key_pem, chain_pem)
        self._sites[name] = site
        listener.sites.append(name)
        return port

    def add_files(self, name: str, files: dict[str, bytes], *, port: int | None = None) -> int:
        """Serve ``files`` (path → content) over plain HTTP and return the port.

        Used for AIA caIssuers and CRL URLs: ``http://127.0.0.1:<port>/<path>``.
        """
        root = self.prefix / "http" / name
        for rel, content in files.items():
            target = root / rel.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if name not in self._http:
            self._http[name] = (port or free_port(self.host), root)
        return self._http[name][0]

    def replace_cert(
        self, name: str, cert: _CertLike | tuple[str, str] | tuple[str, str, str]
    ) -> None:
        """Swap the certificate files of site ``name``; call :meth:`reload` to make it live."""
        site = self._sites[name]
        self._write_cert(site, *_pems(cert))

    def port_of(self, name: str) -> int:
        return self._sites[name].port

    def config_text(self) -> str:
        """The complete nginx.conf for the current sites."""
        p = self.prefix
        lines = [
            "daemon off;",
            "master_process on;",
            "worker_processes 1;",
            *self._user_directive(),
            f"pid {p / 'nginx.pid'};",
            f"error_log {p / 'logs' / 'error.log'} warn;",
            "worker_rlimit_nofile 16384;",
            f"events {{ worker_connections {self.worker_connections}; }}",
            "http {",
            "    access_log off;",
            "    default_type application/octet-stream;",
            # Thousands of SNI names need bigger server-name hash tables than the defaults.
            "    server_names_hash_bucket_size 256;",
            "    server_names_hash_max_size 262144;",
            f"    client_body_temp_path {p / 'tmp' / 'body'};",
            f"    proxy_temp_path {p / 'tmp' / 'proxy'};",
            f"    fastcgi_temp_path {p / 'tmp' / 'fastcgi'};",
            f"    uwsgi_temp_path {p / 'tmp' / 'uwsgi'};",
            f"    scgi_temp_path {p / 'tmp' / 'scgi'};",
        ]
        for listener in self._listeners.values():
            for index, site_name in enumerate(listener.sites):
                lines.extend(self._server_block(self._sites[site_name], default=index == 0))
        for http_name, (port, root) in self._http.items():
            lines.extend(
                [
                    f"    server {{  # files: {http_name}",
                    f"        listen {self.host}:{port};",
                    f"        root {root};",
                    "    }",
                ]
            )
        lines.append("}")
        return "\n".join(lines) + "\n"

    # -- process control ------------------------------------------------------------------------

    @property
    def conf_path(self) -> Path:
        return self.prefix / "conf" / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    @property
    def pid(self) -> int | None:
        """PID of the nginx master process while it runs."""
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Write the config, start nginx and return when every port accepts connections."""
        if self.binary is None:
            raise NginxError(f"nginx not found on PATH or at {DEFAULT_BINARY}")
        if self.running:
            raise NginxError("nginx is already running")
        self._write_config()
        self._check_config()
        # stderr goes to a file, not a pipe: nobody reads a pipe while tests run, and a full
        # pipe would block nginx.
        with open(self.prefix / "logs" / "stderr.log", "ab") as stderr:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=self._env(),
                start_new_session=True,  # own process group: stop() can kill master and workers
                preexec_fn=_terminate_with_parent,
            )
        deadline = time.monotonic() + timeout
        try:
            for port in self._all_ports():
                self._wait_for_port(port, deadline)
            self._wait_for_workers(set(), deadline)
        except BaseException:
            self.stop()
            raise

    def reload(self, timeout: float = 15.0) -> None:
        """Apply the current sites with SIGHUP; return once only new-config workers run.

        nginx starts new workers on the new configuration and retires the old ones gracefully;
        waiting until no old worker is left guarantees that every later connection sees the
        new configuration. An invalid configuration raises :class:`NginxError` (checked with
        ``nginx -t`` first, so the running server keeps its old configuration).
        """
        if not self.running:
            raise NginxError("nginx is not running")
        assert self._process is not None
        self._write_config()
        self._check_config()
        old_workers = self._workers()
        os.kill(self._process.pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        self._wait_for_workers(old_workers, deadline)
        for port in self._all_ports():
            self._wait_for_port(port, deadline)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop nginx (fast shutdown, then SIGKILL of its process group); safe to call twice."""
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout)
        # Workers are in the master's process group (start_new_session above); make sure none
        # outlives the test even if the master died abnormally.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort if a test forgot stop()
        with contextlib.suppress(Exception):
            self.stop(timeout=2)

    # -- internals ------------------------------------------------------------------------------

    def _server_block(self, site: _Site, *, default: bool) -> list[str]:
        suffix = " default_server" if default else ""
        names = " ".join(site.server_names) if site.server_names else '""'
        block = [
            f"    server {{  # site: {site.name}",
            f"        listen {self.host}:{site.port} ssl{suffix};",
        ]
        if site.ipv6:
            block.append(f"        listen [::1]:{site.port} ssl{suffix};")
        block += [
            f"        server_name {names};",
            f"        ssl_certificate {site.cert_file};",
            f"        ssl_certificate_key {site.key_file};",
            f"        ssl_protocols {site.protocols};",
        ]
        if site.ciphers:
            block.append(f"        ssl_ciphers {site.ciphers};")
        block += [
            f'        location / {{ return 200 "{site.name}\\n"; }}',
            "    }",
        ]
        return block

    def _user_directive(self) -> list[str]:
        # Started as root, nginx would run its worker as "nobody", which cannot read files
        # below pytest's private (0700) temp directories. Keep the worker as the owner of the
        # prefix instead; as an ordinary user, nginx cannot switch users anyway.
        if os.geteuid() != 0:
            return []
        return [f"user {_user_name(self.prefix.stat().st_uid)};"]

    def _write_cert(self, site: _Site, cert_pem: str, key_pem: str, chain_pem: str) -> None:
        served = cert_pem if not site.send_chain else cert_pem + chain_pem
        site.cert_file.write_text(served)
        site.key_file.write_text(key_pem)
        site.key_file.chmod(0o600)

    def _write_config(self) -> None:
        self.conf_path.write_text(self.config_text())

    def _command(self, *extra: str) -> list[str]:
        assert self.binary is not None
        return [
            self.binary,
            "-p",
            f"{self.prefix}/",
            "-c",
            str(self.conf_path),
            "-e",
            str(self.error_log),
            *extra,
        ]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSSL_")}
        env["OPENSSL_CONF"] = str(self.prefix / "conf" / "openssl.cnf")
        return env

    def _check_config(self) -> None:
        result = subprocess.run(
            self._command("-t", "-q"),
            capture_output=True,
            env=self._env(),
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            message = (result.stderr or result.stdout).decode(errors="replace").strip()
            raise NginxError(f"nginx rejected the configuration: {message}")

    def _all_ports(self) -> list[int]:
        return [*self._listeners, *(port for port, _ in self._http.values())]

    def _workers(self) -> set[int]:
        """PIDs of the master's live children (its workers), read from /proc."""
        if self._process is None:
            return set()
        master = self._process.pid
        workers = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Format: pid (comm) state ppid …; comm may contain spaces, so split after ')'.
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == master and fields[0] != "Z":
                workers.add(int(entry.name))
        return workers

    def _wait_for_workers(self, old: set[int], deadline: float) -> None:
        while True:
            self._raise_if_exited()
            current = self._workers()
            if current and not (current & old):
                return
            if time.monotonic() > deadline:
                raise NginxError(
                    f"nginx workers did not turn over in time (old {old}, now {current})"
                )
            time.sleep(0.02)

    def _wait_for_port(self, port: int, deadline: float) -> None:
        while True:
            self._raise_if_exited()
            try:
                with socket.create_connection((self.host, port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise NginxError(f"nginx is not listening on {self.host}:{port}") from None
                time.sleep(0.02)

    def _raise_if_exited(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            self._process = None
            output = ""
            for log in (self.prefix / "logs" / "stderr.log", self.error_log):
                if log.exists():
                    output += log.read_text(errors="replace")
            raise NginxError(f"nginx exited with status {code}: {output.strip()[-2000:]}")


def _file_name(name: str) -> str:
    """A site name made safe as a file name (and unique enough for a test's handful of sites)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _terminate_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies (Linux prctl).

    stop() handles every orderly ending; this covers a test run killed outright, which would
    otherwise leave an orphaned nginx behind. SIGTERM makes nginx stop its worker too.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: stop() and __del__ remain


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "root"


def _pems(cert: _CertLike | tuple[str, str] | tuple[str, str, str]) -> tuple[str, str, str]:
    if isinstance(cert, tuple):
        if len(cert) == 2:
            return cert[0], cert[1], ""
        return cert[0], cert[1], cert[2]
    return cert.cert_pem, cert.key_pem, cert.chain_pem


def _dns_names(cert_pem: str) -> list[str]:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(san.value.get_values_for_type(x509.DNSName))
