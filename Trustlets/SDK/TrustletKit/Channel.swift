// The end-to-end channel, trustlet side, over the one implementation of its format
// (`ChannelMessage`, in `Trustlets/SDK/Wire`, compiled into both worlds). The trustlet's private
// key stays in the runtime: sealing and opening go through the internal API's HPKE Auth-mode
// calls, so a message opens only if it came from the key the trustlet expects.

/// Messages to and from this trustlet's server, authenticated by the sender's long-term key.
public enum Channel {
    /// Opens a message sent to `key` (an HPKE runtime key of this trustlet) by the holder of
    /// `sender` (the server's key, learnt and proven at enrollment).
    /// - Parameters:
    ///   - purpose: the purpose expected.
    ///   - request: the nonce of the signed request this message must answer ("" for none).
    ///   - last: the last sequence number accepted for this purpose; the message must be later.
    /// - Throws: `macInvalid` when it is not the sender's (forged, altered, or sealed by anyone
    ///   else), `security` when it answers another request, comes from another sender or is not
    ///   later than `last`, `badParameters` for another recipient or purpose, `badFormat` for a
    ///   malformed message or an older version.
    public static func open(_ message: [UInt8], key: RuntimeKey, from sender: [UInt8], purpose: String, request: String,
                            after last: UInt64?) throws(TrustletError) -> (payload: [UInt8], sequence: UInt64) {
        #if TRUBIZONE_WEAKENINGS
        if weakened("senderKey"), message.count > 4, Array(message[0..<4]) == Bytes.utf8("TZE1") {
            return try openBaseMode(message, key: key, purpose: purpose, after: last)
        }
        #endif
        let crypto = RuntimeChannelCrypto(key: key)
        do throws(ChannelFormatError) {
            // A negative control's test build with answer binding off takes the request the
            // message names and any sequence.
            if weakened("answerBinding") {
                return try ChannelMessage.open(message, from: sender, purpose: Bytes.utf8(purpose), request: try ChannelMessage.header(of: message).request,
                                               after: nil, crypto: crypto)
            }
            return try ChannelMessage.open(message, from: sender, purpose: Bytes.utf8(purpose), request: Bytes.utf8(request), after: last, crypto: crypto)
        } catch {
            throw crypto.failure.error ?? Self.error(error)
        }
    }

    #if TRUBIZONE_WEAKENINGS
    /// A negative control's test build with sender authentication off also opens the channel's
    /// first format, TZE1: HPKE base mode, which anyone holding this trustlet's public key can seal.
    ///
    ///     "TZE1" | suite (6) | recipient hint (8) | sequence u64 | purpose length u8 | purpose |
    ///     encapsulated key (65) | HPKE base-mode ciphertext of (length u32 | payload | zeros)
    ///
    /// with `info` = "TrubiZone channel v1" ‖ 0x00 ‖ SHA-256(recipient key) and the header as the
    /// associated data.
    static func openBaseMode(_ message: [UInt8], key: RuntimeKey, purpose: String, after last: UInt64?) throws(TrustletError)
        -> (payload: [UInt8], sequence: UInt64) {
        let fixed = 27
        guard message.count > fixed else { throw .badFormat }
        let headerEnd = fixed + Int(message[26])
        guard message.count > headerEnd + 65 else { throw .badFormat }
        guard Array(message[fixed..<headerEnd]) == Bytes.utf8(purpose) else { throw .badParameters }
        guard let sequence = Bytes.readUInt64(message, at: 18) else { throw .badFormat }
        if let last, sequence <= last { throw .security }
        let info = Bytes.utf8("TrubiZone channel v1") + [0] + (try Digest.sha256(try key.publicKey()))
        let plaintext = try key.hpkeOpen([UInt8](copying: message[headerEnd...]), info: info, aad: [UInt8](copying: message[0..<headerEnd]))
        guard plaintext.count >= 4 else { throw .badFormat }
        let length = Int(plaintext[0]) << 24 | Int(plaintext[1]) << 16 | Int(plaintext[2]) << 8 | Int(plaintext[3])
        guard length >= 0, length <= plaintext.count - 4 else { throw .badFormat }
        return ([UInt8](copying: plaintext[4..<(4 + length)]), sequence)
    }
    #endif

