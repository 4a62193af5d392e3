"""Run the web server: print the URL, serve until SIGINT/SIGTERM, shut down gracefully."""
from __future__ import annotations

import dataclasses
import ipaddress
import logging

from aiohttp import web

from server.app import create_app
from server.config import Config

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(config: Config, host: str | None = None, port: int | None = None) -> int:
    """Serve on host:port (config defaults); refuses a non-loopback bind without a token."""
    server = dataclasses.replace(config.server, host=host or config.server.host,
                                 port=port if port is not None else config.server.port)
    config = dataclasses.replace(config, server=server)
    if not is_loopback(server.host) and not server.token:
        log.error("refusing to listen on %s without server.token (set CONGESTION_SERVER__TOKEN)", server.host)
        return 2
    url_host = f"[{server.host}]" if ":" in server.host else server.host
    print(f"Serving the congestion monitor on http://{url_host}:{server.port}/ (Ctrl-C to stop)", flush=True)
    web.run_app(create_app(config), host=server.host, port=server.port,
                shutdown_timeout=server.shutdown_timeout_s, print=None, access_log=None)
    return 0
