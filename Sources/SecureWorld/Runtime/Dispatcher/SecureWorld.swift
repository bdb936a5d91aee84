import Logging
import Synchronization
import TrubiZoneEAT
import TrubiZoneProtocol

/// The secure-world runtime as the world switch reaches it: connections, sessions, and the
/// dispatch of GP calls to trustlets.
///
/// Every call is checked here before a trustlet sees it — the session belongs to the connection,
/// the parameter types are valid, the limits hold — and every failure is a GP return code, never a
/// crash. Trustlets run outside the tables' lock, so one slow session does not hold up the others.
public final class SecureWorld: WorldSwitchEndpoint {
    public struct Limits: Sendable {
        /// Normal-world connections at once.
        public var maxConnections: Int = 256
        /// Open sessions per connection.
        public var maxSessionsPerConnection: Int = 32
        /// Open sessions per user across all of that user's connections, so a client cannot
        /// multiply its share by opening more connections.
        public var maxSessionsPerUser: Int = 256
        /// Clients of one uid the built-in storage and keystore each keep a namespace for (each
        /// namespace costs a replay-protected counter; see `BuiltInClients`).
        public var builtInClientsPerUser: Int = 32
        /// Clients the built-in storage and keystore each keep a namespace for, in all.
        public var builtInClients: Int = 256

        public init(maxConnections: Int = 256, maxSessionsPerConnection: Int = 32, maxSessionsPerUser: Int = 256,
                    builtInClientsPerUser: Int = 32, builtInClients: Int = 256) {
            self.maxConnections = maxConnections
            self.maxSessionsPerConnection = maxSessionsPerConnection
            self.maxSessionsPerUser = maxSessionsPerUser
            self.builtInClientsPerUser = builtInClientsPerUser
            self.builtInClients = builtInClients
        }

        /// How much of `total` slots (connections, or a trustlet's sessions) one user may hold:
        /// all but a quarter (at least one), which is kept for other users, so one app that takes
        /// everything it may still leaves every other app a way in. A single slot cannot be shared.
        public static func share(of total: Int) -> Int {
            total < 2 ? total : total - max(1, total / 4)
        }

    }

    private struct SessionEntry {
        let trustlet: any NativeTrustlet
        let session: any TrustletSession
        var busy = false
        /// The cancellation flag of the invoke running now, if any.
        var running: Cancellation? = nil
    }

    private struct Connection {
        let peer: PeerIdentity
        var sessions: [UInt32: SessionEntry] = [:]
        /// The client hung up: nothing more runs for this connection.
        var gone = false
    }

    private struct Tables {
        var connections: [ConnectionID: Connection] = [:]
        var nextConnection: UInt64 = 1
        var nextSession: UInt32 = 1
        var inFlight: [CancellationToken: Cancellation] = [:]
        /// Cancellations that arrived before their operation (GP allows that order); bounded.
        var earlyCancellations: [CancellationToken] = []
        /// Sessions being opened, by user and trustlet: counted in the user's share while they
        /// open, so opening many at once does not take more than the share.
        var opening: [Opening: Int] = [:]
    }

    private struct Opening: Hashable {
        let uid: UInt32
        let uuid: TrustletUUID
    }

    public let rootOfTrust: any RootOfTrust
    public let storage: SealedStorage
    public let limits: Limits
    /// The secure world's own log (trustlet messages, trustlet faults); never the normal world's.
    public let secureLog = SecureLogBook()
    /// The trusted path to the user that trustlets reach through the internal API.
    public let trustedUI: TrustedUI
    /// Issues attestation tokens signed by the device.
    public let attester: Attester
    private let trustlets: Mutex<[TrustletUUID: any NativeTrustlet]>
    private let installer: TrustletInstaller
    private let logger: Logger
    private let tables = Mutex(Tables())

