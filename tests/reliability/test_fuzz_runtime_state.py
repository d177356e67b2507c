"""Fuzz the runtimes' state readers: OCI configs, containerd, CRI-O and cri-dockerd state files,
podman's database rows.

One file for the five suites because they share the JSON mutator. Each suite runs at least
10,000 generated inputs (counted), half arbitrary bytes, half documents shaped as the runtime
writes them with fields mutated: values of the wrong type, keys missing, ids that are paths,
lone surrogates, invalid UTF-8, numbers past any range, nesting past the decoders' depth, cut or
damaged bytes. Every input goes through the real reading function on real files, and:
- nothing raises;
- a file that is not a JSON object at all (stdlib json as the judge) is exactly one ScanError,
  any other file at most one;
- whatever is concluded encodes as the wire's JSON (a lone surrogate would not).
Settings as in test_fuzz_procfs (derandomized: reproducible in CI).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from nsinspect.agent.model import ContainerIdentity, Runtime, ScanError, ScanStage
from nsinspect.agent.runtimes.cgroups import CgroupMatch
from nsinspect.agent.runtimes.containerd import ContainerdResolver, containerd_identity
from nsinspect.agent.runtimes.cridockerd import CriDockerdResolver
from nsinspect.agent.runtimes.crio import CrioResolver, crio_identity
from nsinspect.agent.runtimes.oci_bundle import read_oci_bundle
from nsinspect.agent.runtimes.podman import PodmanResolver
from nsinspect.agent.runtimes.podman_db import read_podman_pods

EXAMPLES = 10_000
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
CID = "ab" * 32
SANDBOX = "cd" * 32
UID = "0dce96c8-10db-4274-82a3-05b59e8d9b10"

# Raw JSON put where a value was: what Python's json would pass on and a typed decoder must not.
NASTY = [
    b'"\\ud800"',
    b'"\xff\xfe"',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b"1e999",
    b"-" + b"9" * 5000,
    b"18446744073709551616",
    b"NaN",
    b'"a\\u0000b"',
    b'"../../../etc"',
    b'"*"',
    b'"/proc/' + b"1" * 5000 + b'/ns/net"',
]
PLACEHOLDER = "\x00nasty\x00"  # json.dumps writes it as the text below
PLACEHOLDER_JSON = json.dumps(PLACEHOLDER).encode()
SCALARS: list[Any] = [None, True, False, 0, -1, 2**63, 1.5, "", "x", [], {}, PLACEHOLDER]


def any_json(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(5 if depth < 3 else 3)
    if kind < 3:
        return rng.choice(SCALARS)
    if kind == 3:
        return [any_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(["a", "type", "path", "0"]): any_json(rng, depth + 1) for _ in range(2)}


def slots(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a document, for the mutator to pick from."""
    found: list[tuple[Any, Any]] = []
    keys = value.keys() if isinstance(value, dict) else range(len(value))
    for key in list(keys):
        found.append((value, key))
        if isinstance(value[key], dict | list):
            found.extend(slots(value[key]))
    return found


def mutated(rng: random.Random, document: Any) -> bytes:
    """`document` with a few values replaced by any JSON, dropped or made nasty, serialised, and
    now and then its bytes damaged."""
    for _ in range(rng.randrange(4)):
        places = slots(document)
        if not places:
            break
        container, key = rng.choice(places)
        if isinstance(container, dict) and rng.random() < 0.3:
            del container[key]
        else:
            container[key] = any_json(rng)
    data = json.dumps(document).encode().replace(PLACEHOLDER_JSON, rng.choice(NASTY))
    damage = rng.randrange(8)
    at = rng.randrange(len(data) + 1)
    if damage == 0:
        return data[:at]
    if damage == 1:
        return data[:at] + rng.randbytes(rng.randrange(1, 4)) + data[at:]
    return data


def json_value(data: bytes) -> Any:
    """The judge of what is not a runtime's document at all: stdlib json, lenient where a typed
    decoder may be too, in what it skips (invalid UTF-8 in an unused string, a huge number)."""
    try:
        return json.loads(data.decode("utf-8", "replace"), parse_int=len)
    except (ValueError, RecursionError):
        return ValueError


def json_document(data: bytes) -> bool:
    return json_value(data) is not ValueError


def json_object(data: bytes) -> bool:
    return isinstance(json_value(data), dict)


