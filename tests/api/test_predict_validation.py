"""The hostile-input corpus: every bad input is a 400 (or 413/415) naming the field, never a 500."""
from __future__ import annotations

import io

import pytest

from tests.api.test_predict import SEED
from tests.conftest import check_error

BAD_FIELDS = [
    ("packet_size", "600"), ("packet_size", True), ("packet_size", None), ("packet_size", -1),
    ("packet_size", 10**9), ("packet_size", [600]), ("packet_size", {"v": 1}), ("packet_size", 10**30),
    ("bytes_sent", "2400"), ("bytes_sent", False), ("bytes_sent", -0.5), ("bytes_sent", 1e300),
    ("source_ip", "256.1.1.1"), ("source_ip", "1.2.3"), ("source_ip", "example.com"), ("source_ip", ""),
    ("source_ip", 3232235786), ("source_ip", None), ("source_ip", " 1.2.3.4"), ("source_ip", "1.2.3.4/24"),
    ("dest_ip", "localhost"), ("dest_ip", "::g"), ("dest_ip", "1" * 500),
    ("protocol", ""), ("protocol", "   "), ("protocol", 6), ("protocol", None), ("protocol", "x" * 100),
    ("hour", 24), ("hour", -1), ("hour", 23.5), ("hour", "12"), ("hour", True),
    ("timestamp_seconds", -5), ("timestamp_seconds", "1700000000"), ("timestamp_seconds", 1.5),
    ("timestamp_seconds", 10**20),
]
RAW_BODIES = [
    ('{"packet_size": NaN}', "body"), ('{"packet_size": Infinity}', "body"), ("[1, 2", "body"),
    ("", "body"), ("not json", "body"), ("5", "body"), ('"text"', "body"), ("null", "body"), ("[]", "body"),
    ("[" * 100_000 + "]" * 100_000, "body"), ('{"packet_size": ' + "9" * 5000 + "}", "body"),
]


@pytest.mark.parametrize("path", ["/api/predict", "/api/explain"])
@pytest.mark.parametrize("field,value", BAD_FIELDS)
async def test_bad_field_is_named(client, path, field, value):
    """Wrong types, booleans, nulls, numeric strings, bad ranges and bad IPs -> 400 naming the field."""
    await check_error(await client.post(path, json={**SEED, field: value}), 400, "validation_error", field)


@pytest.mark.parametrize("path", ["/api/predict", "/api/explain"])
async def test_inf_from_overflowing_literal(client, path):
    """1e999 parses to infinity and is refused as non-finite."""
    body = '{"packet_size": 1e999, "bytes_sent": 1, "source_ip": "1.1.1.1", "dest_ip": "2.2.2.2", "protocol": "TCP"}'
    await check_error(await client.post(path, data=body, headers={"Content-Type": "application/json"}),
                       400, "validation_error", "packet_size")


@pytest.mark.parametrize("path", ["/api/predict", "/api/explain"])
@pytest.mark.parametrize("missing", ["packet_size", "bytes_sent", "source_ip", "dest_ip", "protocol"])
async def test_missing_required_field(client, path, missing):
    """A required field that is absent is named."""
    body = {k: v for k, v in SEED.items() if k != missing}
    await check_error(await client.post(path, json=body), 400, "validation_error", missing)


@pytest.mark.parametrize("text,field", RAW_BODIES)
async def test_malformed_bodies(client, text, field):
    """Non-JSON, NaN/Infinity literals, huge integers, deep nesting, scalars and empty lists -> 400."""
    response = await client.post("/api/predict", data=text, headers={"Content-Type": "application/json"})
    await check_error(response, 400, None, field)


async def test_wrong_content_type_is_415(client):
    """Form bodies are refused."""
    await check_error(await client.post("/api/predict", data="a=b"), 415)


async def test_oversize_batch_and_body(client):
    """More records than api.max_batch -> 400 naming body; a body over the limit -> 413."""
    await check_error(await client.post("/api/predict", json=[SEED] * 1001), 400, "validation_error", "body")
    big = io.BytesIO(b'{"x": "' + b"a" * 2_000_000 + b'"}')
    await check_error(await client.post("/api/predict", data=big, headers={"Content-Type": "application/json"}), 413)


