"""Route signatures, compatibility and the change detector (netstats.routes), on hand-made
traces: no sockets, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from netstats.routes import (
    DetectorState,
    Signature,
    Trace,
    compatible,
    distinct_routes,
    hop_changes,
    observe,
    runs,
    signature_of,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
K = 3


def sig(*hops: str, reached: bool = True) -> Signature:
    """``sig("r1", "", "a|b", "t")``: one argument per TTL, ``|`` between ECMP addresses,
    an empty string for a silent TTL."""
    return Signature(tuple(frozenset(h.split("|")) if h else frozenset() for h in hops), reached)


A = sig("r1", "", "pa", "t")
B = sig("r1", "", "pb", "t")


def feed(signatures, k: int = K, state: DetectorState | None = None):
    """Run the detector over signatures one minute apart; the final state and the findings."""
    state = state or DetectorState()
    found = []
    for n, s in enumerate(signatures):
        state, new = observe(state, Trace(n + 1, T0 + timedelta(minutes=n), s), k)
        found.extend(new)
    return state, found


# --- signatures -------------------------------------------------------------------------------


def _hop(ttl, *addresses):
    return {"ttl": ttl, "addresses": list(addresses), "sent": 3, "received": len(addresses)}


def test_signature_stops_at_the_last_ttl_that_answered_with_silent_ttls_as_wildcards():
    hops = [_hop(1, "r1"), _hop(2), _hop(3, "r3"), _hop(4), _hop(5)]
    s = signature_of(hops, reached=False)
    assert s == sig("r1", "", "r3", reached=False)
    assert s.to_json() == {"hops": [["r1"], [], ["r3"]], "reached": False}
    assert Signature.from_json(s.to_json()) == s


def test_signature_places_hops_by_ttl_and_a_late_first_ttl_leaves_the_first_ones_silent():
    s = signature_of([_hop(3, "b", "a"), _hop(2, "x")], reached=None, destination="a")
    assert s == sig("", "x", "a|b", reached=True)


def test_a_trace_where_no_ttl_answered_has_no_signature():
    assert signature_of([_hop(1), _hop(2)], reached=False) is None
    assert signature_of([], reached=False) is None


@pytest.mark.parametrize(
    "hops",
    [
        None,
        "r1",
        [None, 3, "x"],
        [{"ttl": "1", "addresses": ["a"]}, {"ttl": True, "addresses": ["a"]}],
        [{"ttl": 0, "addresses": ["a"]}, {"ttl": 256, "addresses": ["a"]}],
        [{"ttl": 1, "addresses": "a"}, {"ttl": 2, "addresses": [None, 5, ""]}],
    ],
)
def test_malformed_hops_from_a_plugin_give_no_signature_and_never_raise(hops):
    assert signature_of(hops, reached=True) is None


# --- compatibility ----------------------------------------------------------------------------


def test_same_path_is_compatible_and_another_branch_is_not():
    assert compatible(A, A)
    assert not compatible(A, B)


def test_a_silent_ttl_is_a_wildcard():
    assert compatible(sig("r1", "", "", "t"), A)
    assert compatible(sig("r1", "x", "pa", "t"), A)  # r2 silent in A: anything fits
    assert not compatible(sig("r1", "", "", "t"), sig("r2", "", "", "t"))


def test_ecmp_sets_are_compatible_when_they_share_an_address():
    both = sig("r1", "", "pa|pb", "t")
    assert compatible(both, A) and compatible(both, B)
    assert not compatible(sig("r1", "", "pc|pd", "t"), both)


def test_length_must_match_when_both_reached_and_may_differ_by_one_otherwise():
    longer = sig("r1", "", "pa", "x", "t")
    assert not compatible(A, longer)
    short = sig("r1", "", "pa", reached=False)  # the destination kept silent
    assert compatible(A, short)
    assert compatible(short, sig("r1", "", "pa", "q", reached=False))
    assert not compatible(A, sig("r1", "", reached=False))  # two TTLs short


# --- the detector -----------------------------------------------------------------------------


def test_the_first_trace_sets_the_current_route_without_a_change():
    state, found = feed([A])
    assert state.current == A and state.since == T0 and found == []


def test_one_path_for_a_hundred_traces_is_no_change():
    state, found = feed([A] * 100)
    assert found == [] and state.flaps == 0 and state.current == A


def test_silent_hops_coming_and_going_are_no_change_and_fill_the_route_in():
    quiet = sig("r1", "", "", "t")
    state, found = feed([quiet, A, quiet, quiet, quiet, A, quiet])
    assert found == []
    assert state.current == A  # the silent TTL 3 of the first trace took pa


def test_ecmp_alternation_inside_one_set_is_no_change():
    both = sig("r1", "", "pa|pb", "t")
    state, found = feed([both, A, B, B, B, A, both, B])
    assert found == [] and state.current == both


def test_a_flap_of_one_trace_is_counted_not_a_change():
    state, found = feed([A, A, B, A, A])
    assert [f.kind for f in found] == ["flap"]
    flap = found[0]
    assert [t.measurement_id for t in flap.traces] == [3]
    assert flap.first_ttl == flap.last_ttl == 3
    assert [h.to_json() for h in flap.hops] == [
        {"ttl": 3, "old": ["pa"], "new": ["pb"], "differs": True}
    ]
    assert state.current == A and state.flaps == 1 and state.candidate == ()


def test_a_flap_of_two_traces_is_counted_not_a_change():
    state, found = feed([A, B, B, A])
    assert [(f.kind, len(f.traces)) for f in found] == [("flap", 2)]
    assert state.flaps == 1 and state.current == A


def test_a_candidate_pending_is_neither_yet():
    state, found = feed([A, B, B])
    assert found == [] and len(state.candidate) == 2 and state.current == A


def test_three_consecutive_traces_on_a_new_path_are_a_change_at_the_first_of_them():
    state, found = feed([A, A, B, B, B, B])
    [change] = found
    assert change.kind == "change"
    assert change.at == T0 + timedelta(minutes=2)
    assert [t.measurement_id for t in change.traces] == [3, 4, 5]
    assert change.old == A and change.new == B
    assert (change.first_ttl, change.last_ttl) == (3, 3)
    assert state.current == B and state.since == change.at and state.candidate == ()


def test_a_change_then_a_return_is_a_second_change():
    state, found = feed([A, B, B, B, A, A, A])
    assert [(f.kind, f.old, f.new) for f in found] == [("change", A, B), ("change", B, A)]
    assert found[1].at == T0 + timedelta(minutes=4)
    assert state.current == A


def test_k_is_a_setting():
    _, found = feed([A, B, B, B, B], k=5)
    assert found == []
    _, found = feed([A, B], k=1)
    assert [f.kind for f in found] == ["change"]


def test_incompatible_traces_that_disagree_with_each_other_are_flaps_not_a_change():
    C = sig("r1", "", "pc", "t")
    state, found = feed([A, B, C, B, C, A])
    assert [f.kind for f in found] == ["flap"] * 4
    assert state.current == A and state.flaps == 4


def test_a_trace_that_fits_both_routes_neither_counts_nor_breaks_the_candidate():
    ambiguous = sig("r1", "", "", "t")
    _, found = feed([A, B, ambiguous, B, B])
    assert [(f.kind, [t.measurement_id for t in f.traces]) for f in found] == [
        ("change", [2, 4, 5])
    ]


def test_the_new_route_merges_the_k_traces_of_a_change():
    _, found = feed(
        [A, sig("r9", "", "pb", "t"), sig("r9", "x", "pb", "t"), sig("r9", "", "", "t")]
    )
    [change] = found
    assert change.new == sig("r9", "x", "pb", "t")
    assert (change.first_ttl, change.last_ttl) == (1, 3)
    assert [h.differs for h in change.hops] == [True, False, True]


def test_a_longer_path_differs_from_where_the_old_destination_was():
    longer = sig("r1", "", "pa", "x", "t")
    first, last, hops = hop_changes(A, longer)
    assert (first, last) == (4, 5)
    assert [h.to_json() for h in hops] == [
        {"ttl": 4, "old": ["t"], "new": ["x"], "differs": True},
        {"ttl": 5, "old": None, "new": ["t"], "differs": True},
    ]
    inserted = sig("r1", "", "pa", "", "t")  # a silent hop inserted before the destination
    assert hop_changes(A, inserted)[:2] == (4, 5)


def test_state_survives_a_round_trip_through_json_as_storage_does_it():
    state, _ = feed([A, B, B])
    restored = [Trace.from_json(t.to_json()) for t in state.candidate]
    assert tuple(restored) == state.candidate


# --- runs and routes over a range ----------------------------------------------------------------


def test_runs_compress_consecutive_traces_of_one_path_and_routes_count_distinct_paths():
    quiet = sig("r1", "", "", "t")
    traces = [Trace(n, T0 + timedelta(minutes=n), s) for n, s in enumerate([A, quiet, A, B, A, A])]
    found = runs(traces)
    assert [(r.first.measurement_id, r.last.measurement_id, r.count) for r in found] == [
        (0, 2, 3),
        (3, 3, 1),
        (4, 5, 2),
    ]
    routes = distinct_routes(found)
    assert routes == [A, B]
    assert [r.route for r in found] == [0, 1, 0]
