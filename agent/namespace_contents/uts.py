"""The pod's UTS namespace: its hostname and NIS domain name, checked against the pod's name.

Both are read by a child that joined the namespace (`nsread`): `/proc/sys/kernel/hostname` and
`domainname` answer for the reader's UTS namespace, and no file under `/proc/<pid>` shows them.
"""

from __future__ import annotations

from .details import UtsDetails
from .nsread import InsideRead

HOSTNAME = "/proc/sys/kernel/hostname"
DOMAINNAME = "/proc/sys/kernel/domainname"
PATHS = (HOSTNAME, DOMAINNAME)
# Kubernetes cuts a hostname taken from a long pod name to 63 characters (a DNS label).
HOSTNAME_MAX = 63


def expected_hostname(pod_name: str) -> str:
    """The hostname a pod gets from its name when the spec sets none (`spec.hostname`)."""
    return pod_name[:HOSTNAME_MAX].rstrip("-.")


def describe_uts(read: InsideRead, ns_inode: int | None, pod_name: str) -> UtsDetails:
    if read.error:
        return UtsDetails(
            ns_inode, None, None, None, {"hostname": read.error, "domainname": read.error}
        )
    unavailable = {
        name: f"read {path}: {read.errors[path]}"
        for name, path in (("hostname", HOSTNAME), ("domainname", DOMAINNAME))
        if path in read.errors
    }
    hostname = read.files[HOSTNAME].strip() if HOSTNAME in read.files else None
    domainname = read.files[DOMAINNAME].strip() if DOMAINNAME in read.files else None
    matches = None if hostname is None else hostname == expected_hostname(pod_name)
    return UtsDetails(ns_inode, hostname, domainname, matches, unavailable)
