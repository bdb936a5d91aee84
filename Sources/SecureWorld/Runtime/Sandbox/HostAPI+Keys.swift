import TrubiZoneProtocol
import WasmKit

/// The keys group: keys the runtime generates and keeps for the trustlet, named by IDs the
/// trustlet chooses. Private keys never enter the trustlet's memory; it gets public keys,
/// signatures, and what its keys seal and open.
extension HostAPI {
    func defineKeys(_ imports: inout Imports, _ store: Store) {
        let keys = trustlet.keys
        // key_generate(kind, id, idLength, publicKey, capacity, length*): kind 1 signing, 2 HPKE,
        // 3 AEAD. The public key (65 bytes; none for AEAD) is written like any output.
        define(&imports, store, "key_generate", parameters: 6, group: .keys) { memory, args in
            let id = try memory.bytes(args, 1, "a key ID")
            try memory.checkOutput(args, 3, "the public key buffer")
            guard let kind = KeyRing.Kind(rawValue: args[0]) else { return .badParameters }
            let publicLength = kind == .aead ? 0 : 65
            if publicLength > Int(args[4]) {
                // Say what fits before anything is created, so the retry does not find the ID taken.
                return try memory.output([UInt8](repeating: 0, count: publicLength), args, 3, "the public key buffer")
            }
            return try memory.output(try keys.generate(id, kind: kind), args, 3, "the public key buffer")
        }
        // key_public(id, idLength, publicKey, capacity, length*)
        define(&imports, store, "key_public", parameters: 5, group: .keys) { memory, args in
            let id = try memory.bytes(args, 0, "a key ID")
            try memory.checkOutput(args, 2, "the public key buffer")
            return try memory.output(try keys.publicKey(id).1, args, 2, "the public key buffer")
        }
        // key_sign(id, idLength, data, dataLength, signature[64]): ES256, raw r ‖ s.
        define(&imports, store, "key_sign", parameters: 5, group: .keys) { memory, args in
            let id = try memory.bytes(args, 0, "a key ID")
            let data = try memory.bytes(args, 2, "the data")
            try memory.check(args[4], 64, "the signature buffer")
            try memory.write(args[4], try keys.sign(id, data), "the signature buffer")
            return .success
        }
        // key_delete(id, idLength)
        define(&imports, store, "key_delete", parameters: 2, group: .keys) { memory, args in
            try keys.delete(try memory.bytes(args, 0, "a key ID"))
            return .success
        }
        // aead_seal / aead_open(id, idLength, aad, aadLength, input, inputLength, output, capacity,
        // length*): AES-256-GCM, a sealed box being nonce ‖ ciphertext ‖ tag.
        for (function, sealing) in [("aead_seal", true), ("aead_open", false)] {
            define(&imports, store, function, parameters: 9, group: .keys) { memory, args in
                let id = try memory.bytes(args, 0, "a key ID")
                let aad = try memory.bytes(args, 2, "the associated data")
                let input = try memory.bytes(args, 4, sealing ? "the plaintext" : "the sealed box")
                try memory.checkOutput(args, 6, "the output buffer")
                if sealing, input.count + KeyRing.aeadOverhead > Int(args[7]) {
                    return try memory.output([UInt8](repeating: 0, count: input.count + KeyRing.aeadOverhead), args, 6, "the output buffer")
                }
                let output = sealing ? try keys.seal(id, input, authenticating: aad) : try keys.open(id, input, authenticating: aad)
                return try memory.output(output, args, 6, "the output buffer")
            }
        }
        // hpke_open(id, idLength, info, infoLength, aad, aadLength, message, messageLength, output,
        // capacity, length*): the message is encapsulated key ‖ ciphertext.
        define(&imports, store, "hpke_open", parameters: 11, group: .keys) { memory, args in
            let id = try memory.bytes(args, 0, "a key ID")
            let info = try memory.bytes(args, 2, "the info")
            let aad = try memory.bytes(args, 4, "the associated data")
            let message = try memory.bytes(args, 6, "the message")
            try memory.checkOutput(args, 8, "the output buffer")
            return try memory.output(try keys.hpkeOpen(id, message, info: info, authenticating: aad), args, 8, "the output buffer")
        }
        // hpke_seal_auth(id, idLength, recipient, recipientLength, info, infoLength, aad, aadLength,
        //                plaintext, plaintextLength, output, capacity, length*): HPKE Auth mode, this
        // key the sender's → encapsulated key ‖ ciphertext.
        define(&imports, store, "hpke_seal_auth", parameters: 13, group: .keys) { memory, args in
            let id = try memory.bytes(args, 0, "a key ID")
            let recipient = try memory.bytes(args, 2, "the recipient key")
            let info = try memory.bytes(args, 4, "the info")
            let aad = try memory.bytes(args, 6, "the associated data")
            let plaintext = try memory.bytes(args, 8, "the plaintext")
            try memory.checkOutput(args, 10, "the output buffer")
            let needed = KeyRing.encapsulatedKeyLength + plaintext.count + 16
            if needed > Int(args[11]) {
                return try memory.output([UInt8](repeating: 0, count: needed), args, 10, "the output buffer")
            }
            return try memory.output(try keys.hpkeSealAuth(id, to: recipient, plaintext, info: info, authenticating: aad), args, 10, "the output buffer")
        }
        // hpke_open_auth(id, idLength, sender, senderLength, info, infoLength, aad, aadLength,
        //                message, messageLength, output, capacity, length*): opens an Auth-mode
        // message from `sender`'s key (encapsulated key ‖ ciphertext).
        define(&imports, store, "hpke_open_auth", parameters: 13, group: .keys) { memory, args in
            let id = try memory.bytes(args, 0, "a key ID")
            let sender = try memory.bytes(args, 2, "the sender key")
            let info = try memory.bytes(args, 4, "the info")
            let aad = try memory.bytes(args, 6, "the associated data")
            let message = try memory.bytes(args, 8, "the message")
            try memory.checkOutput(args, 10, "the output buffer")
            return try memory.output(try keys.hpkeOpenAuth(id, from: sender, message, info: info, authenticating: aad), args, 10, "the output buffer")
        }
    }
}