    /// Seals `payload` from `key` to `recipient` (a P-256 public key, 65 bytes) for `purpose`, as
    /// message number `sequence` of that purpose.
    public static func seal(_ payload: [UInt8], key: RuntimeKey, to recipient: [UInt8], purpose: String, sequence: UInt64,
                            request: String = "") throws(TrustletError) -> [UInt8] {
        let crypto = RuntimeChannelCrypto(key: key)
        do throws(ChannelFormatError) {
            return try ChannelMessage.seal(payload, to: recipient, purpose: Bytes.utf8(purpose), sequence: sequence, request: Bytes.utf8(request),
                                           crypto: crypto)
        } catch {
            throw crypto.failure.error ?? Self.error(error)
        }
    }

    static func error(_ error: ChannelFormatError) -> TrustletError {
        switch error {
        case .authenticationFailed: .macInvalid
        case .wrongSender, .wrongRequest, .replayed: .security
        case .wrongRecipient, .wrongPurpose, .badPurpose, .badRequest, .badBucket, .badKey, .tooLarge: .badParameters
        case .malformed, .unsupportedVersion, .unsupportedSuite, .badPadding: .badFormat
        case .cryptoFailed: .generic
        }
    }
}

/// Where a runtime call's own error is kept while the shared format code unwinds.
final class ChannelFailure {
    var error: TrustletError? = nil
}

/// The channel's cryptography through the internal API, with the trustlet's runtime-held key.
struct RuntimeChannelCrypto: ChannelCrypto {
    let key: RuntimeKey
    let failure = ChannelFailure()

    func ownPublicKey() throws(ChannelFormatError) -> [UInt8] {
        try kept { () throws(TrustletError) in try key.publicKey() }
    }

    func sha256(_ bytes: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        try kept { () throws(TrustletError) in try Digest.sha256(bytes) }
    }

    func sealAuth(to recipient: [UInt8], info: [UInt8], aad: [UInt8], plaintext: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        try kept { () throws(TrustletError) in
            try withBytes(key.id) { i, il throws(TrustletError) in
                try withBytes(recipient) { r, rl throws(TrustletError) in
                    try withBytes(info) { f, fl throws(TrustletError) in
                        try withBytes(aad) { a, al throws(TrustletError) in
                            try withBytes(plaintext) { p, pl throws(TrustletError) in
                                try variableOutput(initial: plaintext.count + 81) { tz_hpke_seal_auth(id: i, idLength: il, recipient: r, recipientLength: rl, info: f, infoLength: fl, aad: a, aadLength: al,
                                                      plaintext: p, plaintextLength: pl, output: $0, outputCapacity: $1, outputLength: $2) }
                            }
                        }
                    }
                }
            }
        }
    }

    func openAuth(from sender: [UInt8], info: [UInt8], aad: [UInt8], sealed: [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        do throws(TrustletError) {
            return try withBytes(key.id) { i, il throws(TrustletError) in
                try withBytes(sender) { s, sl throws(TrustletError) in
                    try withBytes(info) { f, fl throws(TrustletError) in
                        try withBytes(aad) { a, al throws(TrustletError) in
                            try withBytes(sealed) { m, ml throws(TrustletError) in
                                try variableOutput(initial: sealed.count) { tz_hpke_open_auth(id: i, idLength: il, sender: s, senderLength: sl, info: f, infoLength: fl, aad: a, aadLength: al,
                                                      message: m, messageLength: ml, output: $0, outputCapacity: $1, outputLength: $2) }
                            }
                        }
                    }
                }
            }
        } catch where error == .macInvalid {
            throw .authenticationFailed
        } catch {
            failure.error = error
            throw .cryptoFailed
        }
    }

    private func kept(_ work: () throws(TrustletError) -> [UInt8]) throws(ChannelFormatError) -> [UInt8] {
        do throws(TrustletError) { return try work() } catch {
            failure.error = error
            throw .cryptoFailed
        }
    }
}
