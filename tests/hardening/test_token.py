"""Off loopback the server never runs without a token: it makes one (0600) and requires it."""
from __future__ import annotations

import stat
import urllib.error
import urllib.request


def _post(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_non_loopback_bind_generates_a_private_token_and_requires_it(server_factory, trained_workdir):
    server = server_factory(trained_workdir, CONGESTION_SERVER__HOST="0.0.0.0")
    token_file = trained_workdir / "blobs" / "server-token"
    token = token_file.read_text().strip()
    assert len(token) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token in server.log.read_text(), "the token is printed for the operator"

    assert _post(server.url + "/api/versions/prune") == 401
    assert _post(server.url + "/api/versions/prune", "wrong") == 401
    assert _post(server.url + "/api/versions/prune", token) == 200
    with urllib.request.urlopen(server.url + "/api/versions/detail", timeout=10) as response:
        assert response.status == 200, "read routes stay open"
    server.stop()

    again = server_factory(trained_workdir, CONGESTION_SERVER__HOST="0.0.0.0")
    assert token_file.read_text().strip() == token, "the token survives restarts"
    assert _post(again.url + "/api/versions/prune", token) == 200
