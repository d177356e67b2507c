"""The CRI test node's two images, built here: no registry can be reached.

`pause`: a static C binary of our own that blocks in pause(2) and reaps the children it inherits,
run as user 65535 like registry.k8s.io/pause. `busybox`: busybox-static plus applet symlinks.
Each is written as an OCI image layout tarball whose index carries `io.containerd.image.name`, so
`ctr images import` tags it.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

PAUSE_IMAGE = "localhost/nsi-pause:3.9"
BUSYBOX_IMAGE = "localhost/nsi-busybox:1.0"
BUSYBOX_APPLETS = ("sh", "sleep", "httpd", "tail", "wget", "cat", "ls", "hostname", "ps", "true")

PAUSE_SOURCE = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
static void leave(int sig) { (void)sig; _exit(0); }

int main(void) {
    struct sigaction reaper = {0}, quit = {0};
    reaper.sa_handler = reap;
    reaper.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    quit.sa_handler = leave;
    sigaction(SIGCHLD, &reaper, 0);
    sigaction(SIGINT, &quit, 0);
    sigaction(SIGTERM, &quit, 0);
    for (;;) pause();
}
"""

_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass
class ImageContent:
    files: dict[str, bytes] = field(default_factory=dict)  # path in the image -> content
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> target
    entrypoint: list[str] = field(default_factory=list)
    user: str = ""


def build_pause_binary(workdir: Path) -> bytes:
    source = workdir / "pause.c"
    binary = workdir / "pause"
    source.write_text(PAUSE_SOURCE)
    subprocess.run(
        ["gcc", "-static", "-Os", "-s", "-o", str(binary), str(source)],
        check=True,
        capture_output=True,
    )
    return binary.read_bytes()


def pause_content(workdir: Path) -> ImageContent:
    return ImageContent(
        files={"pause": build_pause_binary(workdir)},
        entrypoint=["/pause"],
        user="65535:65535",
    )


def busybox_content() -> ImageContent:
    busybox = shutil.which("busybox")
    assert busybox is not None, "busybox-static is not installed"
    return ImageContent(
        files={"bin/busybox": Path(busybox).read_bytes()},
        symlinks={f"bin/{applet}": "busybox" for applet in BUSYBOX_APPLETS},
        entrypoint=["/bin/sh"],
    )


def _layer(content: ImageContent) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as layer:
        directories = sorted(
            {str(Path(p).parent) for p in [*content.files, *content.symlinks]} - {"."}
        )
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            layer.addfile(info)
        for path, data in sorted(content.files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o755
            layer.addfile(info, io.BytesIO(data))
        for path, target in sorted(content.symlinks.items()):
            info = tarfile.TarInfo(path)
            info.type, info.linkname = tarfile.SYMTYPE, target
            layer.addfile(info)
    return buffer.getvalue()


def write_oci_archive(path: Path, name: str, content: ImageContent) -> None:
    """An OCI image layout tarball of one single-layer image named `name`."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes, media_type: str) -> dict[str, object]:
        digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    layer = blob(_layer(content), "application/vnd.oci.image.layer.v1.tar")
    arch = _ARCH.get(platform.machine(), platform.machine())
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": content.entrypoint, "User": content.user, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }
    config_ref = blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "config": config_ref, "layers": [layer]}
    manifest_ref = blob(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                **manifest_ref,
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                },
            }
        ],
    }
    with tarfile.open(path, "w") as archive:
        entries = {
            "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
            "index.json": json.dumps(index).encode(),
            **{f"blobs/sha256/{d.split(':', 1)[1]}": data for d, data in blobs.items()},
        }
        for entry, data in entries.items():
            info = tarfile.TarInfo(entry)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
