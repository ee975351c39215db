#!/usr/bin/env python3
"""Checks that data flows down the layers of docs/architecture.md: no lib/ folder includes a
header of a folder above it (or beside it on the same floor). Public headers under
include/ipfskit/ are owned by the folder that implements them (HEADER_OWNER); a header missing
from that table is an error too, so a new one gets placed on purpose.

Usage: scripts/check_layers.py [ROOT]   (exit 0 clean, 1 with one line per violation)"""
import os
import re
import sys

# floor of each lib/ folder: a folder may include its own headers and those of lower floors.
FLOOR = {"arrow": 0, "table": 1, "store": 2, "snapshot": 2, "proto": 3, "sync": 3, "flight": 3,
         "client": 4}

HEADER_OWNER = {
    "abi.h": "arrow", "arrow.h": "arrow", "builder.h": "arrow", "error.h": "arrow",
    "schemas.h": "table", "query.h": "table", "json_rows.h": "table",
    "store.h": "store", "cid.h": "store", "config.h": "store",
    "snapshot.h": "snapshot", "segments.h": "snapshot", "sync.h": "sync", "seglog.h": "store",
    "client.h": "client",
}

# headers generated at build time (build/gen), by the folder whose source they come from
GENERATED = {"flight.pb-c.h": "flight"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def owner_of(inc, here):
    """The lib folder that owns the quoted include `inc` seen in folder `here`, or None."""
    parts = os.path.normpath(inc).split(os.sep)
    if parts[0] == "ipfskit" and len(parts) == 2:
        return HEADER_OWNER.get(parts[1], "?" + parts[1])
    if parts[0] == ".." and len(parts) >= 3:
        return parts[1] if parts[1] in FLOOR else "?" + inc
    if parts[0] in FLOOR and len(parts) == 2:
        return parts[0]
    if inc in GENERATED:
        return GENERATED[inc]
    if len(parts) == 1:
        return here  # a header beside the file
    return "?" + inc


def check_file(path, here, errors):
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            owner = owner_of(m.group(1), here)
            if owner.startswith("?"):
                errors.append(f"{path}:{n}: includes \"{m.group(1)}\", which belongs to no lib "
                              "folder (add it to HEADER_OWNER in scripts/check_layers.py)")
            elif owner != here and FLOOR[owner] >= FLOOR[here]:
                errors.append(f"{path}:{n}: lib/{here} (floor {FLOOR[here]}) includes "
                              f"\"{m.group(1)}\" of lib/{owner} (floor {FLOOR[owner]}): "
                              "data flows down the layers only")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    errors = []
    lib = os.path.join(root, "lib")
    for folder in sorted(os.listdir(lib)):
        if not os.path.isdir(os.path.join(lib, folder)):
            continue
        if folder not in FLOOR:
            errors.append(f"lib/{folder}: no floor (add it to FLOOR in scripts/check_layers.py)")
            continue
        for name in sorted(os.listdir(os.path.join(lib, folder))):
            if name.endswith((".c", ".h")):
                check_file(os.path.join(lib, folder, name), folder, errors)
    inc = os.path.join(root, "include", "ipfskit")
    for name in sorted(os.listdir(inc)):
        if name.endswith(".h"):
            if name not in HEADER_OWNER:
                errors.append(f"include/ipfskit/{name}: no owner (add it to HEADER_OWNER)")
                continue
            check_file(os.path.join(inc, name), HEADER_OWNER[name], errors)
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