def shaped(build: Callable[[random.Random], Any]) -> st.SearchStrategy[bytes]:
    """Half arbitrary bytes, half `build`'s document mutated. A shaped input is built from one
    drawn Random: Hypothesis costs ~50 us a draw, a document drawn key by key would take minutes."""
    return st.one_of(
        st.binary(max_size=200),
        st.randoms(use_true_random=True).map(lambda rng: mutated(rng, build(rng))),
    )


def file_inputs(build: Callable[[random.Random], Any], count: int) -> st.SearchStrategy[Any]:
    return st.tuples(*[shaped(build)] * count)


def write(path: Path, data: bytes | None) -> None:
    """The file with `data`, or no file for None."""
    if data is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def check_errors(
    errors: list[ScanError], read: dict[Path, bytes], maybe_read: dict[Path, bytes]
) -> None:
    """At most one error per file; exactly one for a file that is read and not a JSON object.
    `maybe_read`: files read or not depending on what the others say (a sandbox's)."""
    per_path = Counter(e.path for e in errors)
    assert all(e.stage is ScanStage.RUNTIME for e in errors), errors
    assert set(per_path) <= {str(p) for p in [*read, *maybe_read]}, errors
    assert max(per_path.values(), default=0) <= 1, errors
    for path, data in read.items():
        if not json_object(data):
            assert per_path[str(path)] == 1, (path, errors)


def wire_safe(*identities: ContainerIdentity | None) -> None:
    for identity in identities:
        msgspec.json.encode(identity)


def run_suite(check: Callable[..., None], record_property: Any, runs: list[int]) -> None:
    check()
    record_property("examples", len(runs))
    assert len(runs) >= EXAMPLES


def pick_namespaces(rng: random.Random) -> list[dict[str, Any]]:
    types = ["network", "ipc", "uts", "pid", "mount", "user", "cgroup", "time", "bogus"]
    paths = ["", "/proc/410/ns/net", "/var/run/netns/cni-1", "/proc/x/ns/ipc"]
    return [{"type": t, "path": rng.choice(paths)} for t in rng.sample(types, rng.randrange(1, 6))]


def containerd_config(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["sandbox", "container", "other"])
    return {
        "ociVersion": "1.1.0",
        "hostname": rng.choice(["web", ""]),
        "annotations": {
            "io.kubernetes.cri.container-type": kind,
            "io.kubernetes.cri.sandbox-id": rng.choice([SANDBOX, CID, "../x", "*"]),
            "io.kubernetes.cri.sandbox-name": "web",
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": UID,
            "io.kubernetes.cri.container-name": "nginx",
        },
        "linux": {"namespaces": pick_namespaces(rng)},
        "process": {"env": ["A=1"], "args": ["nginx"]},
    }


def crio_config(rng: random.Random) -> dict[str, Any]:
    labels = {
        "io.kubernetes.pod.name": "web",
        "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.uid": UID,
        "io.kubernetes.container.name": "nginx",
    }
    labels_json = rng.choice([json.dumps(labels), mutated(rng, labels).decode("latin-1")])
    options = {"network": rng.choice([0, 1, 2, "NODE", True, [1]]), "pid": 1}
    return {
        "hostname": "web",
        "annotations": {
            "io.container.manager": rng.choice(["cri-o", "libpod"]),
            "io.kubernetes.cri-o.ContainerType": rng.choice(["sandbox", "container", "x"]),
            "io.kubernetes.cri-o.SandboxID": rng.choice([SANDBOX, CID, "../../x", "*", ""]),
            "io.kubernetes.cri-o.Labels": labels_json,
            "io.kubernetes.cri-o.Name": rng.choice(
                [f"k8s_nginx_web_shop_{UID}_0", "k8s_a_b", "k8s_" + "_" * 5000, ""]
            ),
            "io.kubernetes.cri-o.KubeName": "web",
            "io.kubernetes.cri-o.NamespaceOptions": rng.choice(
                [json.dumps(options), "{", "[" * 3000, "null"]
            ),
        },
        "linux": {"namespaces": pick_namespaces(rng)},
    }


def test_fuzz_oci_configs(record_property: Any) -> None:
    """Any config.json through the shared reader, and the bundle through both CRI identities."""
    runs: list[int] = []
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        config = Path(root) / "config.json"

        @FUZZ
        @given(file_inputs(lambda rng: rng.choice([containerd_config, crio_config])(rng), 1))
        def check(data: tuple[bytes]) -> None:
            runs.append(1)
            write(config, data[0])
            errors: list[ScanError] = []
            bundle = read_oci_bundle(str(config), errors)
            check_errors(errors, {config: data[0]}, {})
            if bundle is not None:
                wire_safe(
                    containerd_identity(CID, bundle, 410, bundle, 400),
                    crio_identity(CID, bundle, 410, bundle),
                )

        run_suite(check, record_property, runs)