    /// - Parameters:
    ///   - storage: sealed storage over the REE file system, anchored in the device's root of trust,
    ///     which the runtime then uses for everything else (keys, tokens, randomness, time).
    ///   - trustlets: extra native trustlets; the built-in `storage` and `keystore` are always present.
    ///   - limits: connection and session limits.
    ///   - logger: the runtime's log. It never receives a secret or stored content.
    ///   - trustPolicy: the developer keys whose trustlet packages this device accepts. Packages
    ///     installed earlier are loaded again if their signer is still trusted.
    ///   - trustedUI: the trusted display and input; none by default.
    public init(storage: SealedStorage, trustlets: [any NativeTrustlet] = [],
                trustPolicy: TrustPolicy = TrustPolicy(), trustedUI: TrustedUI = .none, limits: Limits = Limits(),
                logger: Logger = Logger(label: "trubizone.secure-world")) {
        // One root of trust beneath everything: the one sealed storage is anchored in.
        let rootOfTrust = storage.rootOfTrust
        self.rootOfTrust = rootOfTrust
        self.storage = storage
        self.limits = limits
        self.logger = logger
        self.trustlets = Mutex([:])
        self.trustedUI = trustedUI
        // One boot seed for this boot of the secure world, in every token it issues (RFC 9783 §4.2.3).
        let attester = Attester(rootOfTrust: rootOfTrust, bootSeed: rootOfTrust.randomBytes(AttestationClaims.bootSeedSize))
        self.attester = attester
        let installer = TrustletInstaller(storage: storage, counters: rootOfTrust.counters, policy: trustPolicy, secureLog: secureLog,
                                          trustedUI: trustedUI, attester: attester)
        self.installer = installer
        let clients = BuiltInClients(storage: storage, bounds: .init(perUser: limits.builtInClientsPerUser, total: limits.builtInClients))
        let builtIn: [any NativeTrustlet] = [
            StorageTrustlet(storage: storage, clients: clients),
            KeystoreTrustlet(storage: storage, clients: clients, attester: attester),
            InstallerTrustlet(installer: installer, register: { [weak self] in self?.install($0) },
                              current: { [weak self] in self?.trustlet($0) as? WasmTrustlet }),
        ]
        for trustlet in builtIn + installer.installedTrustlets() + trustlets {
            self.trustlets.withLock { $0[trustlet.uuid] = trustlet }
        }
    }

    /// Verifies a signed trustlet package against the trust policy and the installed versions,
    /// keeps it in sealed storage and makes it available.
    @discardableResult
    public func install(package bytes: [UInt8]) throws(PackageError) -> WasmTrustlet {
        let trustlet = try installer.install(bytes) { self.trustlet($0) as? WasmTrustlet }
        install(trustlet)
        return trustlet
    }

    /// Makes a trustlet available to `openSession`, replacing any with the same UUID. Sessions
    /// already open keep the instance they have.
    public func install(_ trustlet: any NativeTrustlet) {
        trustlets.withLock { $0[trustlet.uuid] = trustlet }
        logger.info("trustlet installed", metadata: ["trustlet": "\(trustlet.name)", "uuid": "\(trustlet.uuid)"])
    }

    /// The installed trustlet with this UUID.
    public func trustlet(_ uuid: TrustletUUID) -> (any NativeTrustlet)? {
        trustlets.withLock { $0[uuid] }
    }

    /// Whether a negative control turned `defence` off for this secure world (debug builds only).
    private func isOff(_ defence: Weakening) -> Bool { Weakening.isOff(defence, at: storage.configuration.reeDirectory) }

    /// One user's share of `total` slots: `Limits.share(of:)`, or all of them with the fair share
    /// switched off.
    private func fairShare(of total: Int) -> Int { isOff(.fairShare) ? total : Limits.share(of: total) }

    /// How many invokes are running now, over every connection (for tests and diagnostics).
    public var invokesRunning: Int {
        tables.withLock { tables in tables.connections.values.reduce(0) { $0 + $1.sessions.values.count { $0.running != nil } } }
    }

    // MARK: WorldSwitchEndpoint

