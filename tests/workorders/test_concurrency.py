"""Races, on SQLite and on the real PostgreSQL, with real threads released together."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tests.workorders.support import DEPT, T0, dispatched, draft
from workorders import store
from workorders.states import IllegalTransition

R = TypeVar("R")


def race(n: int, work: Callable[[int], R]) -> list[R | BaseException]:
    """Run work(0..n-1) in n threads that start at the same moment; results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported to the test, not lost in the thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_50_concurrent_creations_get_50_consecutive_numbers(url: str) -> None:
    results = race(50, lambda i: store.create(url, draft(request_text=f"诉求{i}"), now=T0))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    numbers = sorted(r.number for r in results)  # type: ignore[union-attr]
    assert numbers == [f"20261123-{i:04d}" for i in range(1, 51)]
    # each number belongs to the request that received it
    for r in results:
        assert store.get(url, r.number).request_text == r.request_text  # type: ignore[union-attr]


def test_concurrent_retries_with_one_idempotency_key_make_one_order(url: str) -> None:
    results = race(8, lambda _: store.create(url, draft(), idempotency_key="voice:call-7", now=T0))
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert {r.number for r in results} == {"20261123-0001"}  # type: ignore[union-attr]
    assert store.count_orders(url) == 1
    assert len(store.timeline(url, "20261123-0001")) == 1


def test_two_signs_at_once_one_wins(url: str) -> None:
    number = dispatched(url)
    results = race(2, lambda _: store.transition(url, number, "签收", DEPT, now=T0))
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1
    assert isinstance(losses[0], IllegalTransition) and "已签收" in str(losses[0])
    actions = [e.action for e in store.timeline(url, number)]
    assert actions == ["受理", "派单", "签收"]
