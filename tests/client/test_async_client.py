"""server.client.AsyncClient: the same operations awaited, on aiohttp, against the served app."""
from __future__ import annotations

import pytest

from server.client import ApiError, AsyncClient
from server.schemas.answers import Prediction
from tests.client.conftest import TOKEN
from tests.client.test_client import FLOW


async def test_async_predict_errors_and_versions(api_server: str):
    """Typed answers, the error envelope and the session closed by the context manager."""
    async with AsyncClient(api_server, token=TOKEN) as client:
        one = await client.predict(FLOW, observe=False)
        assert isinstance(one, Prediction)
        batch = await client.predict_batch([FLOW, FLOW], observe=False)
        assert len(batch) == 2
        with pytest.raises(ApiError) as caught:
            await client.predict({**FLOW, "protocol": ""})
        assert caught.value.status == 400 and list(caught.value.fields) == ["protocol"]
        assert any(v.active for v in await client.versions())
        answer = await client.feedback({one.prediction_id: 1})
        assert answer.accepted == 0 and answer.unknown  # observe=false: never logged, so nothing to label
    assert client._session is None


async def test_async_events_need_the_token(api_server: str):
    """Opening the event stream without the token raises 401 in the envelope."""
    async with AsyncClient(api_server) as client:
        with pytest.raises(ApiError) as caught:
            async for _ in client.events():
                break
        assert caught.value.status == 401


@pytest.mark.slow
async def test_async_train_and_wait(api_server: str):
    """The async variant follows a run to its promotion decision."""
    seen = []
    async with AsyncClient(api_server, token=TOKEN) as client:
        run = await client.train_and_wait(on_event=seen.append, model_type="xgboost", timeout=600)
        assert run.status == "succeeded"
    kinds = [e["type"] if isinstance(e, dict) else e.type for e in seen]
    assert kinds[0] == "run_started" and "run_finished" in kinds and kinds[-1] == "promotion_decided", kinds
