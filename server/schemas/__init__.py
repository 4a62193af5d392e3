"""Typed models of every request and answer: validation, the OpenAPI document, the client and the
docs page are all derived from them (one source of truth per shape)."""
from server.schemas.params import query_threshold
from server.schemas.records import (
    KNOWN_FIELDS, MAX_BYTES_SENT, MAX_PACKET_SIZE, MAX_TEXT, MAX_TIMESTAMP, NUMBER_RULES, REQUIRED_FIELDS,
    FlowRecord, ValidRecord, check_record, check_records,
)

__all__ = ["KNOWN_FIELDS", "MAX_BYTES_SENT", "MAX_PACKET_SIZE", "MAX_TEXT", "MAX_TIMESTAMP", "NUMBER_RULES",
           "REQUIRED_FIELDS", "FlowRecord", "ValidRecord", "check_record", "check_records", "query_threshold"]
