// Generated from Trustlets/SDK/Wire/HostABI.swift by `trubizone trustlet abi`: do not edit.
// HostABITests fails when this file and the table differ
// (`TRUBIZONE_REGENERATE=1 swift test --filter HostABI` rewrites it).
//
// The internal API as the trustlet imports it (wasm module "tz"). Every pointer and
// length is checked by the runtime against the trustlet's memory; a bad one ends the session.

/// Writes a line to the trustlet's secure log (kept by the secure world, never shown to the normal world).
/// Capability group: `log`.
@_extern(wasm, module: "tz", name: "log") @_extern(c)
func tz_log(message: UnsafeRawPointer?, messageLength: Int32)

/// Fills the buffer with random bytes (at most 64 KiB).
/// Capability group: `random`.
@_extern(wasm, module: "tz", name: "random") @_extern(c)
func tz_random(buffer: UnsafeMutableRawPointer?, bufferLength: Int32) -> UInt32

/// Nanoseconds since the runtime started; never goes back.
/// Capability group: `time`.
@_extern(wasm, module: "tz", name: "time_monotonic") @_extern(c)
func tz_time_monotonic(nanoseconds: UnsafeMutablePointer<UInt64>?) -> UInt32

/// Seconds since 1970 (UTC), from the secure world's clock.
/// Capability group: `time`.
@_extern(wasm, module: "tz", name: "time_wall") @_extern(c)
func tz_time_wall(seconds: UnsafeMutablePointer<UInt64>?) -> UInt32

/// Creates or replaces a sealed object.
/// Capability group: `storage`.
@_extern(wasm, module: "tz", name: "storage_write") @_extern(c)
func tz_storage_write(id: UnsafeRawPointer?, idLength: Int32, data: UnsafeRawPointer?, dataLength: Int32) -> UInt32

