"""The -w loop: first answer at once, then only changes; ends quietly on Ctrl-C and SIGTERM."""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable, Iterator

import click
import msgspec
import pytest

from nsinspect.cli.watch import same_document, same_for, separator_for, watch


class Answer(msgspec.Struct):
    taken_at: float
    pods: list[str]


def producer(answers: list[Answer], end: Callable[[], None]) -> Callable[[], Answer]:
    pending: Iterator[Answer] = iter(answers)

    def produce() -> Answer:
        answer = next(pending, None)
        if answer is None:
            end()
        assert answer is not None
        return answer

    return produce


def interrupt() -> None:
    raise KeyboardInterrupt


def terminate() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(1)  # the handler raises before this returns


@pytest.mark.parametrize("end", [interrupt, terminate])
def test_emits_first_answer_then_changes_only(
    end: Callable[[], None], capsys: pytest.CaptureFixture[str]
) -> None:
    answers = [
        Answer(taken_at=1.0, pods=["a"]),
        Answer(taken_at=2.0, pods=["a"]),  # only when it was taken changed
        Answer(taken_at=3.0, pods=["a", "b"]),
        Answer(taken_at=4.0, pods=["a", "b"]),
    ]
    emitted: list[Answer] = []
    before = signal.getsignal(signal.SIGTERM)
    watch(
        producer(answers, end),
        emitted.append,
        interval=0.01,
        same=same_document,
        separator="---",
    )
    assert [a.pods for a in emitted] == [["a"], ["a", "b"]]
    assert capsys.readouterr().out == "---\n"  # one separator: before the one re-render
    assert signal.getsignal(signal.SIGTERM) is before  # the watch's handler is gone


def test_sleeps_between_answers() -> None:
    calls: list[float] = []

    def produce() -> int:
        calls.append(time.monotonic())
        if len(calls) == 3:
            raise KeyboardInterrupt
        return len(calls)

    started_cpu = time.process_time()
    watch(produce, lambda _: None, interval=0.2, same=lambda a, b: a == b)
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert all(gap >= 0.19 for gap in gaps)
    assert time.process_time() - started_cpu < 0.1  # asleep, not spinning


def test_separators() -> None:
    assert separator_for("yaml") == "---"
    assert separator_for("json") is None
    assert separator_for("table") == ""
    assert separator_for("wide") == ""


def test_same_document_ignores_volatile_fields_only() -> None:
    class Facts(msgspec.Struct):
        cpu_seconds: float
        rss_bytes: int
        threads: int

    assert same_document(Facts(1.0, 10, 1), Facts(2.0, 20, 1))
    assert not same_document(Facts(1.0, 10, 1), Facts(1.0, 10, 2))


def test_same_output_compares_what_is_printed_and_renders_each_answer_once() -> None:
    rendered: list[Answer] = []

    def emit(answer: Answer) -> None:
        rendered.append(answer)
        print(" ".join(answer.pods))  # taken_at is not shown

    same = same_for("table", emit)
    first, second, third = Answer(1.0, ["a"]), Answer(2.0, ["a"]), Answer(3.0, ["b"])
    assert same(first, second)
    assert not same(first, third)
    assert [a.pods for a in rendered] == [["a"], ["a"], ["b"]]  # `first` rendered once, kept
    assert same_for("json", emit) is same_document


def test_same_output_ignores_volatile_fields_a_format_prints() -> None:
    class Facts(msgspec.Struct):
        cpu_seconds: float
        threads: int

    same = same_for("wide", lambda facts: print(f"{facts.cpu_seconds} {facts.threads}"))
    assert same(Facts(1.5, 2), Facts(9.0, 2))
    assert not same(Facts(1.5, 2), Facts(1.5, 3))


def test_a_failed_look_is_said_once_and_the_watch_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A deleted pod (not found) is said once on stderr; when it is back it is printed again."""
    looks = iter(["a", "gone", "gone", "a", "a"])

    def produce() -> str:
        look = next(looks, None)
        if look is None:
            raise KeyboardInterrupt
        if look == "gone":
            raise click.ClickException('pod "a" not found')
        return look

    emitted: list[str] = []
    watch(produce, emitted.append, interval=0.01, same=lambda a, b: a == b)
    assert emitted == ["a", "a"]
    assert capsys.readouterr().err.count('pod "a" not found') == 1
