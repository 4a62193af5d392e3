"""Pandas-free single-record feature path for the server's hot path."""

from collections.abc import Mapping

from sklearn.pipeline import FeatureUnion

from .windows import aggregate_names


class FeatureVectoriser:
    """Builds one record's feature vector in get_feature_names_out order from a fitted union."""

    def __init__(self, union: FeatureUnion):
        self._parts = [t for _, t in union.transformer_list if t not in (None, "drop")]
        self.feature_names: list[str] = [str(n) for n in union.get_feature_names_out()]
        windows = getattr(union.named_transformers.get("windows"), "windows_s", ())
        self.aggregate_names: list[str] = aggregate_names(windows)

    @classmethod
    def from_pipeline(cls, pipeline: object) -> "FeatureVectoriser":
        """Use the fitted `features` step of a full pipeline (or a fitted union itself)."""
        union = pipeline if isinstance(pipeline, FeatureUnion) else pipeline.named_steps["features"]  # type: ignore[attr-defined]
        return cls(union)

    def vector(self, record: Mapping[str, object], aggregates: Mapping[str, float] | None = None) -> list[float]:
        """Feature values for one raw record and its window aggregates."""
        aggregates = aggregates or {}
        out: list[float] = []
        for part in self._parts:
            out.extend(part.transform_record(record, aggregates))
        return out
