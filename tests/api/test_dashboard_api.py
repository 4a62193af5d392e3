"""Server sides of the dashboard and predict page: glossary, inline plots, form limits, the predict note."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from server import keys
from tests.conftest import check_error, check_json

SEED = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
        "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}


class _Inputs(HTMLParser):
    """Collects the attributes of every <input> of a page, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name"):
            self.inputs[attributes["name"]] = attributes


async def test_glossary_describes_every_feature_and_group(client):
    """Each engineered feature of the active version, each SHAP group and each UI term has words."""
    glossary = await check_json(await client.get("/api/glossary"), 200)
    bundle = client.app[keys.INFERENCE].bundle
    assert glossary["version"] == bundle.version
    described = {row["name"]: row["description"] for row in glossary["features"]}
    assert list(described) == list(bundle.feature_names)
    assert all(len(text) > 10 for text in described.values()), described
    assert "600 seconds" in described["dst_subnet_bytes_600s"] and "/24" in described["dst_subnet_bytes_600s"]
    global_shap = await check_json(await client.get("/api/explain/global"), 200)
    for group in global_shap["groups"]:
        assert group["feature"] in glossary["groups"] or group["feature"] in described, group
    assert {"base value", "SHAP", "other"} <= set(glossary["terms"])


async def test_glossary_without_a_model_is_a_404_envelope(empty_client):
    await check_error(await empty_client.get("/api/glossary"), 404, "not_found")


async def test_plot_shows_inline_when_asked_and_models_always_download(client):
    """?inline=1 lets the page show a PNG (lightbox); without it, and for pickles, it downloads."""
    listed = (await check_json(await client.get("/api/versions/detail"), 200))["versions"]
    plot = next(a for a in listed[0]["artifacts"] if a["kind"] == "plot")
    shown = await client.get(plot["url"] + "?inline=1")
    assert shown.status == 200 and shown.content_type == "image/png"
    assert shown.headers["Content-Disposition"] == f'inline; filename="{plot["name"]}"'
    saved = await client.get(plot["url"])
    assert saved.headers["Content-Disposition"].startswith("attachment;")
    model = next(a for a in listed[0]["artifacts"] if a["kind"] == "pipeline")
    pickle = await client.get(model["url"] + "?inline=1")
    assert pickle.status == 200 and pickle.headers["Content-Disposition"].startswith("attachment;")


async def test_predict_form_limits_are_the_apis_limits(client):
    """Every numeric input's min and max is accepted by the API, and one step outside is refused."""
    html = await (await client.get("/predict")).text()
    parser = _Inputs()
    parser.feed(html)
    numeric = {name: attrs for name, attrs in parser.inputs.items() if attrs.get("type") == "number"}
    assert set(numeric) == {"packet_size", "bytes_sent", "timestamp_seconds", "hour"}
    for name, attrs in numeric.items():
        assert "min" in attrs and "max" in attrs, (name, attrs)
        low, high = float(attrs["min"]), float(attrs["max"])
        for value, status in ((low, 200), (high, 200), (low - 1, 400), (high + 1, 400)):
            body = {**SEED, name: int(value) if value.is_integer() else value}
            if name == "timestamp_seconds":
                body.pop("hour")
            response = await client.post("/api/predict?observe=false", json=body)
            if status == 200:
                await check_json(response, 200)
            else:
                await check_error(response, 400, field=name)


async def test_single_observed_answer_explains_why_a_repeat_differs(client):
    """Posting one record three times moves its window features; the answer says so, what-ifs do not."""
    answers = [await check_json(await client.post("/api/predict", json=SEED), 200) for _ in range(3)]
    assert all("observe=false" in a["note"] for a in answers)
    what_if = await check_json(await client.post("/api/predict?observe=false", json=SEED), 200)
    assert "note" not in what_if
    batch = await check_json(await client.post("/api/predict", json=[SEED, SEED]), 200)
    assert all("note" not in item for item in batch)
    assert re.search(r"online windows", answers[0]["note"])