    public func connect(peer: PeerIdentity) throws(WorldSwitchRefusal) -> ConnectionID {
        let share = fairShare(of: limits.maxConnections)
        let admitted: Result<ConnectionID, WorldSwitchRefusal> = tables.withLock { tables in
            guard tables.connections.count < limits.maxConnections else {
                return .failure(WorldSwitchRefusal(code: .busy, message: "the secure world serves \(limits.maxConnections) connections at most; try again later"))
            }
            guard tables.connections.values.count(where: { $0.peer.uid == peer.uid }) < share else {
                return .failure(WorldSwitchRefusal(code: .busy, message:
                    "this user already holds \(share) of the secure world's \(limits.maxConnections) connections; the rest are kept for other apps: close some first"))
            }
            let id = ConnectionID(rawValue: tables.nextConnection)
            tables.nextConnection += 1
            tables.connections[id] = Connection(peer: peer)
            return .success(id)
        }
        let id: ConnectionID
        switch admitted {
        case let .success(admitted): id = admitted
        case let .failure(refusal):
            logger.warning("connection refused: limit reached", metadata: ["limit": "\(limits.maxConnections)", "uid": "\(peer.uid)"])
            throw refusal
        }
        logger.debug("connection opened", metadata: ["connection": "\(id)", "uid": "\(peer.uid)"])
        return id
    }

    /// Stops what runs for a connection whose client is gone (the transport saw it hang up): every
    /// invoke in progress on it is abandoned, and ends at its next internal-API call.
    public func abandon(_ connection: ConnectionID) {
        let running = tables.withLock { tables -> [Cancellation] in
            tables.connections[connection]?.gone = true
            return tables.connections[connection]?.sessions.values.compactMap(\.running) ?? []
        }
        for cancellation in running { cancellation.abandon() }
        if !running.isEmpty { logger.debug("client gone: abandoning its calls", metadata: ["connection": "\(connection)", "calls": "\(running.count)"]) }
    }

    public func disconnect(_ connection: ConnectionID) {
        let sessions = tables.withLock { $0.connections.removeValue(forKey: connection)?.sessions ?? [:] }
        for entry in sessions.values { entry.session.close() }
        logger.debug("connection closed", metadata: ["connection": "\(connection)", "sessions closed": "\(sessions.count)"])
    }

    public func handle(_ request: Request, on connection: ConnectionID) -> Reply {
        switch request {
        case let .openSession(uuid, login, connectionData, parameters, token):
            return openSession(uuid: uuid, login: login, connectionData: connectionData, parameters: parameters,
                               token: token, connection: connection)
        case let .invokeCommand(session, command, parameters, token):
            return invoke(session: session, command: command, parameters: parameters, token: token, connection: connection)
        case let .closeSession(session):
            return closeSession(session, connection: connection)
        case let .requestCancellation(token):
            cancel(token)
            return Reply(code: .success, origin: .tee)
        }
    }

    // MARK: Calls

