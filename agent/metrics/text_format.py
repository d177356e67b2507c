"""The Prometheus text format (0.0.4), written line by line.

prometheus-client's families build a Sample and a label dict per series, and generate_latest then
sorts and escapes each one again. At 1,500 containers a snapshot has ~25,000 series: that took
~0.5 s of CPU and ~15 MB at peak per render, in the agent's scan thread, holding the GIL that
scrapes wait for. Here each family keeps a line template with its labels in sorted order, and a
series is one format call. The text is byte for byte what generate_latest writes for the same
gauge families (labels sorted by name, values as Go prints floats), which the tests check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.utils import floatToGoString

# The values nearly every series has, formatted once.
_GO_FLOATS: dict[float, str] = {0.0: "0.0", 1.0: "1.0"}


def escape_label_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def go_float(value: float) -> str:
    """A value as generate_latest prints it (Go's float format: `1.0`, `1.7331e+09`)."""
    known = _GO_FLOATS.get(value)
    return known if known is not None else str(floatToGoString(value))  # type: ignore[no-untyped-call]


class Series:
    """Lines of one family that share the values of its first labels, fixed in the template."""

    def __init__(self, template: str, text: bytearray) -> None:
        self._template = template
        self._text = text

    def add(self, values: Sequence[str], value: float) -> None:
        """A series: the values of the labels not fixed, in the order the labels were given."""
        escaped = [escape_label_value(v) for v in values]
        self._text += self._template.format(*escaped, go_float(value)).encode()


class GaugeFamily:
    """One gauge family's HELP and TYPE lines and its series, in the order they are added.

    The series are encoded as they are added into one buffer: tens of thousands of line objects
    alive at once would cost more memory than the text itself, and fragment the heap."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()) -> None:
        help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
        self.name = name
        self.labels = tuple(labels)
        self.text = bytearray(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n".encode())
        self._unbound = self.bind(())

    def add(self, values: Sequence[str], value: float) -> None:
        """A series: label values in the order the labels were given."""
        self._unbound.add(values, value)

    def bind(self, fixed: Sequence[str]) -> Series:
        """The series whose first labels have the values `fixed`: escaped and placed once, so
        that a container's series differ only by what varies (ns_type, ns_inode)."""
        if not self.labels:
            return Series(f"{self.name} {{0}}\n", self.text)
        fields = []
        for index in sorted(range(len(self.labels)), key=lambda i: self.labels[i]):
            if index < len(fixed):
                value = escape_label_value(fixed[index]).replace("{", "{{").replace("}", "}}")
            else:
                value = f"{{{index - len(fixed)}}}"
            fields.append(f'{self.labels[index]}="{value}"')
        value_field = f"{{{len(self.labels) - len(fixed)}}}"
        return Series(f"{self.name}{{{{{','.join(fields)}}}}} {value_field}\n", self.text)


def render(families: Iterable[GaugeFamily]) -> bytes:
    return b"".join(family.text for family in families)
