"""The text format written directly is what prometheus-client writes for the same families."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from nsinspect.agent.metrics.text_format import GaugeFamily, render

HELP = 'Help with "quotes", \\ and\nnewline.'
LABELS = ("pod", "container", "ns_type", "a_first")
SERIES = [
    (("web", "nginx", "net", "x"), 1),
    (('quo"te', "back\\slash", "new\nline", "{braces}"), 0),
    (("", "", "", ""), 1733100000.123456),
    (("p", "c", "pid", "z"), 0.5),
]


class Families(Collector):
    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("demo_info", HELP, labels=LABELS)
        for values, value in SERIES:
            family.add_metric(list(values), value)
        yield family
        yield GaugeMetricFamily("demo_empty", "No series.", labels=["ns_type"])
        yield GaugeMetricFamily("demo_plain", "No labels.", value=3567)


def reference() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families())
    return generate_latest(registry)


def test_unbound_and_bound_series_render_as_generate_latest_does() -> None:
    info = GaugeFamily("demo_info", HELP, LABELS)
    info.add(SERIES[0][0], SERIES[0][1])
    # The first two labels fixed, as the metrics do per container.
    bound = info.bind(SERIES[1][0][:2])
    bound.add(SERIES[1][0][2:], SERIES[1][1])
    info.add(SERIES[2][0], SERIES[2][1])
    info.bind(SERIES[3][0]).add([], SERIES[3][1])
    empty = GaugeFamily("demo_empty", "No series.", ["ns_type"])
    plain = GaugeFamily("demo_plain", "No labels.")
    plain.add([], 3567)

    text = render([info, empty, plain])

    assert text == reference()
    parsed = {f.name: f for f in text_string_to_metric_families(text.decode())}
    assert parsed["demo_info"].samples[1].labels["ns_type"] == "new\nline"
