import TrubiZoneProtocol
import WasmKit

/// The keys group: keys the runtime generates and keeps for the trustlet, named by IDs the
/// trustlet chooses. Private keys never enter the trustlet's memory; it gets public keys,
/// signatures, and what its keys seal and open.
extension HostAPI {
    func defineKeys(_ imports: inout Imports, _ store: Store) {
        let keys = trustlet.keys
        // The public key (65 bytes; none for AEAD) is written like any output.
        define(&imports, store, "key_generate") { memory, args in
            let id = try memory.input(args, "id")
            try memory.checkOutput(args, "publicKey")
            guard let kind = KeyRing.Kind(rawValue: try args.value("kind")) else { return .badParameters }
            // Say what fits before anything is created, so the retry does not find the ID taken.
            if try memory.isShort(kind == .aead ? 0 : 65, args, "publicKey") { return .shortBuffer }
            return try memory.output(try keys.generate(id, kind: kind), args, "publicKey")
        }
        define(&imports, store, "key_public") { memory, args in
            let id = try memory.input(args, "id")
            try memory.checkOutput(args, "publicKey")
            return try memory.output(try keys.publicKey(id).1, args, "publicKey")
        }
        define(&imports, store, "key_sign") { memory, args in
            let id = try memory.input(args, "id")
            let data = try memory.input(args, "data")
            try memory.checkResult(args, "signature")
            try memory.writeResult(try keys.sign(id, data), args, "signature")
            return .success
        }
        define(&imports, store, "key_delete") { memory, args in
            try keys.delete(try memory.input(args, "id"))
            return .success
        }
        // aead_seal / aead_open: AES-256-GCM, a sealed box being nonce ‖ ciphertext ‖ tag.
        for (function, sealing) in [("aead_seal", true), ("aead_open", false)] {
            define(&imports, store, function) { memory, args in
                let id = try memory.input(args, "id")
                let aad = try memory.input(args, "aad")
                let input = try memory.input(args, "input")
                try memory.checkOutput(args, "output")
                if sealing, try memory.isShort(input.count + KeyRing.aeadOverhead, args, "output") { return .shortBuffer }
                let output = sealing ? try keys.seal(id, input, authenticating: aad) : try keys.open(id, input, authenticating: aad)
                return try memory.output(output, args, "output")
            }
        }
        // The message is encapsulated key ‖ ciphertext.
        define(&imports, store, "hpke_open") { memory, args in
            let id = try memory.input(args, "id")
            let info = try memory.input(args, "info")
            let aad = try memory.input(args, "aad")
            let message = try memory.input(args, "message")
            try memory.checkOutput(args, "output")
            return try memory.output(try keys.hpkeOpen(id, message, info: info, authenticating: aad), args, "output")
        }
        // HPKE Auth mode, this key the sender's → encapsulated key ‖ ciphertext.
        define(&imports, store, "hpke_seal_auth") { memory, args in
            let id = try memory.input(args, "id")
            let recipient = try memory.input(args, "recipient")
            let info = try memory.input(args, "info")
            let aad = try memory.input(args, "aad")
            let plaintext = try memory.input(args, "plaintext")
            if try memory.isShort(KeyRing.encapsulatedKeyLength + plaintext.count + 16, args, "output") { return .shortBuffer }
            return try memory.output(try keys.hpkeSealAuth(id, to: recipient, plaintext, info: info, authenticating: aad), args, "output")
        }
        // Opens an Auth-mode message from `sender`'s key (encapsulated key ‖ ciphertext).
        define(&imports, store, "hpke_open_auth") { memory, args in
            let id = try memory.input(args, "id")
            let sender = try memory.input(args, "sender")
            let info = try memory.input(args, "info")
            let aad = try memory.input(args, "aad")
            let message = try memory.input(args, "message")
            try memory.checkOutput(args, "output")
            return try memory.output(try keys.hpkeOpenAuth(id, from: sender, message, info: info, authenticating: aad), args, "output")
        }
    }
}
