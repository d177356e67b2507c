"""Shell completion: `nsinspect completion bash|zsh|fish`, pod names and namespaces as
candidates, and `kubectl_complete-nsinspect`, which kubectl (1.26 and later) runs for
`kubectl nsinspect <TAB>`.

Candidates come from where the command would look: this node's scan locally, the API server
remotely (with a short timeout). Completion never prints an error into the shell: what cannot
be listed offers nothing, and stderr is silenced while candidates are sought.

kubectl's protocol (cobra's `__complete`, which kubectl relays for plugins): the completer is
called with the words after `kubectl nsinspect`, the last one the word being completed ("" for
a new one); it prints one candidate a line (`value<TAB>description`) and, last, `:<directive>`,
a bit set of cobra's ShellCompDirective.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import IntFlag
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from .options import GlobalOptions

SHELLS = ("bash", "zsh", "fish")
PROG_NAME = "nsinspect"
# The API server gets this long to list names: a shell waits for the answer.
API_TIMEOUT_SECONDS = 3.0


class Directive(IntFlag):
    """cobra's ShellCompDirective: what the shell does besides offering the candidates."""

    DEFAULT = 0  # candidates; without any, the shell completes file names
    ERROR = 1
    NO_SPACE = 2
    NO_FILE_COMP = 4
    FILTER_FILE_EXT = 8
    FILTER_DIRS = 16
    KEEP_ORDER = 32


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish): commands, options,
    pod names and namespaces (from this node's scan, or the API server when a cluster is
    configured).

    \b
    Load it in the current shell:
      bash:  source <(nsinspect completion bash)
      zsh:   source <(nsinspect completion zsh)
      fish:  nsinspect completion fish | source
    Or for every new shell:
      bash:  nsinspect completion bash > ~/.local/share/bash-completion/completions/nsinspect
      zsh:   nsinspect completion zsh > "${fpath[1]}/_nsinspect"
      fish:  nsinspect completion fish > ~/.config/fish/completions/nsinspect.fish
    As a kubectl plugin, `kubectl nsinspect <TAB>` completes through kubectl's own completion
    and the kubectl_complete-nsinspect executable beside kubectl-nsinspect on PATH."""
    from click.shell_completion import get_completion_class

    root = ctx.find_root()
    prog_name = root.info_name or PROG_NAME
    completer = get_completion_class(shell)
    assert completer is not None  # bash, zsh and fish are click's own
    complete_var = "_{}_COMPLETE".format(prog_name.replace("-", "_").replace(".", "_").upper())
    click.echo(completer(root.command, {}, prog_name, complete_var).source())


def complete_pod_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the pods (in the -n namespace, when given) that start with `incomplete`,
    each described by its namespaces; `pod/NAME` (as `-o name` prints it) completes alike."""
    prefix = "pod/" if incomplete.startswith("pod/") else ""
    options = _options(ctx)
    with _quiet_stderr():
        pods = _listed(lambda: _pod_names(options))
    namespaces: dict[str, set[str]] = {}
    for namespace, name in pods:
        if (prefix + name).startswith(incomplete) and _typeable(name):
            namespaces.setdefault(name, set()).add(namespace or "-")
    return [
        CompletionItem(prefix + name, help=", ".join(sorted(namespaces[name])))
        for name in sorted(namespaces)
    ]


def complete_namespaces(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The Kubernetes namespaces that start with `incomplete`: the node's pods' (locally) or the
    cluster's (remotely)."""
    options = _options(ctx)
    with _quiet_stderr():
        namespaces = _listed(lambda: _namespaces(options))
    return [
        CompletionItem(namespace)
        for namespace in sorted(set(namespaces))
        if namespace.startswith(incomplete) and _typeable(namespace)
    ]


def kubectl_complete() -> None:
    """`kubectl_complete-nsinspect WORD... INCOMPLETE`: the candidates for INCOMPLETE after the
    words, in kubectl's plugin completion format."""
    from click.shell_completion import ShellComplete

    from .main import cli

    words = sys.argv[1:]
    args, incomplete = words[:-1], words[-1] if words else ""
    try:
        with _quiet_stderr():
            items = ShellComplete(cli, {}, "kubectl-nsinspect", "").get_completions(
                args, incomplete
            )
    except Exception:  # a half-typed command line: offer nothing rather than a traceback
        items = []
    click.echo("\n".join(_kubectl_lines(items)))


def _kubectl_lines(items: Iterable[CompletionItem]) -> list[str]:
    """Candidate lines and the directive line last: file or directory completion where click
    would (no candidates then), otherwise the candidates alone (no file names)."""
    plain = [item for item in items if item.type == "plain"]
    kinds = {item.type for item in items}
    if not plain and "dir" in kinds:
        return [f":{int(Directive.FILTER_DIRS)}"]
    if not plain and "file" in kinds:
        return [f":{int(Directive.DEFAULT)}"]
    lines = [_candidate(item) for item in plain if _typeable(str(item.value))]
    return [*lines, f":{int(Directive.NO_FILE_COMP)}"]


def _candidate(item: CompletionItem) -> str:
    description = " ".join((item.help or "").split())  # one line, no tabs
    return f"{item.value}\t{description}" if description else str(item.value)


def _typeable(word: str) -> bool:
    """A candidate a shell can take as one word: no whitespace, no control characters (a
    node's names are hostile input)."""
    return bool(word) and word.isprintable() and not any(c.isspace() for c in word)


def _options(ctx: click.Context) -> GlobalOptions:
    from .options import global_options

    return global_options(ctx)


def _listed(ask: Callable[[], list[Any]]) -> list[Any]:
    """What `ask` lists, or nothing when it fails: completion is never an error."""
    try:
        return ask()
    except (Exception, click.exceptions.Exit, click.Abort):
        return []


def _pod_names(options: GlobalOptions) -> list[tuple[str, str]]:
    """(namespace, name) of the pods the command would look among."""
    sources = options.sources()
    remote = _remote(options)
    if remote is None:
        namespace = options.local_namespace()
        return [
            (pod_namespace, name)
            for pod_namespace, name in sources.local.reports.pod_names()
            if namespace is None or pod_namespace == namespace
        ]
    timeout = min(API_TIMEOUT_SECONDS, options.request_timeout or API_TIMEOUT_SECONDS)
    if options.all_namespaces:
        listing = remote.core.list_pod_for_all_namespaces(_request_timeout=timeout)
    else:
        scope = options.namespace or remote.default_namespace()
        listing = remote.core.list_namespaced_pod(scope, _request_timeout=timeout)
    return [(pod.metadata.namespace or "", pod.metadata.name or "") for pod in listing.items]


def _namespaces(options: GlobalOptions) -> list[str]:
    remote = _remote(options)
    if remote is None:
        return [namespace for namespace, _ in options.local.reports.pod_names() if namespace]
    timeout = min(API_TIMEOUT_SECONDS, options.request_timeout or API_TIMEOUT_SECONDS)
    try:
        listing = remote.core.list_namespace(_request_timeout=timeout)
    except Exception:  # many users may list pods everywhere but not namespaces: their pods'
        pods = remote.core.list_pod_for_all_namespaces(_request_timeout=timeout)
        return [pod.metadata.namespace or "" for pod in pods.items]
    return [item.metadata.name or "" for item in listing.items]


def _remote(options: GlobalOptions) -> Any:
    """The API client's source when the command would ask the cluster (never announced)."""
    return options.sources().remote(output="json")


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Nothing the search writes to stderr (a warning, a library's log) reaches the shell."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
