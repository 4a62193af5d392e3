"""Tests of server.client against a real server over HTTP."""
