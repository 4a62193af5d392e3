"""TrainBody validates the training overrides: the same field names and messages as before, one 400 for all."""
from __future__ import annotations

import pytest

from server.errors import ValidationFailed
from server.schemas.requests import check_train_body
from server.services.training import TrainRequest


def _fields(body) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        check_train_body(body)
    assert caught.value.message in ("invalid training request", "the body must be a JSON object")
    return caught.value.fields


def test_every_bad_field_named_at_once_in_the_api_words():
    fields = _fields({"model_type": "svm", "search_iterations": True, "rows": 1.5, "generate_data": "yes",
                      "source": "somewhere", "since": "yesterday", "shadow": 1, "surprise": 1})
    assert fields == {
        "model_type": "must be one of ['random_forest', 'xgboost']",
        "search_iterations": "must be an integer between 1 and 200",
        "rows": "must be an integer between 500 and 2000000",
        "generate_data": "must be true or false",
        "source": "must be 'feedback' (the labelled prediction log) or 'config'",
        "since": "invalid",
        "shadow": "must be true or false",
        "surprise": "unknown field",
    }
    assert _fields([1]) == {"body": "expected an object"}
    assert _fields({"since": 1_700_000_000}) == {"source": "since/until need source 'feedback'"}


def test_values_and_defaults():
    """Times become Unix seconds; absent or null fields take the defaults (the query flag for generate_data)."""
    request = TrainRequest.parse({"source": "feedback", "since": "2026-12-01T00:00:00Z", "until": 1_800_000_000.0,
                                  "model_type": "xgboost", "rows": 500}, generate_data=False)
    assert (request.since, request.until, request.model_type, request.rows) == (1_796_083_200, 1_800_000_000,
                                                                              "xgboost", 500)
    assert TrainRequest.parse(None, generate_data=True).generate_data is True
    nulls = TrainRequest.parse({"generate_data": None, "shadow": None, "model_type": None}, generate_data=True)
    assert nulls == TrainRequest(generate_data=True)
    assert TrainRequest.parse({"generate_data": False}, generate_data=True).generate_data is False
