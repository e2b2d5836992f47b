#!/usr/bin/env python3
"""The root file system of the Lambda base image `sam local` runs the
functions on, made from this machine's own files: no registry, no download.

What it holds is what the image must run, and nothing else: the functions'
binaries' shared libraries (found with ldd), the shell and the two tools
SAM's own image build runs (`mv`, `chmod`), the system trust store (Amazon
Linux's image has one too), and the folders Lambda mounts into. The tar's
name says its recipe (the files, their sizes and times), so a changed recipe
makes a new image. Run by scripts/sam-local.sh.

    sam_local_rootfs.py OUT-DIR BINARY...      prints the tar's path
"""

import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

TOOLS = ["/bin/sh", "/bin/mv", "/bin/chmod", "/bin/mkdir", "/bin/cp", "/bin/rm"]
FILES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/ld.so.cache", "/etc/ld.so.conf"]
DIRS = ["tmp", "var/task", "var/runtime", "opt", "etc", "proc", "sys", "dev"]
# Debian's merged /usr: the old top-level names are links into it.
LINKS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}


def libraries(binary: str) -> set[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"(/\S+) \(0x", out))


def entries(paths: set[str]) -> dict[str, str | None]:
    """Each path with the links that lead to it: {path: link target, or None
    for a file}, the folders resolved (the tar makes the top-level links)."""
    found: dict[str, str | None] = {}
    todo = list(paths)
    while todo:
        p = todo.pop()
        p = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
        if p in found:
            continue
        if os.path.islink(p):
            target = os.readlink(p)
            found[p] = target
            todo.append(os.path.join(os.path.dirname(p), target))
        else:
            found[p] = None
    return found


def main() -> None:
    out, binaries = Path(sys.argv[1]), sys.argv[2:]
    wanted: set[str] = set(FILES) | set(TOOLS)
    for b in TOOLS + binaries:
        wanted |= libraries(b)
    found = entries(wanted)
    recipe = hashlib.sha256()
    for p, target in sorted(found.items()):
        st = os.stat(p)
        recipe.update(f"{p} {target} {st.st_size} {int(st.st_mtime)}\n".encode())
    tar_path = out / f"rootfs-{recipe.hexdigest()[:12]}.tar"
    if not tar_path.exists():
        for old in out.glob("rootfs-*.tar"):
            old.unlink()
        part = tar_path.with_suffix(".part")
        with tarfile.open(part, "w") as tar:
            for d in DIRS:
                info = tarfile.TarInfo(d)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
                tar.addfile(info)
            for name, target in LINKS.items():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            for p, target in sorted(found.items()):
                if target is None:
                    tar.add(p, arcname=p.lstrip("/"), recursive=False)
                else:
                    info = tarfile.TarInfo(p.lstrip("/"))
                    info.type, info.linkname = tarfile.SYMTYPE, target
                    tar.addfile(info)
            tar.addfile(tarfile.TarInfo("etc/passwd"), io.BytesIO(b""))
        part.rename(tar_path)
    print(tar_path)


if __name__ == "__main__":
    main()
