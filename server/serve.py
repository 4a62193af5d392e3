"""Run the web server: print the URL, serve until SIGINT/SIGTERM, shut down gracefully."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
from pathlib import Path

from aiohttp import web

from server.app import create_app
from server.config import Config, replace

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


TOKEN_FILE = "server-token"


def stored_token(blob_dir: Path) -> str:
    """The token kept in <blob_dir>/server-token (mode 0600), created on first use and printed."""
    path = blob_dir / TOKEN_FILE
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        token = ""
    if not token:
        blob_dir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
    os.chmod(path, 0o600)
    # Printed for the operator, never logged: clients send it as "Authorization: Bearer <token>".
    print(f"Mutating routes and /ws need this bearer token (kept in {path}, mode 0600): {token}", flush=True)
    return token


def serve(config: Config, host: str | None = None, port: int | None = None) -> int:
    """Serve on host:port (config defaults); refuses a non-loopback bind without a token."""
    server = replace(config.server, host=host or config.server.host,
                    port=port if port is not None else config.server.port)
    config = replace(config, server=server)
    if not is_loopback(server.host) and not server.token:
        try:
            server = replace(server, token=stored_token(Path(config.storage.blob_dir)))
        except OSError as exc:
            log.error("refusing to listen on %s without a token: set server.token "
                      "(CONGESTION_SERVER__TOKEN) or make the blob dir writable (%s)", server.host, exc.strerror)
            return 2
        config = replace(config, server=server)
    url_host = f"[{server.host}]" if ":" in server.host else server.host
    print(f"Serving the congestion monitor on http://{url_host}:{server.port}/ (Ctrl-C to stop)", flush=True)
    loop = new_event_loop(server.event_loop)
    log.info("event loop: %s", type(loop).__module__.split(".")[0])
    web.run_app(create_app(config), host=server.host, port=server.port, loop=loop,
                shutdown_timeout=server.shutdown_timeout_s, print=None, access_log=None)
    return 0


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """The serving loop: uvloop for "uvloop" (and for "auto" where it is installed), else asyncio's."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise SystemExit("server.event_loop is 'uvloop' but uvloop is not installed "
                                 "(pip install uvloop, or set server.event_loop: asyncio)") from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