    private func openSession(uuid: TrustletUUID, login: LoginMethod, connectionData: UInt32, parameters: Parameters,
                             token: CancellationToken, connection: ConnectionID) -> Reply {
        guard let peer = tables.withLock({ $0.connections[connection].flatMap { $0.gone ? nil : $0.peer } }) else {
            return .failure(.badState, .comms, "the connection is closed")
        }
        guard let trustlet = self.trustlet(uuid) else {
            return .failure(.itemNotFound, .tee, "no trustlet \(uuid) is installed")
        }
        let client: ClientIdentity
        switch Self.identity(of: peer, login: login, connectionData: connectionData) {
        case let .success(identity): client = identity
        case let .failure(error): return .failure(error.code, .tee, error.message)
        }
        let opening = Opening(uid: peer.uid, uuid: uuid)
        let refusal: String? = tables.withLock { tables in
            let users = tables.connections.values.filter { $0.peer.uid == peer.uid }
            let pending = tables.opening.filter { $0.key.uid == peer.uid }.values.reduce(0, +)
            if (tables.connections[connection]?.sessions.count ?? 0) >= limits.maxSessionsPerConnection {
                return "this connection already has \(limits.maxSessionsPerConnection) sessions open; close one first"
            }
            if users.reduce(0, { $0 + $1.sessions.count }) + pending >= limits.maxSessionsPerUser {
                return "this user already has \(limits.maxSessionsPerUser) sessions open; close some first"
            }
            let ofTrustlet = users.reduce(0) { $0 + $1.sessions.values.count { $0.trustlet.uuid == uuid } } + tables.opening[opening, default: 0]
            if let total = trustlet.maxSessions, ofTrustlet >= fairShare(of: total) {
                return "this user already holds \(ofTrustlet) of \(trustlet.name)'s \(total) sessions; the rest are kept for other apps: close one first"
            }
            tables.opening[opening, default: 0] += 1
            return nil
        }
        if let refusal { return .failure(.busy, .tee, refusal) }
        defer {
            tables.withLock { tables in
                tables.opening[opening, default: 1] -= 1
                if tables.opening[opening] == 0 { tables.opening[opening] = nil }
            }
        }
        guard let cancellation = begin(token) else {
            return .failure(.cancel, .tee, "the operation was cancelled before it started")
        }
        defer { end(token) }
        _ = cancellation

        var params = TrustletParameters(parameters)
        let session: any TrustletSession
        do throws(TrustletError) {
            session = try trustlet.openSession(client: client, parameters: &params)
        } catch {
            log(error.code, "open session", trustlet: trustlet, connection: connection)
            return Reply(code: error.code, origin: .trustedApp, parameters: params.reply, message: error.message)
        }
        let id: UInt32? = tables.withLock { tables in
            guard tables.connections[connection] != nil else { return nil }
            var id = tables.nextSession
            while id == 0 || tables.connections.values.contains(where: { $0.sessions[id] != nil }) { id &+= 1 }
            tables.nextSession = id &+ 1
            tables.connections[connection]!.sessions[id] = SessionEntry(trustlet: trustlet, session: session)
            return id
        }
        guard let id else {
            session.close()
            return .failure(.badState, .comms, "the connection closed while the session was opening")
        }
        logger.debug("session opened", metadata: ["connection": "\(connection)", "session": "\(id)",
                                                 "trustlet": "\(trustlet.name)", "client": "\(client.login)"])
        return Reply(code: .success, origin: .trustedApp, session: id, parameters: params.reply)
    }

    private func invoke(session id: UInt32, command: UInt32, parameters: Parameters, token: CancellationToken,
                        connection: ConnectionID) -> Reply {
        guard let cancellation = begin(token) else {
            return .failure(.cancel, .tee, "the operation was cancelled before it started")
        }
        defer { end(token) }
        enum Lookup { case ok(SessionEntry), noConnection, gone, noSession, busy }
        // Busy and running are set together, and never on a connection whose client is gone, so
        // a hang-up at any moment stops the call.
        let foreign = isOff(.sessionOwnership)
        let lookup: Lookup = tables.withLock { tables in
            guard let conn = tables.connections[connection] else { return .noConnection }
            guard !conn.gone else { return .gone }
            guard var entry = conn.sessions[id] ?? (foreign ? tables.connections.values.lazy.compactMap({ $0.sessions[id] }).first : nil) else {
                return .noSession
            }
            guard !entry.busy else { return .busy }
            entry.busy = true
            entry.running = cancellation
            tables.connections[connection]!.sessions[id] = entry
            return .ok(entry)
        }
        let entry: SessionEntry
        switch lookup {
        case .noConnection: return .failure(.badState, .comms, "the connection is closed")
        case .gone:
            logger.debug("client gone: a call it left behind is not run", metadata: ["connection": "\(connection)", "session": "\(id)"])
            return .failure(.badState, .comms, "the client hung up; the call was not run")
        case .noSession: return .failure(.badParameters, .tee, "no session \(id) on this connection")
        case .busy: return .failure(.busy, .tee, "session \(id) is busy with another operation")
        case let .ok(found): entry = found
        }
        defer {
            tables.withLock { tables in
                if tables.connections[connection]?.sessions[id] != nil {
                    tables.connections[connection]!.sessions[id]!.busy = false
                    tables.connections[connection]!.sessions[id]!.running = nil
                }
            }
        }

        var params = TrustletParameters(parameters)
        do throws(TrustletError) {
            try entry.session.invoke(command: command, parameters: &params, cancellation: cancellation)
        } catch {
            log(error.code, "invoke", trustlet: entry.trustlet, connection: connection, command: command)
            return Reply(code: error.code, origin: .trustedApp, parameters: params.reply, message: error.message)
        }
        logger.trace("invoke", metadata: ["session": "\(id)", "command": "\(command)"])
        return Reply(code: .success, origin: .trustedApp, parameters: params.reply)
    }

