"""Column names and value sets shared by generation, ingestion, features and serving."""

PACKET_SIZE = "packet_size"
BYTES_SENT = "bytes_sent"
SOURCE_IP = "source_ip"
DEST_IP = "dest_ip"
PROTOCOL = "protocol"
TIMESTAMP = "timestamp_seconds"
HOUR = "hour"
LABEL = "congestion"
P_TRUE = "p_true"

FLOW_COLUMNS: tuple[str, ...] = (
    PACKET_SIZE, BYTES_SENT, SOURCE_IP, DEST_IP, PROTOCOL, TIMESTAMP, HOUR,
)
NUMERIC_COLUMNS: tuple[str, ...] = (PACKET_SIZE, BYTES_SENT)
IP_COLUMNS: tuple[str, ...] = (SOURCE_IP, DEST_IP)
# Columns a user file must provide (hour can be derived from the timestamp).
REQUIRED_COLUMNS: tuple[str, ...] = (PACKET_SIZE, BYTES_SENT, SOURCE_IP, DEST_IP, PROTOCOL, TIMESTAMP)

COMMON_PROTOCOLS: tuple[str, ...] = ("TCP", "UDP", "ICMP")
RARE_PROTOCOLS: tuple[str, ...] = ("GRE", "ESP", "SCTP")
# IANA protocol numbers users sometimes export instead of names.
PROTOCOL_NUMBERS: dict[str, str] = {
    "1": "ICMP", "6": "TCP", "17": "UDP", "47": "GRE", "50": "ESP", "51": "AH",
    "58": "ICMPV6", "132": "SCTP",
}

SECONDS_PER_DAY = 86_400
# 1970-01-01 was a Thursday: weekday index (Monday=0) of epoch day 0.
EPOCH_WEEKDAY = 3


def normalise_protocol(value: object) -> str:
    """Upper-case a protocol name, mapping IANA numbers (6, 17, ...) to names."""
    text = str(value).strip().upper()
    if text.endswith(".0") and text[:-2].isdigit():  # numbers read back from float columns
        text = text[:-2]
    return PROTOCOL_NUMBERS.get(text, text)
