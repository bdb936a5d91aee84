"""Talks to a running phr-server: health, a challenge, and the named refusals of bad requests."""
import json
import sys
import urllib.error
import urllib.request

base = sys.argv[1]


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def expect(condition, what):
    if not condition:
        sys.exit(f"error: {what}")


status, body = call("GET", "/health")
expect(status == 200 and json.loads(body)["status"] == "ok", f"/health answered {status}")
status, body = call("POST", "/v1/enrollment/challenge")
challenge = json.loads(body)
expect(status == 201 and len(bytes.fromhex(challenge["nonce"])) == 32, "no 32-byte challenge nonce")
checks = [
    ("POST", "/v1/sync", b"{}", {}, 401, "unauthenticated"),
    ("POST", "/v1/enrollment", b"{not json", {}, 400, "bad-request"),
    ("POST", "/v1/enrollment", b" " * (300 * 1024), {}, 413, "body-too-large"),
    ("POST", "/v1/enrollment", json.dumps({"challenge": challenge["challenge"], "token": "AAAA", "code": "ZZZZ",
                                           "proof": "00" * 32}).encode(), {}, 403, "attestation-refused"),
    ("GET", "/v1/shared/Observation/x", None, {"Authorization": "Bearer tzp_nothing"}, 401, "unauthenticated"),
    ("POST", "/v1/observations", b"{}", {"TZ-Device": "0" * 32, "TZ-Time": "1", "TZ-Nonce": "0" * 32, "TZ-Signature": "00" * 64},
     401, "unauthenticated"),
]
for method, path, body, headers, want, name in checks:
    status, answer = call(method, path, body, headers)
    error = json.loads(answer).get("error") if answer else None
    expect(status == want and error == name, f"{method} {path} answered {status} {error}, expected {want} {name}")
print(f"phr-server answered {len(checks) + 2} requests as expected")
