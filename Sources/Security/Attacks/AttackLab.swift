import Crypto
import Foundation
import Logging
import PHRApp
import PHRAppCommands
import PHRProtocol
import PHRServer
import Synchronization
import TrubiZoneClient
import TrubiZoneEmulatedDevice
import TrubiZoneProtocol
import TrubiZoneSecureWorld

/// The system under attack, in one directory: the developer's signed PHR trustlet, the
/// manufacturer's CA, a provider server on loopback with seeded patients, and as many emulated
/// phones as the attacks need. The attacker owns every phone's normal world: its REE directory,
/// its sockets, its logs, the app, and the network between app and server.
public final class AttackLab: Sendable {
    public let root: String
    public let stage: PHRStage
    private let clockOffset: OffsetBox
    private let phones = Mutex(0)
    /// Every secret the suite handed out (enrollment codes, practitioner tokens), to search for.
    private let handedOut = Mutex<[(kind: String, text: String)]>([])

    private init(root: String, stage: PHRStage, clockOffset: OffsetBox) {
        self.root = root
        self.stage = stage
        self.clockOffset = clockOffset
    }

    /// Starts the server (seeded patients, so the same records every run) under `root`.
    /// - Parameter trustlet: the PHR trustlet's build the phones run: the genuine one, or its test
    ///   build for negative controls (`phr-weakened`).
    static func start(root: String, trustlet: String = PHRTrustlet.name) async throws -> AttackLab {
        let offset = OffsetBox()
        // Every phone of the suite enrolls from 127.0.0.1: the per-address limit on challenges
        // would otherwise be what refuses the later attacks' enrollments.
        let stage = try await PHRStage.start(root: root + "/system", records: .seeded(patients: 3), clock: { Date().addingTimeInterval(offset.value) },
                                             challengeBurst: 200, trustlet: trustlet)
        return AttackLab(root: root, stage: stage, clockOffset: offset)
    }

    /// Moves the server's clock (grants expire, codes age); the suite puts it back after each attack.
    func advanceClock(by seconds: TimeInterval) { clockOffset.offset.withLock { $0 += seconds } }
    func resetClock() { clockOffset.offset.withLock { $0 = 0 } }

    func stop() async { await stage.provider.stop() }

    /// A new name for a phone's directory.
    func name(_ base: String) -> String {
        let index = phones.withLock { count -> Int in
            count += 1
            return count
        }
        return "\(base)-\(index)"
    }

    /// The server's patients, `Patient/…`, the one with most records first.
    func patients() throws -> [String] {
        let store = stage.provider.store
        return try store.patientIDs().map { "Patient/\($0)" }.sorted { try store.resources(ofPatient: $0).count > store.resources(ofPatient: $1).count }
    }

    /// A genuine phone with the genuine trustlet, enrolled for `patient` (by default the one with
    /// most records); the scripted user answers `answers` after enrolling.
    func enrolledPhone(_ base: String, patient: String? = nil, answers: [ScriptedTrustedUI.Answer] = [], transport: DemoStory.Transport = .inProcess,
                       wire: WireLog? = nil) async throws -> (phone: EmulatedPhone, app: PatientApp) {
        let patient = try patient ?? patients()[0]
        return try await stage.enrolledPhone("phones/" + name(base), patient: patient, code: try await enrollmentCode(for: patient), transport: transport,
                                             answers: answers, wire: wire)
    }

    /// Keeps a secret the suite handed out, for the final search of every log.
    func remember(_ kind: String, _ text: String) { handedOut.withLock { $0.append((kind, text)) } }

    /// The attacker's catalogue for the whole suite: every patient's data, the PIN, every code and
    /// token handed out, and the server's channel key.
    func everySecret() throws -> AttackerView {
        var view = try needles(for: try patients())
        for (kind, text) in handedOut.withLock({ $0 }) { view.add(kind, text) }
        let key = stage.provider.service.policy.channelKey.rawRepresentation
        view.add("the server's channel key", Hex.encode(Array(key)))
        view.add("the server's channel key", key.base64EncodedString())
        return view
    }

    /// A phone that is not (yet) enrolled, made by `ca` (the genuine manufacturer by default),
    /// trusting `developer`'s trustlets, with `package` installed (none if `installing` is false).
    func phone(_ base: String, ca: String? = nil, developer: P256.Signing.PublicKey? = nil, alsoTrusting others: [P256.Signing.PublicKey] = [],
               package: TrustletPackage? = nil, installing: Bool = true, answers: [ScriptedTrustedUI.Answer],
               transport: DemoStory.Transport = .inProcess) async throws -> EmulatedPhone {
        let phone = try EmulatedPhone(directory: root + "/system/phones/" + name(base), caDirectory: ca ?? stage.caDirectory, answers: answers,
                                      developer: developer ?? stage.developer.publicKey, otherDevelopers: others, transport: transport)
        do {
            if installing { try await phone.install(package ?? stage.package) }
        } catch {
            phone.shutdown()
            throw error
        }
        return phone
    }

    /// What the patient types to enroll a phone with `code`: the PIN twice, the PIN, the code.
    static func enrollmentAnswers(code: EnrollmentCode) -> [ScriptedTrustedUI.Answer] {
        let pin = Array(PHRStage.pin.utf8)
        return [.pin(pin), .pin(pin), .pin(pin), .text(code.formatted)]
    }

    func enrollmentCode(for patient: String) async throws -> EnrollmentCode {
        let code = try await stage.provider.service.issueEnrollmentCode(patient: String(patient.dropFirst("Patient/".count))).code
        remember("an enrollment code", code.characters)
        remember("an enrollment code", code.formatted)
        return code
    }

