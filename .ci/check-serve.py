"""Talks to a running phr-server: health, a challenge, and the named refusals of bad requests.

    check-serve.py BASE-URL DATABASE NAMED-OUT

Some requests name a patient of DATABASE and one of its records; their IDs are written to NAMED-OUT
(one per line) so that the caller can search the server's log for them."""
import json
import sqlite3
import sys
import urllib.error
import urllib.request

base, database, named_out = sys.argv[1], sys.argv[2], sys.argv[3]
with sqlite3.connect(database) as db:
    # A patient with records of its own, and an ID long enough not to turn up by chance in a log.
    found = db.execute("SELECT p.id, r.type, r.id FROM resource p JOIN resource r ON r.patient IN (p.id, 'Patient/' || p.id) "
                       "WHERE p.type = 'Patient' AND r.type != 'Patient' AND length(p.id) >= 16 AND length(r.id) >= 16 "
                       "ORDER BY p.id, r.type, r.id LIMIT 1").fetchone()
if found is None:
    sys.exit(f"error: {database} holds no patient with a record of its own")
patient, record = found[0], (found[1], found[2])
with open(named_out, "w") as out:
    out.write(f"{patient}\n{record[1]}\n")


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
    ("GET", f"/v1/shared/Patient/{patient}", None, {"Authorization": "Bearer tzp_nothing"}, 401, "unauthenticated"),
    ("GET", f"/v1/shared/{record[0]}/{record[1]}", None, {}, 401, "unauthenticated"),
    ("POST", "/v1/observations", b"{}", {"TZ-Device": "0" * 32, "TZ-Time": "1", "TZ-Nonce": "0" * 32, "TZ-Signature": "00" * 64},
     401, "unauthenticated"),
]
for method, path, body, headers, want, name in checks:
    status, answer = call(method, path, body, headers)
    error = json.loads(answer).get("error") if answer else None
    expect(status == want and error == name, f"{method} {path} answered {status} {error}, expected {want} {name}")
print(f"phr-server answered {len(checks) + 2} requests as expected")
