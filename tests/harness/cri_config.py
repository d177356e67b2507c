"""The CRI test node's configuration files: containerd's config.toml and a CNI bridge.

From shared/lab/CONTAINERD-CRI.md: every path of containerd's (root, state, sockets, runc's
state, CNI config and IPAM data) is under the node's own directory, and the bridge has a name and
subnet of its own, so the node can run beside anything else on the machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.oci_images import PAUSE_IMAGE

CONFIG_TOML = """version = 2
root = "{lab}/root"
state = "{state}"
oom_score = 0
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  address = "{lab}/containerd-debug.sock"
  level = "info"
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "{pause}"
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    # The CRI sandbox asks oom_score_adj -998; this machine lacks CAP_SYS_RESOURCE for that.
    restrict_oom_score_adj = true
    max_container_log_line_size = 16384
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "{runc}"
          SystemdCgroup = false
          Root = "{lab}/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "{lab}/net.d"
      max_conf_num = 1
  [plugins."io.containerd.internal.v1.opt"]
    path = "{lab}/opt"
"""

CNI_CONFLIST = """{{"cniVersion": "1.0.0", "name": "{network}",
 "plugins": [{{"type": "bridge", "bridge": "{bridge}", "isGateway": true, "ipMasq": false,
   "hairpinMode": true,
   "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{subnet}"}}]],
            "routes": [{{"dst": "0.0.0.0/0"}}], "dataDir": "{lab}/cni-ipam"}}}}]}}
"""


def write_config(
    lab: Path, bridge: str, subnet: str, socket: str | None = None, state: str | None = None
) -> Path:
    """Write both files under `lab`; returns the path of config.toml. containerd's socket and
    state directory are under `lab` too unless given (a distribution's layout, say)."""
    runc = shutil.which("runc") or "/usr/sbin/runc"
    config = lab / "config.toml"
    config.write_text(
        CONFIG_TOML.format(
            lab=lab,
            pause=PAUSE_IMAGE,
            runc=runc,
            socket=socket or f"{lab}/containerd.sock",
            state=state or f"{lab}/state",
        )
    )
    (lab / "net.d").mkdir(parents=True, exist_ok=True)
    (lab / "net.d" / "10-nsi-bridge.conflist").write_text(
        CNI_CONFLIST.format(network=f"nsi-net-{bridge}", bridge=bridge, subnet=subnet, lab=lab)
    )
    return config
