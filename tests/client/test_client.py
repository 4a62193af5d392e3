"""server.client.Client against a served app over real HTTP: typed answers, the error envelope, the token."""
from __future__ import annotations

import time

import pytest

from server.client import ApiError, Client
from server.schemas.answers import Explanation, Prediction, Run, VersionInfo
from server.schemas.events import PhaseStarted, RunFinished, RunStarted
from server.schemas.monitoring import Window

FLOW = {"packet_size": 600, "bytes_sent": 2400, "source_ip": "192.168.1.10", "dest_ip": "10.0.0.50",
        "protocol": "TCP", "timestamp_seconds": 1700000000, "hour": 12}


def _flows(n: int) -> list[dict]:
    return [{**FLOW, "packet_size": 100 + 10 * i, "source_ip": f"192.168.1.{i + 1}"} for i in range(n)]


def _label_once_logged(api: Client, labels):
    """Feedback for fresh predictions: they reach the log at the writer's next flush (1 s), so retry."""
    deadline = time.monotonic() + 60
    while True:
        answer = api.feedback(labels)
        if not answer.unknown or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def test_predict_single_and_batch(api: Client):
    """One record gives a Prediction (with the observed note), a list gives a list in the same order."""
    one = api.predict(FLOW)
    assert isinstance(one, Prediction) and 0 <= one.probability <= 1 and one.note
    what_if = api.predict(FLOW, observe=False, threshold=0.0)
    assert what_if.note is None and what_if.prediction == 1 and what_if.threshold == 0.0
    batch = api.predict_batch(_flows(5), observe=False)
    assert [type(p) for p in batch] == [Prediction] * 5
    assert len({p.prediction_id for p in batch}) == 5


def test_a_bad_record_raises_the_envelope_naming_each_field(api: Client):
    """400s carry status, code, message and the field names (batch fields prefixed by the index)."""
    with pytest.raises(ApiError) as caught:
        api.predict({**FLOW, "packet_size": -1, "hour": 24})
    error = caught.value
    assert error.status == 400 and error.code == "validation_error"
    assert set(error.fields) == {"packet_size", "hour"}, error.fields
    assert "packet_size" in str(error)
    with pytest.raises(ApiError) as caught:
        api.predict_batch([FLOW, {**FLOW, "source_ip": "not an ip"}])
    assert list(caught.value.fields) == ["[1].source_ip"]
    with pytest.raises(ApiError) as caught:
        api.windows(version="yesterday")
    assert caught.value.status == 400 and "version" in caught.value.fields


def test_token_is_sent_as_the_bearer_header(api: Client, anonymous: Client):
    """Protected routes answer 401 naming Authorization without the token, and work with it."""
    with pytest.raises(ApiError) as caught:
        anonymous.feedback({"0" * 32: 1})
    assert caught.value.status == 401 and "Authorization" in caught.value.fields
    with pytest.raises(ApiError) as caught:
        Client(api.base_url, token="wrong").ack_alert(1)
    assert caught.value.status == 401
    with pytest.raises(ApiError) as caught:
        next(anonymous.events())  # event streams need the token even for GET
    assert caught.value.status == 401 and caught.value.code == "unauthorized"
    assert api.feedback({"0" * 32: 1}).accepted == 0  # with the token: answered (an unknown id)


def test_explain(api: Client):
    """A typed explanation whose contributions add up to the probability."""
    out = api.explain(FLOW, n=3)
    assert isinstance(out, Explanation)
    assert abs(out.expected_value + sum(c.shap for c in out.contributions) - out.probability) < 1e-6
    assert api.explain_global().features


def test_feedback_by_prediction_id_and_windows(api: Client):
    """Labels given as {prediction_id: label} are accepted; the monitoring windows are typed."""
    ids = [p.prediction_id for p in api.predict_batch(_flows(3))]
    answer = _label_once_logged(api, {ids[0]: 1, ids[1]: 0})
    assert answer.accepted == 2 and answer.unknown == []
    assert api.feedback([{"prediction_id": ids[2], "congestion": 1}]).accepted == 1
    unknown = api.feedback({"f" * 32: 1})
    assert unknown.accepted == 0 and len(unknown.unknown) == 1
    windows = api.windows(limit=5)
    assert windows and all(isinstance(w, Window) for w in windows)
    assert sum(w.labelled for w in windows) >= 3
    assert api.monitoring_summary().version == api.metrics().version


