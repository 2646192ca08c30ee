"""bench.ratio: the closed-loop ratio from back-to-back pairs of rows."""

from __future__ import annotations

import pytest
from bench.ratio import pair_ratios, summary


def _row(msgs_per_s: float, per_cpu_s: float, **extra: object) -> dict[str, object]:
    return {"msgs_per_s": msgs_per_s, "msgs_per_server_cpu_s": per_cpu_s, "errors": 0, **extra}


def test_a_pair_gives_both_ratios() -> None:
    ratio = pair_ratios(_row(15_000, 16_000), _row(5_000, 4_000))
    assert ratio == {"per_cpu_s": pytest.approx(4.0), "msgs_per_s": pytest.approx(3.0)}


@pytest.mark.parametrize(
    "bad",
    [
        _row(15_000, 16_000, errors=3),
        _row(15_000, 16_000, failed="RuntimeError: boom"),
        _row(0, 0),
    ],
)
def test_a_pair_with_a_failed_or_erroneous_row_gives_no_ratio(bad: dict[str, object]) -> None:
    assert pair_ratios(bad, _row(5_000, 4_000)) is None
    assert pair_ratios(_row(15_000, 16_000), bad) is None


def test_the_summary_is_the_median_of_the_valid_pairs() -> None:
    ratios = [
        {"per_cpu_s": 3.0, "msgs_per_s": 2.0},
        None,
        {"per_cpu_s": 4.0, "msgs_per_s": 3.5},
        {"per_cpu_s": 3.4, "msgs_per_s": 3.1},
    ]
    s = summary(ratios)
    assert (s["pairs"], s["valid_pairs"]) == (4, 3)
    assert s["per_cpu_s"] == {"median": 3.4, "min": 3.0, "max": 4.0}
    assert s["msgs_per_s"] == {"median": 3.1, "min": 2.0, "max": 3.5}
    assert "per_cpu_s" not in summary([None])
