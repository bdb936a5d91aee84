#!/usr/bin/env python3
"""Writes each fuzzer's seed corpus into OUT/<fuzzer>/: vectors from ../shared/data (read in place,
never copied into the repository), trustlets from the project's own build, and frames made here
by the documented world-switch format (Sources/Protocol/FrameCodec.swift).

    seeds.py OUT [--shared ../shared/data] [--project ..]
"""
import argparse, base64, glob, hashlib, json, os, struct, sys

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--shared", default=os.path.join(here, "..", "..", "shared", "data"))
    parser.add_argument("--project", default=os.path.join(here, ".."))
    args = parser.parse_args()
    if not os.path.isdir(args.shared):
        sys.exit(f"error: no shared test data at {args.shared}; pass --shared DIR")
    counts = {}
    def seed(fuzzer, data):
        folder = os.path.join(args.out, fuzzer)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
        counts[fuzzer] = counts.get(fuzzer, 0) + 1
    shared = lambda *parts: glob.glob(os.path.join(args.shared, *parts))

    # CBOR: RFC 8949 Appendix A, the valid items and the ones that must fail.
    for item in json.load(open(shared("cbor", "appendix_a.json")[0])):
        seed("fuzz-cbor", base64.b64decode(item["cbor"]))
    for item in json.load(open(shared("cbor", "fail.json")[0])):
        seed("fuzz-cbor", bytes.fromhex(item["hex"]))

    # Tokens: COSE_Sign1 test vectors, the CWT example, PSA tokens (RFC 9783, TF-M).
    for path in shared("cose", "sign1-tests", "*.json") + shared("cose", "ecdsa-examples", "*.json") + shared("cose", "CWT", "*.json"):
        output = json.load(open(path)).get("output", {})
        if "cbor" in output:
            seed("fuzz-token", bytes.fromhex(output["cbor"]))
            seed("fuzz-cbor", bytes.fromhex(output["cbor"]))
    for path in shared("psa", "*", "*.cbor") + shared("psa", "*", "*.bin"):
        data = open(path, "rb").read()
        seed("fuzz-token", data)
        seed("fuzz-cbor", data)

    # FHIR: every example resource and bundle, and the smaller Synthea patients.
    for path in shared("fhir", "*.json"):
        seed("fuzz-fhir", open(path, "rb").read())
    for path in sorted(shared("synthea", "*", "*.json"), key=os.path.getsize)[:4]:
        seed("fuzz-fhir", open(path, "rb").read())

    # Trustlet packages: the project's trustlets (once `swift build` has run) with their kind of
    # manifest, in the fuzzer's "signed here" mode (1), and a container with a bad signature (0).
    manifest = json.dumps({"uuid": "4a0d6f0e-7c1b-4e55-8f3a-5048520000a1", "name": "seed", "version": "1.2.3",
                           "capabilities": ["storage", "crypto", "random"], "limits": {"memoryPages": 64}}).encode()
    wasms = sorted(glob.glob(os.path.join(args.project, ".build", "plugins", "outputs", "*", "TrubiZoneSampleTrustlets", "**", "*.wasm"),
                             recursive=True), key=os.path.getsize)
    for path in wasms[:4]:
        wasm = open(path, "rb").read()
        seed("fuzz-package", b"\x01" + struct.pack(">H", len(manifest)) + manifest + wasm)
        container = b"TZPK\x01\x00\x00\x00" + struct.pack(">I", len(manifest)) + manifest + struct.pack(">I", len(wasm)) + wasm
        seed("fuzz-package", b"\x00" + container + b"\x04" + bytes(64) + bytes(64))
    seed("fuzz-package", b"\x01" + struct.pack(">H", len(manifest)) + manifest + b"\x00asm\x01\x00\x00\x00")

    # World-switch frames: "TZWS" | version 1 | kind | 0 0 | request id u32 | body length u32 | body.
    def frame(kind, body, request=1):
        return b"TZWS" + bytes([1, kind, 0, 0]) + struct.pack(">II", request, len(body)) + body
    uuid, token = bytes(range(16)), bytes(16)
    none4 = b"\x00" * 4
    params = b"\x01" + struct.pack(">II", 7, 9) + b"\x05" + struct.pack(">I", 5) + b"hello" + b"\x06" + struct.pack(">I", 64) \
        + b"\x07" + struct.pack(">II", 16, 3) + b"abc"
    open_session = frame(1, uuid + struct.pack(">II", 0, 0) + token + none4)
    invoke = frame(2, struct.pack(">II", 1, 3) + token + params, 2)
    close = frame(3, struct.pack(">I", 1), 3)
    cancel = frame(4, token, 4)
    reply = frame(0x80, struct.pack(">III", 0, 4, 1) + b"\x01" + struct.pack(">II", 1, 2) + b"\x02" + struct.pack(">II", 3, 3) + b"xyz"
                  + b"\x00\x00" + struct.pack(">H", 2) + b"ok", 5)
    for item in [open_session, invoke, close, cancel, reply, open_session + invoke + close, invoke + cancel + reply]:
        seed("fuzz-frame", item)

    for fuzzer, count in sorted(counts.items()):
        print(f"{fuzzer}: {count} seeds")

if __name__ == "__main__":
    main()
