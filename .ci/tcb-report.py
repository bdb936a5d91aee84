#!/usr/bin/env python3
"""The TCB's size: its own lines, the packages it links and the daemon binary's size.

    python3 .ci/tcb-report.py [--bin DIR] [--json]

The TCB is what .ci/tcb.json lists (the folders trubizoned is built from); TCBTests checks their
imports against the same file. Code lines leave out blank lines and lines that are only a comment;
lines under `#if TRUBIZONE_WEAKENINGS` (debug builds only: the attack suite's negative controls)
are counted apart, since no release build has them.
"""
import argparse, json, os, re, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
definition = json.load(open(os.path.join(root, ".ci", "tcb.json")))


def count(path):
    physical = code = weakening = 0
    depth = []  # a stack of whether each open #if is the weakenings switch
    for line in open(path, encoding="utf-8"):
        physical += 1
        stripped = line.strip()
        if stripped.startswith("#if"):
            depth.append("TRUBIZONE_WEAKENINGS" in stripped)
        elif stripped.startswith("#endif") and depth:
            depth.pop()
            continue
        if not stripped or stripped.startswith("//"):
            continue
        if any(depth):
            weakening += 1
        else:
            code += 1
    return physical, code, weakening


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", help="the build's products folder (default: swift build --show-bin-path)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()

    rows = []
    for folder in definition["folders"]:
        files = [os.path.join(d, f) for d, _, names in os.walk(os.path.join(root, folder["path"])) for f in names if f.endswith(".swift")]
        totals = [sum(x) for x in zip(*(count(f) for f in files))] if files else [0, 0, 0]
        rows.append({"target": folder["target"], "path": folder["path"], "files": len(files),
                     "physical": totals[0], "code": totals[1], "weakenings": totals[2]})

    # The packages the TCB's targets name, from the manifest itself.
    manifest = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True, capture_output=True, text=True).stdout)
    tcb = {f["target"] for f in definition["folders"]}
    packages = set()
    for target in manifest["targets"]:
        if target["name"] in tcb:
            for dependency in target["dependencies"]:
                if "product" in dependency:
                    packages.add(f'{dependency["product"][1]} ({dependency["product"][0]})')
    bin_dir = args.bin or subprocess.run(["swift", "build", "--show-bin-path"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    binary = os.path.join(bin_dir, definition["binary"])
    size = os.path.getsize(binary) if os.path.exists(binary) else None

    report = {"targets": rows, "code": sum(r["code"] for r in rows), "physical": sum(r["physical"] for r in rows),
              "weakenings": sum(r["weakenings"] for r in rows), "packages": sorted(packages),
              "binary": binary if size is not None else None, "binarySize": size}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f'{"target":<24} {"files":>5} {"code":>6} {"lines":>6}  folder')
    for r in rows:
        print(f'{r["target"]:<24} {r["files"]:>5} {r["code"]:>6} {r["physical"]:>6}  {r["path"]}')
    print(f'{"TCB":<24} {sum(r["files"] for r in rows):>5} {report["code"]:>6} {report["physical"]:>6}  '
          f'(+{report["weakenings"]} code lines of debug-only weakenings)')
    print("packages: " + ", ".join(report["packages"]))
    if size is None:
        print(f"{definition['binary']}: not built in {bin_dir} (swift build --product {definition['binary']})")
    else:
        print(f"{definition['binary']}: {size / 1048576:.1f} MiB ({os.path.relpath(binary, root)})")


if __name__ == "__main__":
    sys.exit(main())