    private func closeSession(_ id: UInt32, connection: ConnectionID) -> Reply {
        let entry = tables.withLock { $0.connections[connection]?.sessions.removeValue(forKey: id) }
        guard let entry else { return .failure(.badParameters, .tee, "no session \(id) on this connection") }
        entry.session.close()
        logger.debug("session closed", metadata: ["connection": "\(connection)", "session": "\(id)"])
        return Reply(code: .success, origin: .tee)
    }

    // MARK: Cancellation

    /// Registers an operation's cancellation flag; `nil` if it was cancelled before it began.
    private func begin(_ token: CancellationToken) -> Cancellation? {
        let cancellation = Cancellation()
        if token.isNone { return cancellation }
        return tables.withLock { tables in
            if let early = tables.earlyCancellations.firstIndex(of: token) {
                tables.earlyCancellations.remove(at: early)
                return nil
            }
            tables.inFlight[token] = cancellation
            return cancellation
        }
    }

    private func end(_ token: CancellationToken) {
        if token.isNone { return }
        _ = tables.withLock { $0.inFlight.removeValue(forKey: token) }
    }

    private func cancel(_ token: CancellationToken) {
        if token.isNone { return }
        tables.withLock { tables in
            if let running = tables.inFlight[token] {
                running.cancel()
            } else {
                tables.earlyCancellations.append(token)
                if tables.earlyCancellations.count > 64 { tables.earlyCancellations.removeFirst() }
            }
        }
    }

    // MARK: Identity

    /// The identity a login method yields for a peer. The runtime derives it from what the
    /// transport established about the peer; the only client-supplied input, the group of a group
    /// login, must be the peer's own group.
    static func identity(of peer: PeerIdentity, login: LoginMethod, connectionData: UInt32) -> Result<ClientIdentity, TrustletError> {
        let application = peer.application.map { "application:" + $0 }
        switch login {
        case .public:
            return .success(ClientIdentity(login: login, subject: "public", uid: peer.uid))
        case .user:
            return .success(ClientIdentity(login: login, subject: "user:\(peer.uid)", uid: peer.uid))
        case .group, .groupApplication:
            guard connectionData == peer.gid else {
                return .failure(TrustletError(.accessDenied, "the client is not a member of group \(connectionData)"))
            }
            if login == .group { return .success(ClientIdentity(login: login, subject: "group:\(connectionData)", uid: peer.uid)) }
            guard let application else { return .failure(TrustletError(.accessDenied, "the client's application is unknown")) }
            return .success(ClientIdentity(login: login, subject: "group:\(connectionData)/" + application, uid: peer.uid))
        case .application, .userApplication:
            guard let application else { return .failure(TrustletError(.accessDenied, "the client's application is unknown")) }
            return .success(ClientIdentity(login: login, subject: login == .application ? application : "user:\(peer.uid)/" + application,
                                           uid: peer.uid))
        }
    }

    private func log(_ code: ReturnCode, _ what: String, trustlet: any NativeTrustlet, connection: ConnectionID, command: UInt32? = nil) {
        var metadata: Logger.Metadata = ["connection": "\(connection)", "trustlet": "\(trustlet.name)", "code": "\(code.name)"]
        if let command { metadata["command"] = "\(command)" }
        if code == .security || code == .corruptObject {
            logger.error("\(what) failed: tampering detected", metadata: metadata)
        } else {
            logger.debug("\(what) failed", metadata: metadata)
        }
    }
}