async def test_batch_names_the_index(client):
    """In a batch each bad field carries the record's index."""
    error = await check_error(await client.post("/api/predict", json=[SEED, {**SEED, "hour": 24}, 7]), 400)
    assert set(error["fields"]) == {"[1].hour", "[2]"}


@pytest.mark.parametrize("value", ["abc", "1.5", "-0.1", "nan", "inf", "", "0x1", "1e999", "1" * 100])
@pytest.mark.parametrize("path", ["/api/predict", "/api/explain"])
async def test_malformed_threshold(client, value, path):
    """The threshold must be a number in [0, 1]."""
    await check_error(await client.post(f"{path}?threshold={value}", json=SEED), 400, "validation_error", "threshold")


@pytest.mark.parametrize("query,field", [("n=0", "n"), ("n=abc", "n"), ("n=1000", "n"),
                                         ("collapse_pairs=maybe", "collapse_pairs")])
async def test_malformed_explain_query(client, query, field):
    """n and collapse_pairs are validated too."""
    await check_error(await client.post(f"/api/explain?{query}", json=SEED), 400, "validation_error", field)


async def test_explain_refuses_a_list(client):
    """Explanations are for one record."""
    await check_error(await client.post("/api/explain", json=[SEED, SEED]), 400, "validation_error", "body")


async def test_explain_list_error_is_grammatical(client):
    """Explain's limit is one record: the error says "at most 1 record", not "1 records"."""
    error = await check_error(await client.post("/api/explain", json=[SEED, SEED]), 400, "validation_error", "body")
    assert error["message"] == "a batch holds at most 1 record", error
    assert error["fields"]["body"] == "2 records, at most 1", error


@pytest.mark.parametrize("limit,size,message,field", [
    (1, 2, "a batch holds at most 1 record", "2 records, at most 1"),
    (2, 3, "a batch holds at most 2 records", "3 records, at most 2"),
])
def test_batch_limit_message_agrees_with_its_number(limit, size, message, field):
    """Singular and plural, from the shared record validator."""
    from server.errors import ValidationFailed
    from server.schemas import check_records

    with pytest.raises(ValidationFailed) as raised:
        check_records([SEED] * size, limit)
    assert (raised.value.message, raised.value.fields["body"]) == (message, field)


@pytest.mark.parametrize("path", ["/api/predict", "/api/explain"])
async def test_a_body_of_unknown_fields_names_them_and_the_missing_ones(client, path):
    """{"foo": 1} is refused naming foo as an unknown field beside every missing required field."""
    from server.schemas import REQUIRED_FIELDS

    error = await check_error(await client.post(path, json={"foo": 1}), 400, "validation_error")
    assert error["fields"]["foo"].startswith("unknown field"), error
    assert all(error["fields"][name] == "is required" for name in REQUIRED_FIELDS), error
    assert "unknown field 'foo'" in error["message"] and "packet_size" in error["message"], error


async def test_a_misspelt_field_is_unknown_and_points_at_the_right_name(client):
    """A typo reads as what it is: the misspelt key is unknown, the real one is missing."""
    body = {**{k: v for k, v in SEED.items() if k != "packet_size"}, "packetsize": 600}
    error = await check_error(await client.post("/api/predict", json=body), 400, "validation_error", "packet_size")
    assert error["fields"]["packetsize"] == "unknown field (did you mean packet_size?)", error


async def test_unknown_fields_in_a_batch_carry_the_index(client):
    """Only refused records name their unknown fields; an accepted record's stay warnings."""
    error = await check_error(await client.post("/api/predict", json=[{**SEED, "x": 1}, {"foo": 1}]), 400)
    assert error["fields"]["[1].foo"].startswith("unknown field") and "[1].packet_size" in error["fields"], error
    assert not any(key.startswith("[0]") for key in error["fields"]), error
