"""A typed Python client of the REST API (sync: Client, on urllib; async: AsyncClient, on aiohttp).

    from server.client import Client, ApiError

Answers are the pydantic models of server.schemas, the same ones behind the OpenAPI document.
"""
from server.client.aio import AsyncClient
from server.client.errors import ApiError
from server.client.sync import Client

__all__ = ["ApiError", "AsyncClient", "Client"]
