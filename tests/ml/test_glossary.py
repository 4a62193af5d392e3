"""The feature glossary is generated from the transformers: every output described, in its own terms."""
from __future__ import annotations

import pytest
from sklearn.pipeline import FeatureUnion

from server.ml.features import NumericPassthrough, build_features
from server.ml.glossary import TERMS, UndescribedFeature, describe_groups, describe_union


@pytest.mark.parametrize("windows, prefix", [((60, 600), 24), ((30, 3600, 86400), 16)])
def test_every_engineered_feature_is_described_from_its_definition(flows, windows, prefix):
    """Whatever the config, each output column has a description naming its own window and prefix."""
    union = build_features({"windows_s": list(windows), "subnet_prefix": prefix}).fit(flows.head(500))
    names = [str(n) for n in union.get_feature_names_out()]
    described = describe_union(union)
    assert list(described) == names
    assert all(len(text) > 10 for text in described.values())
    for w in windows:
        assert f"in the {w} seconds" in described[f"src_flows_{w}s"]
        assert f"/{prefix} subnet" in described[f"dst_subnet_bytes_{w}s"]
    for protocol in sorted(set(flows.head(500)["protocol"])):
        assert protocol in described[f"protocol_{protocol}"]
    assert len(set(described.values())) == len(described), "two features share one description"


def test_groups_list_their_members(flows):
    union = build_features({"windows_s": [60], "subnet_prefix": 24}).fit(flows.head(200))
    groups = describe_groups([str(n) for n in union.get_feature_names_out()])
    assert set(groups) == {"source_ip", "dest_ip", "hour", "protocol"}
    assert "hour sin" in groups["hour"] and "hour cos" in groups["hour"]
    assert "base value" in TERMS


class _Silent(NumericPassthrough):
    """A transformer that forgot to describe one of its outputs."""

    def describe_features(self) -> dict[str, str]:
        return {"packet_size": "described"}


def test_a_transformer_that_does_not_describe_an_output_is_refused(flows):
    union = FeatureUnion([("numeric", _Silent())]).fit(flows.head(10))
    with pytest.raises(UndescribedFeature, match="bytes_sent"):
        describe_union(union)
