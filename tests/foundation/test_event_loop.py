"""The serving loop: uvloop by default where installed, the standard loop on request."""
from __future__ import annotations

import asyncio

import pytest
import uvloop

from server.serve import new_event_loop


@pytest.mark.parametrize("choice, expected", [("auto", uvloop.Loop), ("uvloop", uvloop.Loop),
                                              ("asyncio", asyncio.BaseEventLoop)])
def test_the_configured_loop_is_the_one_built(choice, expected):
    loop = new_event_loop(choice)
    try:
        assert isinstance(loop, expected)
        assert choice == "asyncio" or not type(loop).__module__.startswith("asyncio")
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()


def test_uvloop_asked_for_but_missing_is_a_clear_exit(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_uvloop(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError("no uvloop here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    with pytest.raises(SystemExit, match="server.event_loop is 'uvloop' but uvloop is not installed"):
        new_event_loop("uvloop")
    loop = new_event_loop("auto")  # falls back to the standard loop
    assert type(loop).__module__.startswith("asyncio")
    loop.close()
