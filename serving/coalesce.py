"""Concurrent single-lead calls scored together: one scoring pass for whatever is waiting.

A pass runs in a worker thread, so the event loop keeps accepting calls while it scores; each
pass pays a hop to that thread and the scorer's per-call work (model calls, encoders) once,
whatever its number of leads. Under load, webhooks arrive while a pass is running; instead of
queueing them one by one behind it, the next pass takes every call that is waiting. There is
no timer, so a lone call is never held back: at low traffic each call is its own pass, at high
traffic passes grow and the waiting stays bounded. BentoML's adaptive batching would need
clients to send lists; this keeps ``POST /score`` one lead in, one out.

A pass that fails is retried lead by lead, so one bad lead cannot fail the calls it shared a
pass with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Call(Generic[In, Out]):
    item: In
    answer: asyncio.Future[Out]


@dataclass
class Coalescer(Generic[In, Out]):
    """Runs ``score_many`` in a worker thread over every call waiting when a pass starts."""

    score_many: Callable[[Sequence[In]], Sequence[Out]]
    max_size: int = 64
    _queue: asyncio.Queue[_Call[In, Out]] | None = None
    _runner: asyncio.Task[None] | None = None
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    async def submit(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            self._loop, self._queue = loop, asyncio.Queue()
            self._runner = loop.create_task(self._run())
        call: _Call[In, Out] = _Call(item, loop.create_future())
        await self._queue.put(call)
        return await call.answer

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self.max_size:
                batch.append(self._queue.get_nowait())
            await self._score(batch)

    async def _score(self, batch: list[_Call[In, Out]]) -> None:
        try:
            answers = await anyio.to_thread.run_sync(self.score_many, [c.item for c in batch])
        except Exception as error:  # handed to the calls, one by one
            if len(batch) > 1:
                for call in batch:
                    await self._score([call])
                return
            answers, failure = [], error
        else:
            failure = None
        for call, answer in zip(batch, answers, strict=False):
            if not call.answer.done():
                call.answer.set_result(answer)
        for call in batch:
            if not call.answer.done():
                call.answer.set_exception(failure or RuntimeError("no answer for this lead"))