/// Reads a sealed object; ITEM_NOT_FOUND if there is none with that ID.
/// Capability group: `storage`.
@_extern(wasm, module: "tz", name: "storage_read") @_extern(c)
func tz_storage_read(
    id: UnsafeRawPointer?,
    idLength: Int32,
    buffer: UnsafeMutableRawPointer?,
    bufferCapacity: Int32,
    bufferLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Deletes a sealed object.
/// Capability group: `storage`.
@_extern(wasm, module: "tz", name: "storage_delete") @_extern(c)
func tz_storage_delete(id: UnsafeRawPointer?, idLength: Int32) -> UInt32

/// Reads a replay-protected counter (0 if never advanced).
/// Capability group: `counters`.
@_extern(wasm, module: "tz", name: "counter_read") @_extern(c)
func tz_counter_read(id: UnsafeRawPointer?, idLength: Int32, value: UnsafeMutablePointer<UInt64>?) -> UInt32

/// Adds one to a replay-protected counter and gives the new value.
/// Capability group: `counters`.
@_extern(wasm, module: "tz", name: "counter_increment") @_extern(c)
func tz_counter_increment(id: UnsafeRawPointer?, idLength: Int32, value: UnsafeMutablePointer<UInt64>?) -> UInt32

/// SHA-256 of the data.
/// Capability group: `crypto`.
@_extern(wasm, module: "tz", name: "sha256") @_extern(c)
func tz_sha256(data: UnsafeRawPointer?, dataLength: Int32, digest: UnsafeMutableRawPointer?) -> UInt32

/// HMAC-SHA256 of the data under the key.
/// Capability group: `crypto`.
@_extern(wasm, module: "tz", name: "hmac_sha256") @_extern(c)
func tz_hmac_sha256(
    key: UnsafeRawPointer?,
    keyLength: Int32,
    data: UnsafeRawPointer?,
    dataLength: Int32,
    mac: UnsafeMutableRawPointer?
) -> UInt32

/// HKDF-SHA256 (RFC 5869): fills the output (1 to 8,160 bytes).
/// Capability group: `crypto`.
@_extern(wasm, module: "tz", name: "hkdf_sha256") @_extern(c)
func tz_hkdf_sha256(
    ikm: UnsafeRawPointer?,
    ikmLength: Int32,
    salt: UnsafeRawPointer?,
    saltLength: Int32,
    info: UnsafeRawPointer?,
    infoLength: Int32,
    output: UnsafeMutableRawPointer?,
    outputLength: Int32
) -> UInt32

/// HPKE base mode (RFC 9180, P-256, HKDF-SHA256, AES-128-GCM) to a public key: encapsulated key ‖ ciphertext.
/// Capability group: `crypto`.
@_extern(wasm, module: "tz", name: "hpke_seal") @_extern(c)
func tz_hpke_seal(
    recipient: UnsafeRawPointer?,
    recipientLength: Int32,
    info: UnsafeRawPointer?,
    infoLength: Int32,
    aad: UnsafeRawPointer?,
    aadLength: Int32,
    plaintext: UnsafeRawPointer?,
    plaintextLength: Int32,
    output: UnsafeMutableRawPointer?,
    outputCapacity: Int32,
    outputLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Generates a runtime-held key (kind 1 signing, 2 HPKE, 3 AEAD); gives its public key (65 bytes; none for AEAD).
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "key_generate") @_extern(c)
func tz_key_generate(
    kind: UInt32,
    id: UnsafeRawPointer?,
    idLength: Int32,
    publicKey: UnsafeMutableRawPointer?,
    publicKeyCapacity: Int32,
    publicKeyLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// A runtime-held key's public key.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "key_public") @_extern(c)
func tz_key_public(
    id: UnsafeRawPointer?,
    idLength: Int32,
    publicKey: UnsafeMutableRawPointer?,
    publicKeyCapacity: Int32,
    publicKeyLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Signs with a runtime-held key: ES256, raw r ‖ s.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "key_sign") @_extern(c)
func tz_key_sign(
    id: UnsafeRawPointer?,
    idLength: Int32,
    data: UnsafeRawPointer?,
    dataLength: Int32,
    signature: UnsafeMutableRawPointer?
) -> UInt32

/// Deletes a runtime-held key.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "key_delete") @_extern(c)
func tz_key_delete(id: UnsafeRawPointer?, idLength: Int32) -> UInt32

/// AES-256-GCM with a runtime-held key: nonce ‖ ciphertext ‖ tag.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "aead_seal") @_extern(c)
func tz_aead_seal(
    id: UnsafeRawPointer?,
    idLength: Int32,
    aad: UnsafeRawPointer?,
    aadLength: Int32,
    input: UnsafeRawPointer?,
    inputLength: Int32,
    output: UnsafeMutableRawPointer?,
    outputCapacity: Int32,
    outputLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Opens what aead_seal sealed with the same key and associated data.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "aead_open") @_extern(c)
func tz_aead_open(
    id: UnsafeRawPointer?,
    idLength: Int32,
    aad: UnsafeRawPointer?,
    aadLength: Int32,
    input: UnsafeRawPointer?,
    inputLength: Int32,
    output: UnsafeMutableRawPointer?,
    outputCapacity: Int32,
    outputLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Opens an HPKE base-mode message (encapsulated key ‖ ciphertext) with a runtime-held HPKE key.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "hpke_open") @_extern(c)
func tz_hpke_open(
    id: UnsafeRawPointer?,
    idLength: Int32,
    info: UnsafeRawPointer?,
    infoLength: Int32,
    aad: UnsafeRawPointer?,
    aadLength: Int32,
    message: UnsafeRawPointer?,
    messageLength: Int32,
    output: UnsafeMutableRawPointer?,
    outputCapacity: Int32,
    outputLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// HPKE Auth mode, the runtime-held key the sender's: encapsulated key ‖ ciphertext.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "hpke_seal_auth") @_extern(c)
func tz_hpke_seal_auth(
    id: UnsafeRawPointer?,
    idLength: Int32,
    recipient: UnsafeRawPointer?,
    recipientLength: Int32,
    info: UnsafeRawPointer?,
    infoLength: Int32,
    aad: UnsafeRawPointer?,
    aadLength: Int32,
    plaintext: UnsafeRawPointer?,
    plaintextLength: Int32,
    output: UnsafeMutableRawPointer?,
    outputCapacity: Int32,
    outputLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Opens an HPKE Auth-mode message only if the sender's key sealed it.
/// Capability group: `keys`.
@_extern(wasm, module: "tz", name: "hpke_open_auth") @_extern(c)
func tz_hpke_open_auth(
    id: UnsafeRawPointer?,
    idLength: Int32,
    sender: UnsafeRawPointer?,
    senderLength: Int32,
    info: UnsafeRawPointer?,
    infoLength: Int32,
    aad: UnsafeRawPointer?,
    aadLength: Int32,
    message: UnsafeRawPointer?,
    messageLength: Int32,
    output: UnsafeMutableRawPointer?,
    outputCapacity: Int32,
    outputLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Shows text on the trusted display, under the trustlet's verified name.
/// Capability group: `ui`.
@_extern(wasm, module: "tz", name: "ui_show") @_extern(c)
func tz_ui_show(text: UnsafeRawPointer?, textLength: Int32) -> UInt32

/// Asks the user a yes/no question on the trusted display: answer 1 yes, 0 no.
/// Capability group: `ui`.
@_extern(wasm, module: "tz", name: "ui_confirm") @_extern(c)
func tz_ui_confirm(question: UnsafeRawPointer?, questionLength: Int32, answer: UnsafeMutablePointer<UInt32>?) -> UInt32

/// Reads a PIN on the trusted display's keypad: the digits, as ASCII.
/// Capability group: `ui`.
@_extern(wasm, module: "tz", name: "ui_read_pin") @_extern(c)
func tz_ui_read_pin(
    prompt: UnsafeRawPointer?,
    promptLength: Int32,
    pin: UnsafeMutableRawPointer?,
    pinCapacity: Int32,
    pinLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// Reads a line on the trusted display: printable ASCII, 1 to 64 bytes.
/// Capability group: `ui`.
@_extern(wasm, module: "tz", name: "ui_read_text") @_extern(c)
func tz_ui_read_text(
    prompt: UnsafeRawPointer?,
    promptLength: Int32,
    text: UnsafeMutableRawPointer?,
    textCapacity: Int32,
    textLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

/// An attestation token for the nonce, binding the named runtime-held keys (an empty ID binds none).
/// Capability group: `attestation`.
@_extern(wasm, module: "tz", name: "attest") @_extern(c)
func tz_attest(
    nonce: UnsafeRawPointer?,
    nonceLength: Int32,
    signingKey: UnsafeRawPointer?,
    signingKeyLength: Int32,
    hpkeKey: UnsafeRawPointer?,
    hpkeKeyLength: Int32,
    token: UnsafeMutableRawPointer?,
    tokenCapacity: Int32,
    tokenLength: UnsafeMutablePointer<UInt32>?
) -> UInt32

#if TRUBIZONE_WEAKENINGS

/// Whether the attack suite's negative control turned the check `name` off: SUCCESS off, ITEM_NOT_FOUND on.
/// Debug runtimes only; no capability group.
@_extern(wasm, module: "tz", name: "test_weakened") @_extern(c)
func tz_test_weakened(name: UnsafeRawPointer?, nameLength: Int32) -> UInt32
#endif
