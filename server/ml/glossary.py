"""Plain-words descriptions of a pipeline's features, generated from the transformers themselves.

Every feature transformer in `features.py` describes its own outputs (`describe_features`), from
the same parameters that compute them (window lengths, subnet prefix, protocols seen at fit), so
the dashboard's tooltips cannot drift from the code. SHAP groups and explanation terms are
described here, next to the rules that make them (`explain.feature_group`).
"""

from collections.abc import Sequence
from typing import Any

from .explain import feature_group
from .schema import DEST_IP, HOUR, PROTOCOL, SOURCE_IP

# The words the explanation views use besides feature names.
TERMS: dict[str, str] = {
    "probability": "the model's estimated probability that the flow is congested (0 to 1)",
    "threshold": "flows with a probability at or above the decision threshold are flagged as congested",
    "SHAP": ("how much a feature moved this flow's probability away from the base value, in probability "
             "units; positive pushes towards congested, negative towards clear; all SHAP values plus the "
             "base value add up to the probability"),
    "base value": ("the probability the model gives before looking at this flow's features: its average "
                   "output on the training data (SHAP's expected value)"),
    "other": "the summed SHAP of every feature not listed separately",
    "online windows": ("the server's running counts of recent flows; every flow posted to /api/predict "
                       "joins them (unless sent with ?observe=false), so repeating a flow changes its features"),
    "mean |SHAP|": "the average size of a feature's SHAP value over sample flows: its global importance",
}

_GROUP_FIELDS = {SOURCE_IP: "source IP", DEST_IP: "destination IP", PROTOCOL: "protocol", HOUR: "hour of day"}


class UndescribedFeature(ValueError):
    """A transformer produced a feature it does not describe (caught by the tests)."""


def _step_descriptions(step: Any) -> dict[str, str]:
    names = [str(n) for n in step.get_feature_names_out()]
    described = step.describe_features()
    missing = [n for n in names if not described.get(n)]
    if missing:
        raise UndescribedFeature(f"{type(step).__name__} does not describe {missing}")
    return {n: described[n] for n in names}


def describe_union(union: Any) -> dict[str, str]:
    """Feature name -> description for every output of a fitted FeatureUnion, in output order."""
    out: dict[str, str] = {}
    for _, step in union.transformer_list:
        if step in ("drop", None):
            continue
        out.update(_step_descriptions(step))
    return out


def describe_groups(feature_names: Sequence[str]) -> dict[str, str]:
    """Descriptions of the grouped names the grouped SHAP views show (sin/cos pairs, one-hots)."""
    members: dict[str, list[str]] = {}
    for name in feature_names:
        members.setdefault(feature_group(name), []).append(name)
    out = {}
    for group, names in members.items():
        if names == [group]:
            continue  # not a group: the feature itself
        field = _GROUP_FIELDS.get(group, group.replace("_", " "))
        out[group] = f"the {field}, all its encoded features together: " + ", ".join(
            n.replace("_", " ") for n in names)
    return out


def pipeline_glossary(pipeline: Any) -> dict[str, Any]:
    """Features, groups and terms of a fitted model pipeline (its `features` step)."""
    features = describe_union(pipeline.named_steps["features"])
    rows = [{"name": n, "group": feature_group(n), "description": d} for n, d in features.items()]
    return {"features": rows, "groups": describe_groups(list(features)), "terms": dict(TERMS)}
