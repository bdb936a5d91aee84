import Foundation
import Testing
import TrubiZoneClient
import TrubiZoneProtocol
import TrubiZoneTesting

/// TrustletKit's strict JSON reader and writer, run inside a trustlet (Embedded Swift, wasm) and
/// checked against Foundation's reader on the real FHIR examples in `../shared/data/fhir`.
@Suite struct TrustletJSONTests {
    /// The reasons of `JSONError.Reason`, by raw value.
    enum Reason: UInt32 {
        case accepted = 0, tooLarge, tooDeep, unexpectedEnd, unexpectedCharacter, invalidNumber, invalidEscape,
             invalidUTF8, controlCharacter, duplicateKey, trailingData
    }

    func read(_ probe: InternalAPITests.Probe, _ document: [UInt8], maxDepth: UInt32 = 0, maxBytes: UInt32 = 0) async throws -> (Reason?, [UInt8]) {
        let result = try await probe.call(0, [.input(document), .output(capacity: document.count * 2 + 64), .valueInput(maxDepth, maxBytes), .valueOutput])
        return (Reason(rawValue: result.value(3)?.a ?? 99), result.bytes(1) ?? [])
    }

    @Test func fhirExamplesRoundTripUnchangedInMeaning() async throws {
        let probe = try await InternalAPITests.Probe()
        let files = try SharedData.files(in: "fhir", withExtension: ".json")
        #expect(files.count >= 40)
        for file in files {
            let original = try Data(contentsOf: URL(fileURLWithPath: file))
            let (reason, written) = try await read(probe, Array(original))
            #expect(reason == .accepted, "\(file)")
            let expected = try JSONSerialization.jsonObject(with: original) as? NSDictionary
            let roundTripped = try JSONSerialization.jsonObject(with: Data(written)) as? NSDictionary
            #expect(expected != nil && expected == roundTripped, "\(file) changed in meaning")
            // Numbers keep their literal text (FHIR decimals are precise: 1.50 is not 1.5).
            for literal in Self.decimalLiterals(in: original) {
                #expect(String(decoding: written, as: UTF8.self).contains(literal), "\(file) lost the literal \(literal)")
            }
        }
    }

    @Test func fhirResourcesAreReadByField() async throws {
        let probe = try await InternalAPITests.Probe()
        let patient = try Data(contentsOf: URL(fileURLWithPath: SharedData.path("fhir/Patient-example.json")))
        let result = try await probe.call(12, [.input(Array(patient)), .output(capacity: 64), .valueOutput])
        #expect(result.bytes(1) == Array("Patient/example".utf8))
        let members = try JSONSerialization.jsonObject(with: patient) as? [String: Any]
        #expect(result.value(2)?.a == UInt32(members?.count ?? -1))
        let error = await #expect(throws: TEEError.self) {
            try await probe.call(12, [.input(Array(#"{"resourceType":"Patient","id":"a","id":"b"}"#.utf8)), .output(capacity: 64), .valueOutput])
        }
        #expect(error?.code == .badFormat)
    }

    @Test(arguments: [
        (#"{"a":1,}"#, Reason.unexpectedCharacter), ("[1,]", .unexpectedCharacter), ("[01]", .invalidNumber), ("1.", .invalidNumber),
        ("-", .invalidNumber), (".5", .unexpectedCharacter), ("1e", .invalidNumber), ("+1", .unexpectedCharacter),
        (#"{"a":1,"a":2}"#, .duplicateKey), (#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"c":11}"#, .duplicateKey),
        (#""\ud800""#, .invalidEscape), (#""\udc00\ud800""#, .invalidEscape), (#""\x41""#, .invalidEscape), (#""\u12G4""#, .invalidEscape),
        ("\"a\tb\"", .controlCharacter), ("[1] x", .trailingData), ("{} {}", .trailingData), ("[", .unexpectedEnd), (#"{"a""#, .unexpectedEnd),
        ("", .unexpectedEnd), ("NaN", .unexpectedCharacter), ("[Infinity]", .unexpectedCharacter), ("tru", .unexpectedEnd),
        ("nul1", .unexpectedCharacter), ("// c\n1", .unexpectedCharacter), ("{'a':1}", .unexpectedCharacter), ("{a:1}", .unexpectedCharacter),
    ])
    func malformedDocumentsAreRefusedWithTheirReason(document: String, reason: Reason) async throws {
        let probe = try await InternalAPITests.Probe()
        #expect(try await read(probe, Array(document.utf8)).0 == reason, "\(document)")
    }

    @Test func invalidUTF8IsRefused() async throws {
        let probe = try await InternalAPITests.Probe()
        // Overlong "/", a lone continuation byte, an encoded surrogate, beyond U+10FFFF, truncated.
        for bad: [UInt8] in [[0xC0, 0xAF], [0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            #expect(try await read(probe, [0x22] + bad + [0x22]).0 == .invalidUTF8, "\(bad)")
        }
        #expect(try await read(probe, [0x22, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0x22]).0 == .accepted)
    }

    @Test func limitsHold() async throws {
        let probe = try await InternalAPITests.Probe()
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(try await read(probe, Array(deep.utf8)).0 == .tooDeep)
        #expect(try await read(probe, Array(deep.utf8), maxDepth: 40).0 == .accepted)
        let deepObjects = String(repeating: #"{"a":"#, count: 5) + "1" + String(repeating: "}", count: 5)
        #expect(try await read(probe, Array(deepObjects.utf8), maxDepth: 4).0 == .tooDeep)
        let large = Array(("[" + String(repeating: "1,", count: 600) + "1]").utf8)
        #expect(try await read(probe, large, maxBytes: 1000).0 == .tooLarge)
        #expect(try await read(probe, large, maxBytes: 2000).0 == .accepted)
    }

    @Test func theWriterEscapesAndKeepsEverything() async throws {
        let probe = try await InternalAPITests.Probe()
        let document = #"{"text":"line\none \"quoted\" \\ \u0001 \/ \ud83d\ude00 é","n":[-0,1.50,2E+10,-3e-7],"t":true,"f":false,"z":null,"o":{}}"#
        let (reason, written) = try await read(probe, Array(document.utf8))
        #expect(reason == .accepted)
        #expect(String(decoding: written, as: UTF8.self)
            == #"{"text":"line\none \"quoted\" \\ \u0001 / 😀 é","n":[-0,1.50,2E+10,-3e-7],"t":true,"f":false,"z":null,"o":{}}"#)
        // What it writes, it reads back to the same bytes.
        #expect(try await read(probe, written).1 == written)
    }

    /// Decimal literals with a trailing zero in the fraction, which a reader that goes through
    /// binary floating point would lose.
    static func decimalLiterals(in data: Data) -> [String] {
        let text = String(decoding: data, as: UTF8.self)
        let pattern = try! NSRegularExpression(pattern: #":\s*(-?[0-9]+\.[0-9]*0)\s*[,}\]]"#)
        return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).prefix(5).compactMap {
            Range($0.range(at: 1), in: text).map { String(text[$0]) }
        }
    }
}
