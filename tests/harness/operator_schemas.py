"""The Prometheus Operator objects deploy/ ships, as JSON Schema, for offline validation.

kubernetes-validate knows the built-in kinds only. These schemas follow the operator's
monitoring.coreos.com/v1 CRDs for the fields deploy/ uses: the same names, types, duration and
label-name patterns and relabelling actions. They admit nothing else, so a misspelt field fails
here instead of being dropped by the API server; a new field deploy/ starts to use is added here.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

DURATION: Schema = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
    r"(([0-9]+)ms)?)$",
}
LABEL_NAME: Schema = {"type": "string", "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"}
STRING_MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
RELABEL_ACTIONS = [
    spelling
    for action in (
        "Replace",
        "Keep",
        "Drop",
        "HashMod",
        "LabelMap",
        "LabelDrop",
        "LabelKeep",
        "Lowercase",
        "Uppercase",
        "KeepEqual",
        "DropEqual",
    )
    for spelling in (action, action.lower())
]


def closed(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


METADATA = closed(
    {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    required=("name",),
)
LABEL_SELECTOR = closed({"matchLabels": STRING_MAP, "matchExpressions": {"type": "array"}})
RELABEL_CONFIG = closed(
    {
        "sourceLabels": {"type": "array", "items": LABEL_NAME},
        "separator": {"type": "string"},
        "targetLabel": {"type": "string"},
        "regex": {"type": "string"},
        "replacement": {"type": "string"},
        "modulus": {"type": "integer"},
        "action": {"enum": RELABEL_ACTIONS},
    }
)
ENDPOINT = closed(
    {
        "port": {"type": "string"},
        "path": {"type": "string"},
        "scheme": {"enum": ["http", "https"]},
        "interval": DURATION,
        "scrapeTimeout": DURATION,
        "honorLabels": {"type": "boolean"},
        "relabelings": {"type": "array", "items": RELABEL_CONFIG},
        "metricRelabelings": {"type": "array", "items": RELABEL_CONFIG},
        # The Prometheus pod's own service account token, read from its file at each scrape
        # (deprecated by the CRD in favour of authorization, which names a Secret instead).
        "bearerTokenFile": {"type": "string"},
        "authorization": closed(
            {
                "type": {"type": "string"},
                "credentials": closed(
                    {
                        "name": {"type": "string"},
                        "key": {"type": "string"},
                        "optional": {"type": "boolean"},
                    },
                    required=("key",),
                ),
            }
        ),
    }
)
RULE = {
    **closed(
        {
            "alert": {"type": "string", "minLength": 1},
            "record": {"type": "string", "minLength": 1},
            "expr": {"type": ["string", "integer"]},
            "for": DURATION,
            "keep_firing_for": DURATION,
            "labels": STRING_MAP,
            "annotations": STRING_MAP,
        },
        required=("expr",),
    ),
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
}
RULE_GROUP = closed(
    {
        "name": {"type": "string", "minLength": 1},
        "interval": DURATION,
        "rules": {"type": "array", "items": RULE},
    },
    required=("name",),
)


def operator_object(kind: str, spec: Schema) -> Schema:
    return closed(
        {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
        },
        required=("apiVersion", "kind", "metadata", "spec"),
    )


SCHEMAS: dict[str, Schema] = {
    "ServiceMonitor": operator_object(
        "ServiceMonitor",
        closed(
            {
                "selector": LABEL_SELECTOR,
                "namespaceSelector": closed(
                    {"any": {"type": "boolean"}, "matchNames": {"type": "array"}}
                ),
                "jobLabel": {"type": "string"},
                "endpoints": {"type": "array", "items": ENDPOINT},
            },
            required=("selector",),
        ),
    ),
    "PrometheusRule": operator_object(
        "PrometheusRule",
        closed({"groups": {"type": "array", "items": RULE_GROUP}}),
    ),
}
