"""Anomaly rules: examples a duty operator would recognise, plus properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wisbot.probes.anomalies import (
    AnomalyKind,
    broker_collapse,
    day_on_day,
    record_count_outliers,
)
from wisbot.probes.model import Service

COUNTS = {"GISC-Offenbach": 81000, "GISC-Tokyo": 80500, "GISC-Beijing": 79000,
          "GISC-Melbourne": 30000, "GISC-Exeter": 82000}


def test_outlier_far_below_the_others() -> None:
    found = record_count_outliers(COUNTS)
    assert [(a.centre, a.kind) for a in found] == [("GISC-Melbourne", AnomalyKind.OUTLIER)]
    assert found[0].message == (
        "GISC-Melbourne has only 30,000 records; the other 4 centres' median is 80,750 "
        "(37% of it)"
    )
    assert found[0].service is Service.OAIPMH


def test_outlier_far_above_and_zero() -> None:
    found = record_count_outliers({"A": 100, "B": 110, "C": 400, "D": 0})
    assert {a.centre for a in found} == {"C", "D"}
    assert next(a for a in found if a.centre == "D").message.startswith("D has 0 records")


def test_too_few_centres_flag_nobody() -> None:
    assert record_count_outliers({"A": 1, "B": 1000}) == []


def test_day_on_day() -> None:
    found = day_on_day({"A": 1000, "B": 1000, "C": 0, "D": 5}, {"A": 1150, "B": 700, "C": 3})
    assert [a.message for a in found] == [
        "B: fell 30% in a day, from 1,000 to 700 (threshold 20%)",
        "C: from 0 to 3",
        "D: no figure today (yesterday 5)",
    ]


def test_broker_collapse() -> None:
    found = broker_collapse({"gb-de": 100000, "gb-fr": 100000, "gb-cn": 90000},
                            {"gb-de": 95000, "gb-fr": 15000})
    assert [a.message for a in found] == [
        "Global Broker gb-cn: message count collapsed by 100%, from 90,000 to no messages at all "
        "in 24 h",
        "Global Broker gb-fr: message count collapsed by 85%, from 100,000 to 15,000 messages "
        "in 24 h",
    ]
    assert all(a.service is Service.BROKER and a.kind is AnomalyKind.COLLAPSE for a in found)


counts = st.dictionaries(st.text(min_size=1, max_size=5),
                         st.integers(min_value=0, max_value=10**7), min_size=3, max_size=12)


@given(counts, st.integers(min_value=2, max_value=1000))
def test_outliers_do_not_depend_on_units(c: dict[str, int], k: int) -> None:
    a = {x.centre for x in record_count_outliers(c)}
    b = {x.centre for x in record_count_outliers({n: v * k for n, v in c.items()})}
    assert a == b


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=2, max_value=10))
def test_identical_counts_are_never_outliers(v: int, n: int) -> None:
    assert record_count_outliers({f"G{i}": v for i in range(n + 1)}) == []


@given(counts, counts, st.floats(min_value=1, max_value=90), st.floats(min_value=1, max_value=90))
def test_day_on_day_higher_threshold_flags_fewer(p: dict[str, int], c: dict[str, int],
                                                 t1: float, t2: float) -> None:
    lo, hi = sorted((t1, t2))
    assert {a.centre for a in day_on_day(p, c, hi)} <= {a.centre for a in day_on_day(p, c, lo)}


@given(counts, counts)
def test_no_collapse_when_nothing_fell(p: dict[str, int], extra: dict[str, int]) -> None:
    grown = {k: v + extra.get(k, 0) for k, v in p.items()}
    assert broker_collapse(p, grown) == []
