"""Calls that arrive while a scoring pass runs share the next pass; a bad one fails alone."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from leadscore.serving.coalesce import Coalescer


def test_waiting_calls_share_one_pass_and_each_gets_its_own_answer():
    passes: list[list[int]] = []

    def score_many(items):
        passes.append(list(items))
        time.sleep(0.05)  # a pass takes a while; more calls arrive meanwhile
        return [item * 10 for item in items]

    async def main():
        coalescer = Coalescer(score_many)
        return await asyncio.gather(*(coalescer.submit(i) for i in range(20)))

    assert asyncio.run(main()) == [i * 10 for i in range(20)]
    assert len(passes) < 20 and sorted(i for p in passes for i in p) == list(range(20))


def test_a_lone_call_is_not_held_back():
    async def main():
        coalescer = Coalescer(lambda items: [i + 1 for i in items])
        started = time.perf_counter()
        answer = await coalescer.submit(1)
        return answer, time.perf_counter() - started

    answer, took = asyncio.run(main())
    assert answer == 2 and took < 0.5


def test_one_failing_lead_does_not_fail_the_others_in_its_pass():
    gate = threading.Event()

    def score_many(items):
        gate.wait(1)
        if "bad" in items:
            raise ValueError("cannot score this one")
        return [f"ok {item}" for item in items]

    async def main():
        coalescer = Coalescer(score_many)
        calls = [asyncio.ensure_future(coalescer.submit(item)) for item in ("a", "bad", "b")]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*calls, return_exceptions=True)

    first, bad, last = asyncio.run(main())
    assert (first, last) == ("ok a", "ok b")
    assert isinstance(bad, ValueError)


@pytest.mark.parametrize("size", [1, 3])
def test_passes_never_exceed_the_maximum_size(size):
    seen: list[int] = []

    def score_many(items):
        seen.append(len(items))
        time.sleep(0.01)
        return list(items)

    async def main():
        coalescer = Coalescer(score_many, max_size=size)
        return await asyncio.gather(*(coalescer.submit(i) for i in range(10)))

    assert asyncio.run(main()) == list(range(10))
    assert max(seen) <= size
