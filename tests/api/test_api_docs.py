"""/api/docs: schema tables, a curl line and a sample answer per operation, all derived from the models."""
from __future__ import annotations

import json
import re

from pydantic import TypeAdapter

from server.api.openapi import _operations
from server.api.openapi_doc import document, routes

BASE = "http://127.0.0.1:8080"


def _by_route() -> dict[tuple[str, str], tuple[dict, object]]:
    ops = {(o["method"].lower(), o["path"]): o for o in _operations(document(), BASE)}
    return {(m, p): (ops[(m, p)], op) for m, p, op in routes() if op is not None}


def test_every_sample_answer_is_a_valid_answer():
    """The page never shows an answer the server could not give: each sample validates against its model."""
    checked = 0
    for (method, path), (shown, operation) in _by_route().items():
        if operation.answer is None or operation.content is not None:
            continue
        assert shown["sample"], f"{method} {path} has no sample answer"
        TypeAdapter(operation.answer).validate_python(json.loads(shown["sample"]))
        checked += 1
    assert checked >= 30


def test_every_request_example_is_a_valid_body():
    """Each body example (README's, a model's, or one built from the schema) passes the body's own model."""
    for (method, path), (shown, operation) in _by_route().items():
        if operation.body is None:
            continue
        example = json.loads(shown["body"]["example"])
        TypeAdapter(operation.body).validate_python(example)
        assert "-d '" in shown["curl"], (method, path)


def test_curl_lines():
    """Path parameters filled in, the token where the guard asks for it, the README's predict body."""
    ops = {(o["method"], o["path"]): o for o in _operations(document(), BASE)}
    predict = ops[("POST", "/api/predict")]["curl"]
    assert predict.startswith(f'curl -s -X POST "{BASE}/api/predict"') and '"source_ip":"192.168.1.10"' in predict
    assert "Authorization" not in predict
    assert 'Authorization: Bearer $TOKEN' in ops[("POST", "/api/feedback")]["curl"]
    assert 'Authorization: Bearer $TOKEN' in ops[("GET", "/api/train/events")]["curl"]
    assert f'"{BASE}/api/versions/rollback/$TAG"' in ops[("POST", "/api/versions/rollback/{timestamp}")]["curl"]
    assert "-OJ" in ops[("GET", "/download/{what}")]["curl"]


async def test_page_renders_tables_not_raw_json(empty_client):
    """Field tables with type, required, constraints and description; no schema dumped as JSON; no inline script."""
    response = await empty_client.get("/api/docs")
    text = await response.text()
    assert response.status == 200
    section = text[text.index('id="post-api-predict"'):text.index('id="post-api-explain"')]
    assert "<th scope=\"col\">Constraints</th>" in section
    assert re.search(r"<code>packet_size</code></th><td data-label=\"Type\">number</td>\s*"
                     r"<td data-label=\"Required\">yes</td>\s*<td data-label=\"Constraints\">≥ 0; ≤ 65535</td>", section)
    assert 'class="curl"' in section and "sample-answer" in section
    assert '"$ref"' not in text and '"properties"' not in text
    assert all(re.search(r"\ssrc=", tag) for tag in re.findall(r"<script[^>]*>", text)), "inline script"
    assert " style=" not in text
    assert "http://127.0.0.1:" in section  # curl lines use the server's own address
