#!/bin/bash
# usage: runtime-root.sh ROOT [ELF...] — run in the image's build stage: copy into ROOT the
# smallest root filesystem that runs the agent, which the Containerfile's final stage starts
# from (FROM scratch).
#
# ROOT gets Python's interpreter and standard library (Debian's packages, less the parts nothing
# in the agent imports), the shared libraries that it and the given ELF files (the virtual
# environment's extension modules) link, found with ldd and taken whole from the Debian package
# that owns each, plus the few files of /etc a process reads: the users (the server runs as
# nobody), the dynamic linker's cache. No shell, no package manager, no coreutils: nothing in the
# DaemonSet runs them, and `kubectl exec ... -- nsinspect --local pods` needs none.
set -euo pipefail

root=${1:?usage: runtime-root.sh ROOT [ELF...]}
shift
stdlib=/usr/lib/python3.11
# Parts of the standard library that nothing in the agent imports: tests, the IDE, Tk,
# 2to3, ensurepip's wheels, and the extension modules of databases, terminals and audio
# (whose libraries, Berkeley DB, ncurses and readline, then stay out too; pyroute2 imports
# sqlite3).
unused_stdlib=(test idlelib tkinter turtledemo lib2to3 ensurepip pydoc_data distutils
  turtle.py dbm curses
  'lib-dynload/_test*' 'lib-dynload/_xx*' 'lib-dynload/xx*' 'lib-dynload/_ctypes_test*'
  'lib-dynload/_dbm*' 'lib-dynload/_curses*' 'lib-dynload/readline*'
  'lib-dynload/nis*' 'lib-dynload/audioop*' 'lib-dynload/ossaudiodev*')
# Whatever a package owns there is for people or other programs, not for the running agent.
unused_paths='^/usr/share/(doc|man|info|locale|lintian|gdb|bug|bash-completion|binfmts)/|/gconv/'

# Each of the packages' files at its canonical path in ROOT (/lib is /usr/lib here: merged /usr),
# links kept as links; tar, since coreutils 9.1's `cp -a --parents` fails in an overlay.
copy_packages() {
  dpkg -L "$@" | grep -Ev "$unused_paths" | while read -r path; do
    directory=$(readlink -f "$(dirname "$path")")
    real="${directory%/}/$(basename "$path")"
    if [ -f "$real" ] || [ -L "$real" ]; then
      echo "${real#/}"
    fi
  done | sort -u | tar -C / --no-recursion -cf - -T - | tar -C "$root" -xf -
}

mkdir -p "$root"
copy_packages python3-minimal python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
# The standard library's bytecode, compiled when Debian installed the package (dpkg -L lists
# the sources only).
(cd / && find "${stdlib#/}" -name __pycache__ -type d -prune -print) |
  tar -C / -cf - -T - | tar -C "$root" -xf -
for pattern in "${unused_stdlib[@]}"; do
  # shellcheck disable=SC2086 # the glob in the pattern is meant
  rm -rf "$root$stdlib"/$pattern "$root$stdlib"/__pycache__/${pattern%.py}.*
done

# The libraries that the interpreter, the standard library's extensions left in ROOT and the
# given ELF files link, each with the rest of the package that owns it.
elves=(/usr/bin/python3.11 "$root$stdlib"/lib-dynload/*.so "$@")
# ldd's lines: "libz.so.1 => /lib/.../libz.so.1 (0x...)", and the loader as "/lib64/ld-... (0x...)".
mapfile -t libraries < <(ldd "${elves[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}
  $1 ~ /^\// && $2 ~ /^\(0x/ {print $1}' | sort -u)
owners=()
for library in "${libraries[@]}"; do
  owner=$({ dpkg -S "$library" 2>/dev/null || dpkg -S "$(readlink -f "$library")"; } | head -n 1)
  owners+=("${owner%%:*}")
done
mapfile -t owners < <(printf '%s\n' "${owners[@]}" | sort -u)
echo "runtime-root.sh: the libraries of ${owners[*]}"
copy_packages "${owners[@]}"

# The merged-/usr links, the dynamic linker's cache and search path, and the files of /etc that
# programs read: users and groups (getpwuid for the server's nobody and the process facts),
# name service order, the OS's identity.
for link in bin lib lib64 sbin; do
  cp -a "/$link" "$root/"
done
mkdir -p "$root/etc" "$root/tmp" "$root/run" "$root/proc" "$root/sys" "$root/dev" "$root/root"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp -a /etc/passwd /etc/group /etc/nsswitch.conf /etc/os-release /etc/ld.so.conf \
  /etc/ld.so.conf.d "$root/etc/"
tar -C / -cf - "$(readlink -f /etc/os-release | cut -c2-)" | tar -C "$root" -xf -
ldconfig -r "$root"
