#!/usr/bin/env python3
"""Checks `phr-server import --json` against the files it was given, counted independently:
every file imported, every resource read, and the stored resources by type.

    phr-server import FILES... --json | check-import.py FILES...
"""
import json
import sys
from collections import Counter


def main():
    report = json.load(sys.stdin)
    files = sys.argv[1:]
    total = 0
    with_id = {}          # type -> set of ids given in the files (or by urn:uuid / .../Type/id full URLs)
    without_id = Counter()
    for path in files:
        root = json.load(open(path, encoding="utf-8"))
        if root.get("resourceType") == "Bundle":
            entries = [e for e in root.get("entry", []) if "resource" in e]
        else:
            entries = [{"resource": root}]
        for entry in entries:
            resource, total = entry["resource"], total + 1
            kind, rid, url = resource["resourceType"], resource.get("id"), entry.get("fullUrl", "")
            if rid is None and url.startswith("urn:uuid:"):
                rid = url[len("urn:uuid:"):]
            elif rid is None and url.split("/")[-2:-1] == [kind]:
                rid = url.split("/")[-1]
            if rid is None:
                without_id[kind] += 1
            else:
                with_id.setdefault(kind, set()).add(rid)
    problems = []
    if report["refused"]:
        problems.append(f"refused files: {report['refused']}")
    if report["files"] != len(files):
        problems.append(f"{report['files']} files reported, {len(files)} given")
    if report["resources"] != total:
        problems.append(f"{report['resources']} resources read, the files hold {total}")
    stored = report["stored"]
    for kind in sorted(set(with_id) | set(without_id)):
        low, high = len(with_id.get(kind, ())), len(with_id.get(kind, ())) + without_id[kind]
        if not low <= stored.get(kind, 0) <= high:
            problems.append(f"{kind}: {stored.get(kind, 0)} stored, expected {low}" + (f" to {high}" if high != low else ""))
    if problems:
        print("check-import: FAIL\n  " + "\n  ".join(problems))
        sys.exit(1)
    print(f"check-import: {len(files)} files, {total} resources, {sum(stored.values())} stored across {len(stored)} types, as counted from the files")


if __name__ == "__main__":
    main()
