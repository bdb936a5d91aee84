#!/usr/bin/env python3
"""Checks a TrubiZone attestation token with independent implementations: pycose (COSE_Sign1,
ES256), cwt (the token as a CWT, found by its kid), cbor2 (the claims against RFC 9783's PSA
profile, and PSA 2.0.0's boot seed that TF-M's iat-verifier requires) and cryptography (the
device certificate against the manufacturer CA).

    interop.py TOKEN CA-CERT.pem NONCE-HEX

Exits non-zero, saying why, if any check fails.
"""
import sys

import cbor2
import cwt
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.messages import Sign1Message


def fail(message):
    print(f"interop: FAIL: {message}")
    sys.exit(1)


def main():
    token_path, ca_path, nonce_hex = sys.argv[1:4]
    token = open(token_path, "rb").read()
    outer = cbor2.loads(token)
    if not (isinstance(outer, cbor2.CBORTag) and outer.tag == 18):
        fail("the token is not a tagged COSE_Sign1")
    protected = cbor2.loads(outer.value[0])
    chain = protected.get(33)
    leaf_der = chain if isinstance(chain, bytes) else chain[0]
    device = x509.load_der_x509_certificate(leaf_der)
    ca = x509.load_pem_x509_certificate(open(ca_path, "rb").read())
    # The device certificate is signed by the manufacturer CA.
    ca.public_key().verify(device.signature, device.tbs_certificate_bytes, ec.ECDSA(device.signature_hash_algorithm))
    numbers = device.public_key().public_numbers()
    key = EC2Key(crv=P256, x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))

    message = Sign1Message.decode(token)
    message.key = key
    if not message.verify_signature():
        fail("pycose does not verify the signature with the device key")

    claims = cbor2.loads(message.payload)
    if claims.get(10) != bytes.fromhex(nonce_hex):
        fail("the nonce claim is not the nonce sent")
    point = device.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(point)
    if claims.get(256) != b"\x01" + digest.finalize():
        fail("the instance ID is not 0x01 || SHA-256 of the device key")
    components = claims.get(2399) or []
    if len(components) < 2 or any(2 not in c or 5 not in c for c in components):
        fail("the software components lack measurements or signers")

    # RFC 9783's baseline profile, claim by claim (§4 and the CDDL of its appendix).
    if claims.get(265) != "tag:psacertified.org,2023:psa#tfm":
        fail(f"the profile is {claims.get(265)!r}, not RFC 9783's tag:psacertified.org,2023:psa#tfm")
    if len(claims.get(10, b"")) not in (32, 48, 64):
        fail("the nonce is not 32, 48 or 64 bytes")
    client = claims.get(2394)
    if not isinstance(client, int) or client == 0 or not -(2**31) <= client <= 2**31 - 1:
        fail(f"the client ID {client!r} is not a non-zero 32-bit integer")
    lifecycle = claims.get(2395)
    if not isinstance(lifecycle, int) or not (lifecycle >> 8) in (0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60):
        fail(f"the security lifecycle {lifecycle!r} is not one of PSA's")
    if len(claims.get(2396, b"")) != 32:
        fail("the implementation ID is not 32 bytes")
    seed = claims.get(268)
    if not isinstance(seed, bytes) or not 8 <= len(seed) <= 32:
        fail("the boot seed (268) is missing or not 8 to 32 bytes")
    # TF-M's iat-verifier (PSA 2.0.0) wants the seed at 2397, at least 32 bytes: the same bytes.
    if claims.get(2397) != seed or len(seed) < 32:
        fail("PSA 2.0.0's boot seed (2397) is not the 32-byte seed of 268")
    for index, component in enumerate(components):
        if len(component[2]) not in (32, 48, 64) or len(component[5]) not in (32, 48, 64):
            fail(f"software component {index}'s measurement or signer is not 32, 48 or 64 bytes")

    # The protected header is alg, kid, x5chain; the kid is SHA-256 of the attestation key, by
    # which cwt finds the key.
    digest = hashes.Hash(hashes.SHA256())
    digest.update(point)
    kid = digest.finalize()
    if list(protected.keys()) != [1, 4, 33] or protected[1] != -7 or protected[4] != kid:
        fail(f"the protected header is {list(protected.keys())}, kid {protected.get(4)!r}; expected alg ES256, kid = SHA-256(key), x5chain")
    pem = device.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    decoded = cwt.decode(token, cwt.COSEKey.from_pem(pem, alg="ES256", kid=kid))
    if decoded.get(10) != claims.get(10):
        fail("cwt read other claims than cbor2")
    # X.520's upper bound: a common name of at most 64 characters.
    for attribute in device.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        x509.NameAttribute(NameOID.COMMON_NAME, attribute.value)
    print(f"interop: pycose verified the token and cwt read it by its kid ({len(token)} bytes, profile {claims.get(265)}, "
          f"{len(components)} components, {len((claims.get(8) or {}))} cnf entries, {len(seed)}-byte boot seed)")


if __name__ == "__main__":
    main()