def test_versions_rollback_and_threshold(api: Client):
    """Activate the other version and back; set the live threshold and read it back."""
    versions = api.versions()
    assert all(isinstance(v, VersionInfo) for v in versions) and len(versions) >= 2
    active = next(v.timestamp for v in versions if v.active)
    other = next(v.timestamp for v in versions if not v.active and not v.pruned)
    changed = api.activate(other, reason="client test")
    assert changed.changed and changed.version == other and changed.previous == active
    assert api.rollback(other).changed is False  # already active: a no-op
    assert api.rollback(active, reason="back").version == active
    before = api.threshold().threshold
    set_to = api.set_threshold(0.42, "client test")
    assert set_to.threshold == 0.42 and set_to.previous == before
    state = api.threshold(limit=5)
    assert state.threshold == 0.42 and state.changes[0].reason == "client test"
    assert api.predict(FLOW, observe=False).threshold == 0.42
    api.set_threshold(before, "restore")
    with pytest.raises(ApiError) as caught:
        api.set_threshold(1.5, "too high")
    assert caught.value.status == 400 and "threshold" in caught.value.fields
    assert api.threshold_curve().points


def test_shadow_on_off_and_promote(api: Client):
    """A version goes into shadow and out again; promoting without evidence is refused in the envelope."""
    versions = api.versions()
    other = next(v.timestamp for v in versions if not v.active and not v.pruned)
    on = api.shadow_on(other, reason="client test")
    assert on.shadow and other in on.shadows
    assert other in [s.version for s in api.shadows().shadows]
    assert api.shadow(other).shadow is True
    with pytest.raises(ApiError) as caught:
        api.promote(other, reason="")
    assert caught.value.status == 400 and "reason" in caught.value.fields
    off = api.shadow_off(other)
    assert off.shadow is False and other not in off.shadows
    with pytest.raises(ApiError) as caught:
        api.shadow_on("20000101_000000")
    assert caught.value.status == 404


def test_drift_and_alert_acknowledgement(api: Client):
    """The seeded open alert is listed, acknowledged by name, and 404 names an unknown alert id."""
    assert isinstance(api.drift(limit=3).windows, list)
    open_alerts = api.alerts(status="open")
    assert open_alerts, "the fixture seeds one open alert"
    alert = api.ack_alert(open_alerts[0]["id"], by="client-test")
    assert alert["acknowledged_by"] == "client-test"
    assert any(a["id"] == alert["id"] for a in api.alerts(status="acknowledged"))
    assert api.deliveries(alert["id"]) == []
    with pytest.raises(ApiError) as caught:
        api.ack_alert(2**31 - 1)
    assert caught.value.status == 404 and "alert_id" in caught.value.fields


@pytest.mark.slow
def test_train_and_wait_follows_the_run_to_its_end(api: Client):
    """Subscribed before the start: every event of the run is seen, in order, and the run has ended."""
    seen = []
    run = api.train_and_wait(on_event=seen.append, model_type="random_forest", timeout=600)
    assert isinstance(run, Run) and run.status == "succeeded", run
    kinds = [e.type if not isinstance(e, dict) else e["type"] for e in seen]
    assert isinstance(seen[0], RunStarted) and seen[0].run_id == run.id
    assert any(isinstance(e, PhaseStarted) and e.phase == "training" for e in seen)
    assert kinds.index("run_finished") > kinds.index("phase_started")
    assert kinds[-1] == "promotion_decided", kinds
    finished = next(e for e in seen if isinstance(e, RunFinished))
    assert finished.version in [v.timestamp for v in api.versions()]
    listed = api.runs(limit=5)
    assert listed.runs[0].id == run.id and listed.active_run_id is None
    assert api.run(run.id).phases
