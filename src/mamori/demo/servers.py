"""Small HTTPS servers on loopback for the demo, each serving one certificate setup.

They run in one asyncio loop on a background thread, answer any request with a short page, and
stop with the process. Nothing here is meant to face a network: they bind 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoSite:
    name: str
    cert_chain_pem: str  # what the server sends: leaf first, then any intermediates
    key_pem: str


class DemoServers:
    """Start with :meth:`start`, read the ports from :attr:`ports` (by site name), stop with
    :meth:`stop`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="demo-https", daemon=True
        )

    def start(self, sites: list[DemoSite]) -> dict[str, int]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        for site in sites:
            context = self._context(site)
            future = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(self._answer(site.name), "127.0.0.1", 0, ssl=context),
                self._loop,
            )
            server = future.result(timeout=10)
            self._servers.append(server)
            self.ports[site.name] = server.sockets[0].getsockname()[1]
        return self.ports

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()
                with contextlib.suppress(Exception):
                    await server.wait_closed()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def _context(self, site: DemoSite) -> ssl.SSLContext:
        cert_file = self.directory / f"{site.name}.crt"
        key_file = self.directory / f"{site.name}.key"
        cert_file.write_text(site.cert_chain_pem)
        key_file.touch(mode=0o600)
        key_file.write_text(site.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context

    @staticmethod
    def _answer(name: str):
        body = f"Mamori demo endpoint: {name}\n".encode()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ssl.SSLError):
                pass  # a probe that only handshakes, or a client that went away
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

        return handle