    func connection(wire: WireLog? = nil) -> PHRConnection { PHRConnection(baseURL: stage.provider.baseURL, wire: wire) }

    /// The phone's secure world stopped and started again on the same state and REE directory
    /// (what a reboot does), with a new scripted user.
    func restart(_ phone: EmulatedPhone, answers: [ScriptedTrustedUI.Answer] = []) throws -> TEEContext {
        phone.shutdown()
        let world = try SecureWorld.emulated(stateDirectory: phone.secureState, reeDirectory: phone.ree,
                                             trustPolicy: try EmulatedPhone.policy(developer: stage.developer.publicKey),
                                             trustedUI: TrustedUI(device: ScriptedTrustedUI(answers: answers)),
                                             logger: Logger(label: "trubizoned", factory: FileLogHandler.factory(path: phone.logs + "/trubizoned.log")))
        return try TEEContext.inProcess(world)
    }

    /// The attacker's catalogue of what must not leak about `patients`: names, record IDs,
    /// clinical texts, values and notes (from the server's copy), the PIN.
    func needles(for patients: [String]) throws -> AttackerView {
        var view = AttackerView()
        for patient in patients {
            try view.addRecords(of: patient, from: stage.provider.store)
            view.add("a patient ID", String(patient.dropFirst("Patient/".count)), minimumLength: 8)
        }
        view.add("the PIN", PHRStage.pin)
        return view
    }
}

/// The clock's offset, readable from the server's clock closure.
private final class OffsetBox: Sendable {
    let offset = Mutex<TimeInterval>(0)
    var value: TimeInterval { offset.withLock { $0 } }
}

// MARK: Judging

/// What a defended system answers: a GP code (from the trustlet, the runtime or the daemon, with
/// words its message must hold if given), or a server's HTTP status and error name. A 5xx is never
/// a refusal: a server that fails has not defended anything.
struct Refusal: Sendable, CustomStringConvertible {
    enum Kind: Sendable { case code(ReturnCode, saying: String?), server(status: Int, name: String) }
    let kind: Kind

    static func code(_ code: ReturnCode, saying words: String? = nil) -> Refusal { Refusal(kind: .code(code, saying: words)) }
    static func server(_ status: Int, _ name: String) -> Refusal {
        precondition((400..<500).contains(status), "a refusal is a 4xx, never a failure")
        return Refusal(kind: .server(status: status, name: name))
    }

    var description: String {
        switch kind {
        case let .code(code, _): code.name
        case let .server(status, name): "HTTP \(status) \(name)"
        }
    }

    /// Whether `error` is this refusal.
    func matches(_ error: any Error) -> Bool {
        switch (kind, error) {
        case let (.code(code, words), error as TEEError): error.code == code && words.map(error.message.contains) != false
        case let (.code(code, words), PHRAppError.refused(found, message)): found == code && words.map(message.contains) != false
        case let (.server(status, name), PHRAppError.server(found, error, _)): found == status && error == name
        default: false
        }
    }
}

/// Runs what must be refused with one of `refusals`: that refusal is defended, acceptance is
/// ACCEPTED, and any other error (a harness error, a wrong parameter, a 5xx) means the attack
/// proved nothing, so it is FAILED.
func refused(_ what: String, expecting refusal: Refusal, _ attempt: () async throws -> Void) async throws -> Verdict {
    try await refused(what, expecting: [refusal], attempt)
}

func refused(_ what: String, expecting refusals: [Refusal], _ attempt: () async throws -> Void) async throws -> Verdict {
    do {
        try await attempt()
        return .accepted("\(what) was accepted")
    } catch {
        guard let refusal = refusals.first(where: { $0.matches(error) }) else {
            throw AttackFailure("\(what): expected \(refusals.map(\.description).joined(separator: " or ")), got \(brief(error))")
        }
        return .defended("\(what): \(refusal)")
    }
}

/// Several refusals that must all hold: defended only if each is.
func allHold(_ verdicts: [Verdict]) -> Verdict {
    var evidence: [String] = []
    for verdict in verdicts {
        switch verdict {
        case let .defended(text): evidence.append(text)
        case .leaked, .accepted: return verdict
        }
    }
    return .defended(evidence.joined(separator: "; "))
}

/// Plays refusals in turn, stopping at the first that does not hold: a later step can then not
/// turn an acceptance into FAILED (what a weakened system shows first is its verdict).
func eachHolds(_ steps: [() async throws -> Verdict]) async throws -> Verdict {
    var verdicts: [Verdict] = []
    for step in steps {
        let verdict = try await step()
        guard case .defended = verdict else { return verdict }
        verdicts.append(verdict)
    }
    return allHold(verdicts)
}

/// An error, in one short line.
func brief(_ error: any Error) -> String {
    let text = "\(error)"
    let line = text.split(separator: "\n").first.map(String.init) ?? text
    return line.count > 160 ? String(line.prefix(157)) + "…" : line
}

/// Runs what the trustlet or the runtime must refuse with `code`.
func refused(_ what: String, expecting code: ReturnCode, _ attempt: () async throws -> Void) async throws -> Verdict {
    try await refused(what, expecting: .code(code), attempt)
}

/// A server answer that must be the named refusal: a 2xx is ACCEPTED, any other answer FAILED.
func refusedByServer(_ what: String, _ answer: PHRConnection.Answer, expecting status: Int, _ name: String) throws -> Verdict {
    try refusedByServer(what, [answer], expecting: status, name)
}

extension SignedHTTPRequest {
    var header: [String: String] { Dictionary(headers, uniquingKeysWith: { $1 }) }
}