PID_FILES = [b"410", b"410\n", b"-1", b"0", b"", b"9" * 100, b"\xff", b" 4 1 0 ", None]


def test_fuzz_containerd_state(record_property: Any) -> None:
    """A task's config.json and init.pid, and its sandbox's, through the containerd resolver."""
    runs: list[int] = []
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        tasks = Path(root) / "run/containerd/io.containerd.runtime.v2.task/k8s.io"
        app, sandbox = tasks / CID / "config.json", tasks / SANDBOX / "config.json"

        @FUZZ
        @given(file_inputs(containerd_config, 2), st.sampled_from(PID_FILES))
        def check(configs: tuple[bytes, bytes], pid_file: bytes | None) -> None:
            runs.append(1)
            for path, data in ((app, configs[0]), (sandbox, configs[1])):
                write(path, data)
                write(path.with_name("init.pid"), pid_file)
            errors: list[ScanError] = []
            resolver = ContainerdResolver(root)
            identity = resolver.identify(CgroupMatch(CID, Runtime.CONTAINERD), errors)
            check_errors(errors, {app: configs[0]}, {sandbox: configs[1]})
            assert identity is None or json_object(configs[0])
            wire_safe(identity)

        run_suite(check, record_property, runs)


def test_fuzz_crio_state(record_property: Any) -> None:
    """A container's config.json (its Labels and NamespaceOptions JSON inside) and pidfile, and
    its sandbox's, through the CRI-O resolver."""
    runs: list[int] = []
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        (Path(root) / "run/crio/version").parent.mkdir(parents=True)
        (Path(root) / "run/crio/version").write_text('"1.28.0"')
        storage = Path(root) / "run/containers/storage/overlay-containers"
        app = storage / CID / "userdata/config.json"
        sandbox = storage / SANDBOX / "userdata/config.json"

        @FUZZ
        @given(file_inputs(crio_config, 2), st.sampled_from(PID_FILES))
        def check(configs: tuple[bytes, bytes], pid_file: bytes | None) -> None:
            runs.append(1)
            for path, data in ((app, configs[0]), (sandbox, configs[1])):
                write(path, data)
                write(path.with_name("pidfile"), pid_file)
            errors: list[ScanError] = []
            resolver = CrioResolver(root)
            assert resolver.available()
            identity = resolver.identify(CgroupMatch(CID, None), errors)
            check_errors(errors, {app: configs[0]}, {sandbox: configs[1]})
            wire_safe(identity)

        run_suite(check, record_property, runs)


def docker_record(rng: random.Random) -> dict[str, Any]:
    return {
        "ID": CID,
        "Name": rng.choice([f"/k8s_nginx_web_shop_{UID}_0", "/k8s_POD_web_shop_x_0", "/x"]),
        "State": {"Running": True, "Pid": rng.choice([410, 0, -5, True, "410"])},
        "Config": {
            "Labels": {
                "io.kubernetes.docker.type": rng.choice(["podsandbox", "container", "x"]),
                "io.kubernetes.sandbox.id": rng.choice([SANDBOX, "../x", "*"]),
                "io.kubernetes.pod.name": "web",
                "io.kubernetes.pod.uid": UID,
            },
            "Env": ["A=1"],
        },
    }


def docker_host_config(rng: random.Random) -> dict[str, Any]:
    modes = ["host", "container:" + SANDBOX, "private", "shareable", "", None]
    return {
        "NetworkMode": rng.choice(modes),
        "IpcMode": rng.choice(modes),
        "PidMode": rng.choice(modes),
        "Binds": ["/a:/b"],
    }


def test_fuzz_cri_dockerd_state(record_property: Any) -> None:
    """A container's config.v2.json and hostconfig.json through the cri-dockerd resolver."""
    runs: list[int] = []
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        directory = Path(root) / "var/lib/docker/containers" / CID
        record, host = directory / "config.v2.json", directory / "hostconfig.json"

        @FUZZ
        @given(shaped(docker_record), shaped(docker_host_config))
        def check(record_data: bytes, host_data: bytes) -> None:
            runs.append(1)
            write(record, record_data)
            write(host, host_data)
            errors: list[ScanError] = []
            identity = CriDockerdResolver(root).identify(CgroupMatch(CID, Runtime.DOCKER), errors)
            # hostconfig.json is read only for a record that decodes.
            check_errors(errors, {record: record_data}, {host: host_data})
            wire_safe(identity)

        run_suite(check, record_property, runs)


