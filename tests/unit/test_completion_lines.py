"""kubectl's plugin completion format, and which of a node's names a shell may be offered."""

from __future__ import annotations

from click.shell_completion import CompletionItem

from nsinspect.cli.completion import Directive, _kubectl_lines, _typeable


def test_candidates_then_the_directive() -> None:
    items = [CompletionItem("web-0", help="shop"), CompletionItem("web-1")]
    assert _kubectl_lines(items) == ["web-0\tshop", "web-1", ":4"]
    assert _kubectl_lines([]) == [":4"]  # nothing to offer, and no file names either


def test_file_and_directory_values_leave_it_to_the_shell() -> None:
    assert _kubectl_lines([CompletionItem("", type="file")]) == [":0"]
    assert _kubectl_lines([CompletionItem("", type="dir")]) == [f":{int(Directive.FILTER_DIRS)}"]


def test_descriptions_stay_on_one_line() -> None:
    (line, _) = _kubectl_lines([CompletionItem("pod", help="Report one pod:\n\twhat it\tshares")])
    assert line == "pod\tReport one pod: what it shares"


def test_hostile_names_are_never_offered() -> None:
    assert _typeable("web-0")
    for name in ("", "a b", "evil\n:0", "\x1b[2Jwipe", "tab\tname"):
        assert not _typeable(name)
    items = [CompletionItem("evil\n:0"), CompletionItem("ok")]
    assert _kubectl_lines(items) == ["ok", ":4"]
