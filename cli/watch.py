"""`-w/--watch`: render, then render again whenever the answer changes, until interrupted.

Like kubectl's `-w`, the first answer is printed at once and each change after it; unlike it,
a change re-renders the whole answer (a pod's report, or the pod list) rather than one row:
a row cannot say that a pod went away, and a pod's report is read as a whole. Re-renders are
separated as the format allows several documents in one stream: tables and names by a blank
line, YAML by `---`, JSON by nothing (concatenated documents, as `kubectl get -w -o json`
prints them and `jq` reads them).

The answer is asked again every `interval` seconds, sleeping in between (never a busy loop),
and compared with the last one printed (`same_for`): JSON and YAML documents without their
volatile fields (when it was taken, a process's CPU time and memory); every other format by
what it prints, so a change the format does not show (where another runtime was found, say)
prints nothing. A quiet node prints nothing more. Ctrl-C and SIGTERM end the watch with exit 0
and no traceback.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import click

T = TypeVar("T")
DEFAULT_INTERVAL = 2.0
# Fields that change from one scan to the next on a node where nothing happened.
VOLATILE_FIELDS = frozenset({"taken_at", "cpu_seconds", "rss_bytes"})
# What a text render makes volatile besides: a start time printed as an age ("1s ago").
RENDERED_VOLATILE_FIELDS = VOLATILE_FIELDS | {"started_at"}
SEPARATORS = {"yaml": "---", "json": None}


class _Terminated(BaseException):
    """SIGTERM, raised where the watch is; a BaseException, so no `except Exception` in the
    code that produces an answer swallows it."""


def separator_for(output: str) -> str | None:
    """The line printed between two renders in `output` format (None: nothing)."""
    return SEPARATORS.get(output, "")


def watch(
    produce: Callable[[], T],
    emit: Callable[[T], None],
    *,
    interval: float = DEFAULT_INTERVAL,
    same: Callable[[T, T], bool],
    separator: str | None = None,
) -> None:
    """Emit what `produce` answers, then every `interval` seconds ask again and emit the new
    answer when it is not `same` as the last one emitted (`separator`, when not None, on a
    line before each re-render). A look that fails after the first (the pod was deleted, the
    API server did not answer) is said on stderr once and the watch goes on: the pod may come
    back. Returns on Ctrl-C, SIGTERM or a closed stdout; the first look's error is raised."""
    previous_handler = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        last = produce()
        emit(last)
        _flush()
        failed = ""  # what the last look could not answer, said once until it answers again
        while True:
            if _reader_gone_within(interval):
                break
            try:
                answer = produce()
            except click.ClickException as exc:
                if exc.format_message() != failed:
                    failed = exc.format_message()
                    exc.show()
                continue
            if same(last, answer) and not failed:
                continue
            failed = ""
            if separator is not None:
                click.echo(separator)
            emit(answer)
            _flush()
            last = answer
    except (KeyboardInterrupt, _Terminated):
        pass
    except BrokenPipeError:
        _quiet_stdout()  # `nsinspect pods -w | head`: the reader is gone, and so is the watch
    finally:
        signal.signal(signal.SIGTERM, previous_handler)


def same_for(output: str, emit: Callable[[T], None]) -> Callable[[T, T], bool]:
    """How two answers are compared for `output`: documents for json and yaml, what `emit`
    prints for the rest (tables, names, jsonpath)."""
    if output in ("json", "yaml"):
        return same_document
    return same_output(emit)


def same_output(emit: Callable[[T], None]) -> Callable[[T, T], bool]:
    """Whether `emit` prints the same (stdout and stderr) for two answers, their volatile
    fields set alike (`pod -o wide` prints CPU time and memory). The texts of the last two
    answers compared are kept: each look renders only the new answer."""
    kept: list[tuple[Any, str]] = []

    def text_of(answer: T) -> str:
        for known, text in kept:
            if known is answer:
                return text
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            emit(_steady(answer))
        return captured.getvalue()

    def same(first: T, second: T) -> bool:
        first_text, second_text = text_of(first), text_of(second)
        kept[:] = [(first, first_text), (second, second_text)]
        return first_text == second_text

    return same


def same_document(first: Any, second: Any) -> bool:
    """Whether two documents (msgspec Structs) say the same but for their volatile fields."""
    return bool(_without_volatile(_builtins(first)) == _without_volatile(_builtins(second)))


def _builtins(document: Any) -> Any:
    import msgspec

    return msgspec.to_builtins(document)


def _steady(answer: T) -> T:
    """The answer with its volatile fields zero (a document; anything else as it is)."""
    import msgspec

    if not isinstance(answer, msgspec.Struct):
        return answer
    return msgspec.convert(_zeroed(_builtins(answer)), type(answer))


def _zeroed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: 0 if k in RENDERED_VOLATILE_FIELDS else _zeroed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_zeroed(item) for item in value]
    return value


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE_FIELDS}
    if isinstance(value, list):
        return [_without_volatile(item) for item in value]
    return value


def _reader_gone_within(seconds: float) -> bool:
    """Sleep `seconds`, or less: True as soon as stdout is a pipe whose reader has gone.

    `nsinspect pods -w | head -1` would otherwise live on until the next change made it write
    (kubectl's watch does): poll reports POLLERR on a pipe's write end once its read end is
    closed, and a terminal that hangs up reports POLLHUP. A file reports neither."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), 0)  # POLLERR and POLLHUP are always reported
    except (AttributeError, ValueError, OSError):  # no file descriptor behind stdout
        time.sleep(seconds)
        return False
    events = poller.poll(seconds * 1000)
    if any(mask & (select.POLLERR | select.POLLHUP) for _, mask in events):
        _quiet_stdout()
        return True
    if events:  # POLLNVAL: not a descriptor poll can watch; sleep as before
        time.sleep(seconds)
    return False


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _flush() -> None:
    """Each render reaches a pipe at once, not when a buffer fills."""
    sys.stdout.flush()


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's flush at exit would fail on the closed
    pipe again and print an error."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
