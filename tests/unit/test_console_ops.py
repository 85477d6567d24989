"""The Insight and Operations pages' pieces without services: chart geometry, percentages in both
languages, the ops API's dead letters by reason and its throughput, the CSV that is not given when a
figure is missing."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from services.console import charts
from services.console.i18n import Words
from shared.deadletter import AT, REASON, SOURCE_TOPIC
from shared.ops import _by_reason, _Rate


def test_columns_scale_to_the_largest_and_a_ratio_stays_inside_its_track() -> None:
    drawn = charts.columns([("issued", 400), ("redeemed", 100), ("expired", 0)], width=300, height=180)
    assert [c.height for c in drawn] == [180.0, 45.0, 0.0]
    assert [c.y for c in drawn] == [0.0, 135.0, 180.0]
    assert drawn[1].x > drawn[0].x + drawn[0].width  # a gap between columns
    assert charts.columns([("a", 0), ("b", 0)])[0].height == 0.0
    assert (charts.share("0.25"), charts.share(None), charts.share(Decimal("1.7"))) == (25.0, 0.0, 100.0)


def test_the_matrix_places_each_segment_and_shades_by_members() -> None:
    cells = {c.segment: c for c in charts.matrix({"true_friends": 8, "butterflies": 4, "lapsed": 99})}
    assert (cells["butterflies"].row, cells["butterflies"].column) == (0, 0)
    assert (cells["true_friends"].row, cells["true_friends"].column) == (0, 1)
    assert (cells["true_friends"].shade, cells["butterflies"].shade, cells["barnacles"].shade) == (4, 2, 0)


def test_percentages_in_persian_and_english() -> None:
    assert Words("en").percent("0.7326") == "73.3%"
    assert Words("fa").percent(Decimal("0.5")) == "۵۰٫۰٪"


def _letter(offset: int, reason: str, source: str | None = "t.purchases") -> SimpleNamespace:
    headers = [(REASON, reason.encode()), (AT, f"2026-12-0{offset + 1}T00:00:00+00:00".encode())]
    headers += [(SOURCE_TOPIC, source.encode())] if source else []
    return SimpleNamespace(topic="t.deadletter.points", partition=0, offset=offset, headers=headers)


def test_dead_letters_are_counted_by_reason_and_those_re_driven_are_not_waiting() -> None:
    letters = [
        _letter(0, "not JSON"),
        _letter(1, "not JSON"),
        _letter(2, "unknown type"),
        _letter(3, "bounced", None),
    ]
    found = _by_reason(letters, redriven={"t.deadletter.points:0:0"})
    assert [(d.reason, d.count, d.waiting, d.source_topics) for d in found] == [
        ("not JSON", 2, 1, ["t.purchases"]), ("unknown type", 1, 1, ["t.purchases"]), ("bounced", 1, 1, []),
    ]  # fmt: skip
    assert found[0].last_at is not None and found[0].last_at.day == 2


def test_throughput_is_measured_between_two_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 110.0])
    monkeypatch.setattr("shared.ops.time.monotonic", lambda: next(clock))
    rate = _Rate()
    assert rate.observe(50) == (None, None)  # one read: nothing to measure yet
    assert rate.observe(150) == (10.0, 10.0)
