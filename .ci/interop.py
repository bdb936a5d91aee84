#!/usr/bin/env python3
"""Checks a TrubiZone attestation token with independent implementations: pycose (COSE_Sign1,
ES256), cbor2 (the claims) and cryptography (the device certificate against the manufacturer CA).

    interop.py TOKEN CA-CERT.pem NONCE-HEX

Exits non-zero, saying why, if any check fails.
"""
import sys

import cbor2
from cryptography import x509
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
    print(f"interop: pycose verified the token ({len(token)} bytes, profile {claims.get(265)}, "
          f"{len(components)} components, {len((claims.get(8) or {}))} cnf entries)")


if __name__ == "__main__":
    main()
