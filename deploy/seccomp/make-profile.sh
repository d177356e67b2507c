#!/bin/sh
# Remakes deploy/seccomp/scanner.json, the seccomp profile of the scanner container
# (deploy/overlays/seccomp): every syscall the scanner was seen to make, allowed; any other
# fails with EPERM.
#
# It traces, with strace -f, on this machine (run it as root on a node, or a test machine with
# pods of each runtime the scanner should read: podman pods and a containerd node over CRI were
# running when scanner.json was made):
#   1. `nsinspect agent --role scanner` for SECONDS (default 40) with a scan every second, while
#      the pod details of every pod it lists are asked for on its detail socket, as the server
#      asks (a fresh interpreter, entering pods' namespaces through its helper);
#   2. the commands one runs in the scanner container with `kubectl exec` (README):
#      `nsinspect --local pods -A -o wide`, `nsinspect --local doctor -A`, `nsinspect --local pod
#      NAME -n NS -o json` for each pod, and `nsinspect --version`;
#   3. with --image IMAGE, `podman run` of that image under the profile: runc loads the filter
#      into its init process and then still closes fds, checks /proc and calls execve, all
#      under the filter; those syscalls (the traced thread's, from the filter's load to execve)
#      are added;
# and adds the few syscalls any start and exit need, and those the Go runtime of runc's init may
# make on that thread meanwhile (EXTRA below). The names are merged with those already in
# scanner.json unless --fresh is given, so traces from other machines (another kernel, another
# runtime) add up.
#
# Usage: deploy/seccomp/make-profile.sh [--fresh] [--image IMAGE] [SECONDS]
# Needs: root, strace, python3, nsinspect on PATH (the repository's .venv/bin is put first);
# podman for --image.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$(dirname "$here")")
PATH="$repo/.venv/bin:$PATH"
fresh=no
if [ "${1:-}" = --fresh ]; then fresh=yes; shift; fi
image=
if [ "${1:-}" = --image ]; then image=$2; shift 2; fi
seconds=${1:-40}
# Starting and ending; and what the Go runtime may do on runc init's thread between the load of
# the filter and execve (park, preempt, grow its stack).
EXTRA="execve exit exit_group futex nanosleep sched_yield rt_sigreturn sigaltstack mmap munmap
madvise tgkill getpid gettid"

work=$(mktemp -d /tmp/nsinspect-seccomp.XXXXXX)
trap 'kill "$scanner" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -m 0750 "$work/results"

# With NSINSPECT_KUBECONFIG set the scanner watches pods through it (the API server's syscalls
# are those of any HTTPS client: sockets, poll, reads and writes), else Kubernetes is off.
kubernetes=--no-kubernetes
if [ -n "${NSINSPECT_KUBECONFIG:-}" ]; then kubernetes=--kubernetes; fi
strace -f -qq -o "$work/scanner.trace" \
    nsinspect agent --role scanner --results-dir "$work/results" --interval 1 \
    "$kubernetes" >"$work/scanner.log" 2>&1 &
scanner=$!

# The server's detail requests, as the contract frames them: one JSON line, then the answer.
python3 - "$work/results" "$seconds" <<'PY'
import json, socket, sys, time
results, seconds = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + seconds
asked = 0
while time.monotonic() < deadline:
    try:
        with open(f"{results}/current/pods.json", "rb") as document:
            items = json.load(document)["items"]
    except (OSError, ValueError, KeyError):
        time.sleep(1)
        continue
    for item in items:
        pod = item["pod"]
        request = json.dumps({"namespace": pod.get("namespace") or "", "name": pod["name"]})
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(20)
            try:
                conn.connect(f"{results}/detail.sock")
                conn.sendall(request.encode() + b"\n")
                while conn.recv(65536):
                    pass
                asked += 1
            except OSError as error:
                print(f"detail request failed: {error}", file=sys.stderr)
    time.sleep(2)
print(f"{asked} detail requests answered", file=sys.stderr)
PY
# The scanner itself is stopped as the kubelet stops it (SIGTERM), strace then ends with it.
for traced in $(cat "/proc/$scanner/task/$scanner/children"); do kill -TERM "$traced"; done
for _ in $(seq 20); do kill -0 "$scanner" 2>/dev/null || break; sleep 0.5; done
kill -KILL "$scanner" 2>/dev/null || true
wait "$scanner" || true

trace() {
    strace -f -qq -o "$work/command-$#-$(date +%s%N).trace" "$@" >/dev/null 2>&1 || true
}
trace nsinspect --version
trace nsinspect --local pods -A -o wide
trace nsinspect --local doctor -A
nsinspect --local pods -A -o json 2>/dev/null | python3 -c '
import json, sys
for item in json.load(sys.stdin)["items"]:
    print(item["pod"].get("namespace") or "", item["pod"]["name"])
' | while read -r namespace name; do
    trace nsinspect --local pod "$name" -n "$namespace" -o json
done

if [ -n "$image" ]; then
    # runc loads the filter with prctl(PR_SET_SECCOMP) on one thread and execs from it. The
    # filter here allows everything (SCMP_ACT_LOG), so that the whole path is seen.
    python3 -c 'import json, sys; print(json.dumps({"defaultAction": "SCMP_ACT_LOG"}))' \
        >"$work/log-only.json"
    strace -f -qq -o "$work/runtime.podman" podman run --rm \
        --security-opt "seccomp=$work/log-only.json" --user 0:0 --cap-drop all \
        --cap-add SYS_PTRACE --read-only --security-opt no-new-privileges \
        --entrypoint nsinspect "$image" --version >/dev/null
    awk '/PR_SET_SECCOMP, SECCOMP_MODE_FILTER, \{len=/ { pid = $1; on = 1 }
         on && $1 == pid { print } on && $1 == pid && /execve\(/ { on = 0 }' \
        "$work/runtime.podman" >"$work/runtime.trace"
    rm "$work/runtime.podman"
fi

python3 - "$here/scanner.json" "$fresh" "$EXTRA" "$work"/*.trace <<'PY'
import json, re, sys
from pathlib import Path
profile_path, fresh, extra, traces = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
# "1234 openat(...", "1234 <... read resumed>...", with -f every line starts with the pid
call = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)")
names = set(extra.split())
for trace in traces:
    for line in Path(trace).read_text(errors="replace").splitlines():
        match = call.match(line)
        if match:
            names.add(match.group(1))
if fresh == "no" and profile_path.exists():
    for rule in json.loads(profile_path.read_text())["syscalls"]:
        names.update(rule["names"])
profile = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [{"names": sorted(names), "action": "SCMP_ACT_ALLOW"}],
}
profile_path.write_text(json.dumps(profile, indent=2) + "\n")
print(f"{profile_path}: {len(names)} syscalls")
PY
