"""The app's error rate and p95 latency over a drill, as a PNG (people look at a chart
before they read numbers). matplotlib is optional (``pip install 'rlsguard[charts]'``) and
imported only here, with the Agg backend: no display is needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def timeline_png(
    series: list[dict[str, Any]], path: Path, title: str, marks: dict[str, float] | None = None
) -> bool:
    """Write the chart; False (and no file) when matplotlib is missing or there is no data.

    ``series`` is the journal's ``app.timeline`` (``t``: end of each step, seconds since the
    drill started); ``marks`` are journal event times (fault injected, detected, recovered).
    """
    if not series or not available():
        return False
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    xs = [p["t"] for p in series]
    errors = [100.0 * p["error_rate"] for p in series]
    p95 = [p["p95_ms"] if p["p95_ms"] is not None else float("nan") for p in series]
    fig, ax1 = plt.subplots(figsize=(8, 3.2), dpi=100)
    try:
        ax1.step(xs, errors, where="post", color="tab:red", label="errors (5xx or no answer) %")
        ax1.set_xlabel("seconds since the drill started")
        ax1.set_ylabel("error rate %", color="tab:red")
        ax1.set_ylim(-2, 102)
        ax2 = ax1.twinx()
        ax2.plot(xs, p95, color="tab:blue", marker=".", label="p95 latency ms")
        ax2.set_ylabel("p95 latency (ms)", color="tab:blue")
        for label, at in (marks or {}).items():
            ax1.axvline(at, color="grey", linestyle="--", linewidth=1)
            ax1.text(at, 104, label, fontsize=7, ha="center", va="bottom")
        ax1.set_title(title, fontsize=9, pad=16)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return True
