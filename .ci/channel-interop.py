#!/usr/bin/env python3
"""The end-to-end channel message, implemented from the README's description alone (section
"The end-to-end channel") with pyhpke and cryptography, against `trubizone channel`: messages
sealed here open on the Swift side, messages the Swift side seals open here, byte for byte, and a
message sealed by anyone but the named sender is refused by both.

    channel-interop.py PATH/TO/trubizone
"""
import hashlib
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

SUITE = CipherSuite.new(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES128_GCM)
MAGIC = b"TZE2"
SUITE_IDS = bytes([0x00, 0x10, 0x00, 0x01, 0x00, 0x01])
INFO_LABEL = b"TrubiZone channel v2\x00"


def point(public_key):
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def sha256(data):
    return hashlib.sha256(data).digest()


def bucket(count):
    needed, size = count + 4, 1024
    while size < needed and size < 1 << 20:
        size <<= 1
    return size if needed <= size else (needed + (1 << 20) - 1) // (1 << 20) * (1 << 20)


def seal(payload, recipient, sender, purpose, sequence, request=b"", minimum_bucket=0, claimed_sender=None):
    recipient_hash = sha256(point(recipient))
    sender_hash = sha256(point(claimed_sender or sender.public_key()))
    aad = (MAGIC + SUITE_IDS + recipient_hash[:8] + sender_hash[:8] + sequence.to_bytes(8, "big")
           + bytes([len(purpose)]) + purpose + bytes([len(request)]) + request)
    plaintext = len(payload).to_bytes(4, "big") + payload
    plaintext += bytes(max(bucket(len(payload)), minimum_bucket) - len(plaintext))
    enc, context = SUITE.create_sender_context(KEMKey.from_pyca_cryptography_key(recipient), info=INFO_LABEL + recipient_hash + sender_hash,
                                               sks=KEMKey.from_pyca_cryptography_key(sender))
    return aad + enc + context.seal(plaintext, aad=aad)


def open_message(message, recipient, sender, purpose, request=b""):
    assert message[:4] == MAGIC and message[4:10] == SUITE_IDS, "not a TZE2 message of our suite"
    recipient_hash, sender_hash = sha256(point(recipient.public_key())), sha256(point(sender))
    assert message[10:18] == recipient_hash[:8], "another recipient"
    assert message[18:26] == sender_hash[:8], "another sender"
    sequence = int.from_bytes(message[26:34], "big")
    purpose_end = 35 + message[34]
    assert message[35:purpose_end] == purpose, "another purpose"
    request_end = purpose_end + 1 + message[purpose_end]
    assert message[purpose_end + 1:request_end] == request, "another request"
    enc, ciphertext = message[request_end:request_end + 65], message[request_end + 65:]
    context = SUITE.create_recipient_context(enc, KEMKey.from_pyca_cryptography_key(recipient), info=INFO_LABEL + recipient_hash + sender_hash,
                                             pks=KEMKey.from_pyca_cryptography_key(sender))
    plaintext = context.open(ciphertext, aad=message[:request_end])
    length = int.from_bytes(plaintext[:4], "big")
    size = len(plaintext)
    is_bucket = size >= 1024 and (size & (size - 1) == 0 if size <= 1 << 20 else size % (1 << 20) == 0)
    assert is_bucket and size >= bucket(length) and not any(plaintext[4 + length:]), "bad padding"
    return plaintext[4:4 + length], sequence


def main():
    trubizone = sys.argv[1]
    work = tempfile.mkdtemp()
    keys = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("server", "trustlet", "attacker")}
    for name, key in keys.items():
        with open(os.path.join(work, name + ".pem"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        with open(os.path.join(work, name + ".pub.pem"), "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    pem = lambda name: os.path.join(work, name + ".pem")
    pub = lambda name: os.path.join(work, name + ".pub.pem")
    nonce = os.urandom(16).hex().encode()

    def swift_open(message, purpose, request, sender="server", recipient="trustlet"):
        return subprocess.run([trubizone, "channel", "open", "-", "--with", pem(recipient), "--from", pub(sender), "--purpose", purpose,
                               "--request", request], input=message, capture_output=True)

    checked = 0
    # Here → Swift: a small payload, one past a bucket, and one padded to a larger bucket.
    for size, minimum in ((0, 0), (1021, 0), (5000, 64 << 10)):
        payload = os.urandom(size)
        message = seal(payload, keys["trustlet"].public_key(), keys["server"], b"phr-sync", 7 + size, nonce, minimum)
        opened = swift_open(message, "phr-sync", nonce.decode())
        assert opened.returncode == 0 and opened.stdout == payload, (size, opened.returncode, opened.stderr)
        checked += 1
    # A message the attacker sealed in the server's name, and one it sealed as itself: refused.
    payload = b'{"cursor":"9","more":false,"resources":[]}'
    posing = seal(payload, keys["trustlet"].public_key(), keys["attacker"], b"phr-sync", 1, nonce, claimed_sender=keys["server"].public_key())
    honest = seal(payload, keys["trustlet"].public_key(), keys["attacker"], b"phr-sync", 1, nonce)
    for forged in (posing, honest):
        refused = swift_open(forged, "phr-sync", nonce.decode())
        assert refused.returncode == 1 and b"refused" in refused.stderr, (refused.returncode, refused.stderr)
        checked += 1
    # The same message for another request, or another purpose: refused.
    genuine = seal(payload, keys["trustlet"].public_key(), keys["server"], b"phr-sync", 2, nonce)
    assert swift_open(genuine, "phr-sync", os.urandom(16).hex()).returncode == 1
    assert swift_open(genuine, "phr-audit", nonce.decode()).returncode == 1
    checked += 2
    # Swift → here, both directions of the PHR app: trustlet to server (no request), server to trustlet.
    for sender, recipient, purpose, request in (("trustlet", "server", b"phr-upload", b""), ("server", "trustlet", b"phr-receipt", nonce)):
        payload = os.urandom(3000)
        sealed = subprocess.run([trubizone, "channel", "seal", "-", "--to", pub(recipient), "--from", pem(sender), "--purpose", purpose.decode(),
                                 "--sequence", "42", "--request", request.decode()], input=payload, capture_output=True, check=True).stdout
        opened, sequence = open_message(sealed, keys[recipient], keys[sender].public_key(), purpose, request)
        assert opened == payload and sequence == 42, "the Swift side's message does not open here"
        try:
            open_message(sealed, keys[recipient], keys["attacker"].public_key(), purpose, request)
            raise AssertionError("opened from the wrong sender")
        except AssertionError as error:
            assert str(error) == "another sender", error
        checked += 1
    print(f"channel interop (pyhpke, from the README): {checked} checks, both directions")


if __name__ == "__main__":
    main()
