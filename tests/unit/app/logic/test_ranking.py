"""The SSIDs most devices probed for, across workers (`app.logic.listing.ranking`): checked
against summing every worker's whole map, on many random cluster states."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDict

from app.logic.listing import ListingError
from app.logic.listing.ranking import (
    RankingQuery,
    TopShare,
    first_size,
    parse_ranking_query,
    ranked,
    top_share,
)

SSIDS = st.sampled_from([f"net-{i}" for i in range(30)])
WORKER = st.dictionaries(SSIDS, st.integers(1, 12), max_size=30)


def brute_force(workers: list[dict[str, int]], limit: int) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for counts in workers:
        totals.update(counts)
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]


def rank_in_rounds(workers: list[dict[str, int]], limit: int) -> tuple[list[tuple[str, int]], int]:
    """What `GET /ssids` does: a first round of short lists, then every whole map if needed."""
    shares = [top_share(counts, first_size(limit)) for counts in workers]
    first = ranked(shares, limit)
    if first is not None:
        return first, 1
    second = ranked([top_share(counts, 0) for counts in workers], limit)
    assert second is not None, "whole maps always settle it"
    return second, 2


@settings(max_examples=200, deadline=None)
@given(st.lists(WORKER, min_size=1, max_size=4), st.integers(1, 8))
def test_the_ranking_is_what_summing_every_whole_map_gives(
    workers: list[dict[str, int]], limit: int
) -> None:
    assert rank_in_rounds(workers, limit)[0] == brute_force(workers, limit)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(WORKER, st.integers(0, 6)), min_size=1, max_size=4),
    st.integers(1, 6),
)
def test_lists_cut_anywhere_give_the_exact_answer_or_none(
    workers: list[tuple[dict[str, int], int]], limit: int
) -> None:
    """Whatever length each worker's list is cut to, the answer is exact or not given."""
    shares = [top_share(counts, size) for counts, size in workers]
    first = ranked(shares, limit)
    assert first is None or first == brute_force([counts for counts, _ in workers], limit)


def test_popular_ssids_are_settled_in_one_round() -> None:
    """Each worker has a long tail of rare SSIDs; the popular ones are on every list."""
    workers = [
        {
            "eduroam": 900 + w,
            "HomeNet": 500,
            "Cafe": 300 - w,
            **{f"rare-{w}-{i}": 1 for i in range(5000)},
        }
        for w in range(3)
    ]
    first, rounds = rank_in_rounds(workers, 3)
    assert first == [("eduroam", 2703), ("HomeNet", 1500), ("Cafe", 897)]
    assert rounds == 1


def test_a_value_some_cut_list_misses_needs_the_whole_maps() -> None:
    """A is top on one worker only; the other's list is cut above what it holds of A."""
    one = {"A": 10, "B": 9}
    two = {"B": 5, "C": 4, "A": 3}
    shares = [top_share(one, 1), top_share(two, 1)]
    assert shares[1] == TopShare({"B": 5}, 4)
    assert ranked(shares, 1) is None, "A's total is only known to be within 10..14"
    assert ranked([top_share(one, 0), top_share(two, 0)], 1) == [("B", 14)]


def test_a_share_survives_json_and_a_bad_one_is_refused() -> None:
    share = top_share({"x": 3, "y": 1}, 1)
    assert TopShare.from_json(share.as_json()) == share
    for bad in ({"top": {"x": -1}, "bound": 0}, {"top": {}, "bound": True}, [], {"top": []}):
        with pytest.raises(ValueError):
            TopShare.from_json(bad)


def test_parameters() -> None:
    assert parse_ranking_query({}) == RankingQuery(10, None)
    assert parse_ranking_query({"limit": "5", "top": "0", "scope": "local"}) == RankingQuery(5, 0)
    for params, param in (
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"top": "-1"}, "top"),
        ({"sort": "devices"}, "sort"),
    ):
        with pytest.raises(ListingError) as refused:
            parse_ranking_query(params)
        assert refused.value.param == param
    with pytest.raises(ListingError, match="limit: is given more than once"):
        parse_ranking_query(MultiDict([("limit", "5"), ("limit", "6")]))
