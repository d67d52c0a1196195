"""Progress of long work: announced by the library, drawn only when the command line asks.

Training, the training-set build and batch scoring run for minutes on a real export, and a
silent terminal reads as a hang. Yet these are library functions that tests, notebooks and the
scoring service call too, and they must stay free of terminal concerns: no print, no rich live
display, no cost when nobody watches. So they only announce their work, with :func:`task`,
:func:`stages` and :func:`track`, which do nothing by default. The command line enters
:func:`shown` for a command's duration; that puts a display in a context variable, and the
same calls then draw rich progress bars (description, bar, M/N, elapsed, remaining) on stderr
or on the console it is given, never among data on stdout.

Why hand-written rather than rich's own ``track`` in each function: rich's helpers always draw,
so the library would print wherever it runs. Why a :class:`contextvars.ContextVar` rather than a
module global or a callback threaded through every signature: a display turned on in one
context (a command) is never seen by another (a server's request, a test next door), and no
signature grows a parameter that only the terminal cares about.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

T = TypeVar("T")


class Advance(Protocol):
    """Moves a task on by ``steps``; ``description``, when given, names what runs now."""

    def __call__(self, steps: float = 1, description: str | None = None) -> None: ...


@dataclass
class _Display:
    """The console the bars go to, and the bars while any task is open."""

    console: Console
    bars: Progress | None = None
    open: list[int] = field(default_factory=list)  # task ids, outermost first
    hidden: int = 0  # depth inside tasks too small to show: their inner tasks hide too


_display: ContextVar[_Display | None] = ContextVar("leadscore_progress", default=None)


def _nothing(steps: float = 1, description: str | None = None) -> None:
    return None


@contextmanager
def shown(console: Console | None = None) -> Iterator[None]:
    """Draw the progress of long work as rich bars on ``console`` (default: stderr) while open.

    The command line enters this for a command's duration. A task's bar appears when it starts
    and, at the outermost level, stays as one finished line (inner tasks go when done). Bars
    are for a person watching: on a console that is no terminal (stderr to a file, a test
    runner) nothing is drawn.
    """
    from rich.console import Console

    console = console or Console(stderr=True)
    if not (console.is_terminal or console.is_jupyter):
        yield
        return
    token = _display.set(_Display(console))
    try:
        yield
    finally:
        display = _display.get()
        if display is not None and display.bars is not None:
            display.bars.stop()
        _display.reset(token)


@contextmanager
def task(description: str, total: float | None = None, *, show: bool = True) -> Iterator[Advance]:
    """A unit of long work: yields ``advance`` to call as each of its ``total`` steps is done.

    A no-op unless :func:`shown` is in force. ``show=False`` marks a job too small to be worth a
    bar (scoring a few hundred leads): it and every task inside it draw nothing. A task that ends
    without error is drawn complete, even if some of its steps did not apply to this run.
    """
    display = _display.get()
    if display is None or display.hidden or not show:
        if display is not None and not show:
            display.hidden += 1
        try:
            yield _nothing
        finally:
            if display is not None and not show:
                display.hidden -= 1
        return
    bars = display.bars or _start(display)
    task_id = bars.add_task(description, total=total)
    display.open.append(task_id)
    bars.refresh()

    def advance(steps: float = 1, description: str | None = None) -> None:
        bars.update(task_id, advance=steps, description=description)
        if description is not None:  # a new stage is drawn at once, however short
            bars.refresh()

    finished = False
    try:
        yield advance
        finished = True
    finally:
        display.open.pop()
        if finished:
            done = next(t.completed for t in bars.tasks if t.id == task_id)
            size = total if total is not None else done or 1
            bars.update(task_id, total=size, completed=size, description=description)
            bars.refresh()
        if display.open and finished:
            bars.remove_task(task_id)
        elif not display.open:
            bars.stop()
            display.bars = None


@contextmanager
def stages(
    description: str, names: Sequence[str], *, show: bool = True
) -> Iterator[Callable[[str], None]]:
    """A :func:`task` of named stages: yields ``begin``, to call with each stage's name as it
    starts (the stages before it are then done); the bar reads "description: stage"."""
    with task(description, len(names), show=show) as advance:
        done = 0

        def begin(name: str) -> None:
            nonlocal done
            at = names.index(name)
            advance(at - done, f"{description}: {name}")
            done = at

        yield begin


def track(
    items: Iterable[T], description: str, total: float | None = None, *, show: bool = True
) -> Iterator[T]:
    """``items`` one by one, each advancing a :func:`task` of ``total`` steps (default: the
    length of ``items`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with task(description, total, show=show) as advance:
        for item in items:
            yield item
            advance()


def _start(display: _Display) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    display.bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=display.console,
        # text printed to a terminal's stdout goes above the bars; piped stdout stays as it is
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=True,
    )
    display.bars.start()
    return display.bars