def pod_record(rng: random.Random) -> dict[str, Any]:
    record = {"id": rng.choice([CID, SANDBOX]), "name": rng.choice(["web", "db"])}
    record.update({"hostname": "web", "hasInfra": rng.choice([True, False, 1, None])})
    record.update({f"shares{t}": rng.choice([True, False]) for t in ("Net", "Ipc", "Uts")})
    return record


SCHEMAS = [
    "CREATE TABLE PodConfig (ID TEXT, JSON TEXT)",
    "CREATE TABLE PodConfig (ID TEXT, JSON BLOB)",
    "CREATE TABLE Other (JSON TEXT)",
    # A view written to loop for ever: the step budget must stop it.
    "CREATE VIEW PodConfig AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)"
    " SELECT i AS JSON FROM n ORDER BY i",
]


def podman_database(rng: random.Random, rows: list[bytes]) -> bytes:
    """A SQLite database as podman 5 keeps it (sometimes in WAL mode), or not quite."""
    connection = sqlite3.connect(":memory:")
    # The looping view costs ~15 ms until the budget stops it: rarely.
    [schema] = rng.choices(SCHEMAS, weights=[12, 4, 2, 1])
    connection.execute(schema)
    if schema.startswith("CREATE TABLE PodConfig"):
        as_value: list[Callable[[bytes], Any]] = [bytes, lambda r: r.decode("latin-1"), len]
        connection.executemany(
            "INSERT INTO PodConfig VALUES ('x', ?)", [(rng.choice(as_value)(r),) for r in rows]
        )
    connection.commit()
    content = connection.serialize()
    connection.close()
    if rng.random() < 0.3:
        content = content[:18] + b"\x02\x02" + content[20:]  # the header of a WAL database
    return content


def bolt_file(rng: random.Random, rows: list[bytes]) -> bytes:
    """Records between binary page headers, as BoltDB's pages hold them."""
    pages = [rng.randbytes(rng.randrange(16)) + row for row in rows]
    return b"\x00\x10BOLT".join(pages)


def test_fuzz_podman_database_rows(record_property: Any) -> None:
    """Pod records as rows of db.sql, as Bolt records and as containers.json, through the podman
    resolver's refresh (which reads all three)."""
    runs: list[int] = []
    shaped_rows = st.randoms(use_true_random=True).map(
        lambda rng: [mutated(rng, pod_record(rng)) for _ in range(rng.randrange(5))]
    )
    listing = st.randoms(use_true_random=True).map(
        lambda rng: mutated(rng, [{"id": CID, "names": ["web-nginx"], "image": "x"}])
    )
    with tempfile.TemporaryDirectory(dir=SCRATCH) as root:
        libpod = Path(root) / "var/lib/containers/storage/libpod"
        sql, bolt = libpod / "db.sql", libpod / "bolt_state.db"
        names = libpod.parent / "overlay-containers/containers.json"

        @FUZZ
        @given(
            st.lists(st.binary(max_size=120), max_size=4) | shaped_rows,
            st.randoms(use_true_random=True),
            st.binary(max_size=100) | listing,
        )
        def check(records: list[bytes], rng: random.Random, names_data: bytes) -> None:
            runs.append(1)
            write(sql, podman_database(rng, records) if rng.random() < 0.5 else None)
            write(bolt, bolt_file(rng, records) if rng.random() < 0.5 else None)
            write(names, names_data)
            errors: list[ScanError] = []
            assert PodmanResolver(root).refresh(errors)
            check_errors(errors, {}, {sql: b"", bolt: b"", names: names_data})
            per_path = Counter(e.path for e in errors)
            if not json_document(names_data):
                assert per_path[str(names)] == 1
            if sql.exists() and not all(json_object(r) for r in records):
                assert per_path[str(sql)] == 1  # a bad row, a missing table, a runaway view
            pods = read_podman_pods(str(libpod), [])
            msgspec.json.encode([(p.id, p.name, p.hostname) for p in pods.values()])

        run_suite(check, record_property, runs)
