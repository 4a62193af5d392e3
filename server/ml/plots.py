"""PNG charts for EDA and evaluation (matplotlib Agg, figures always closed)."""

import io

import matplotlib

matplotlib.use("Agg")  # worker processes have no display; must precede the pyplot import

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from .schema import BYTES_SENT, HOUR, LABEL, PACKET_SIZE, PROTOCOL, TIMESTAMP  # noqa: E402

_DPI = 120  # sharp enough for the dashboard's enlarged view (lightbox)
_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _png(fig: plt.Figure) -> bytes:
    """Render and close a figure."""
    buf = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=_DPI)
    finally:
        plt.close(fig)
    return buf.getvalue()


def eda_plots(df: pd.DataFrame) -> dict[str, bytes]:
    """Class balance, congestion rate by hour and weekday, raw feature distributions."""
    out = {}
    y = df[LABEL].to_numpy()
    fig, ax = plt.subplots(figsize=(4, 3))
    counts = [int((y == 0).sum()), int((y == 1).sum())]
    ax.bar(["no congestion", "congestion"], counts, color=["#4c72b0", "#dd8452"])
    ax.set_title("Class balance")
    out["class_balance"] = _png(fig)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(np.arange(24), df.groupby(HOUR)[LABEL].mean().reindex(range(24)).fillna(0).to_numpy())
    ax.set(title="Congestion rate by hour (UTC)", xlabel="hour", ylabel="rate")
    out["rate_by_hour"] = _png(fig)
    weekday = (df[TIMESTAMP].to_numpy() // 86_400 + 3) % 7
    rate = pd.Series(y).groupby(weekday).mean().reindex(range(7)).fillna(0).to_numpy()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(_WEEKDAYS, rate)
    ax.set(title="Congestion rate by weekday", ylabel="rate")
    out["rate_by_weekday"] = _png(fig)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    for ax, col in zip(axes[:2], (PACKET_SIZE, BYTES_SENT)):
        values = df[col].to_numpy(dtype=float)
        ax.hist(np.log10(values + 1), bins=40)
        ax.set(title=f"log10({col} + 1)")
    df[PROTOCOL].value_counts().plot.bar(ax=axes[2], title="protocol")
    out["feature_distributions"] = _png(fig)
    return out


def _luminance(rgb: tuple[float, ...]) -> float:
    """WCAG relative luminance of an sRGB colour with channels in 0..1."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """WCAG contrast ratio (1..21) between two colours."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def readable_text_color(background: tuple[float, ...]) -> str:
    """Black or white, whichever reads better on `background` (dark confusion cells get white)."""
    return "black" if contrast_ratio(background, (0, 0, 0)) >= contrast_ratio(background, (1, 1, 1)) else "white"


def confusion_figure(metrics: dict) -> plt.Figure:
    """The hold-out confusion matrix, each count in the colour that reads best on its cell."""
    fig, ax = plt.subplots(figsize=(3.5, 3))
    cm = np.array([[metrics["tn"], metrics["fp"]], [metrics["fn"], metrics["tp"]]])
    image = ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontweight="bold",
                color=readable_text_color(image.cmap(image.norm(v))))
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["clear", "congested"], yticklabels=["clear", "congested"],
           xlabel="predicted", ylabel="actual", title=f"Confusion matrix @ {metrics.get('threshold', 0.5):.2f}")
    ax.tick_params(axis="y", labelrotation=90)
    return fig


def evaluation_plots(y: np.ndarray, proba: np.ndarray, metrics: dict, shap_global: dict | None = None) -> dict[str, bytes]:
    """Confusion matrix, ROC, PR, calibration and global SHAP bar charts."""
    out = {"confusion_matrix": _png(confusion_figure(metrics))}
    both = len(np.unique(y)) == 2
    fig, ax = plt.subplots(figsize=(4, 3.5))
    if both:
        fpr, tpr, _ = roc_curve(y, proba)
        ax.plot(fpr, tpr, label=f"AUC {metrics.get('auc_roc') or 0:.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    ax.legend(loc="lower right")
    out["roc"] = _png(fig)
    fig, ax = plt.subplots(figsize=(4, 3.5))
    if both:
        precision, recall, _ = precision_recall_curve(y, proba)
        ax.plot(recall, precision, label=f"AP {metrics.get('pr_auc') or 0:.3f}")
    ax.axhline(float(np.mean(y)), ls="--", color="grey", label="prevalence")
    ax.set(title="Precision-recall", xlabel="recall", ylabel="precision")
    ax.legend(loc="upper right")
    out["pr"] = _png(fig)
    fig, ax = plt.subplots(figsize=(4, 3.5))
    if both:
        frac, mean_pred = calibration_curve(y, proba, n_bins=10, strategy="quantile")
        ax.plot(mean_pred, frac, "o-")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(title="Calibration", xlabel="mean predicted probability", ylabel="observed rate")
    out["calibration"] = _png(fig)
    if shap_global:
        rows = shap_global.get("features", [])[:15][::-1]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.barh([r["feature"] for r in rows], [r["importance"] for r in rows])
        ax.set(title="Mean |SHAP| (probability)")
        out["shap_global"] = _png(fig)
    return out
