/// The workload of the crash test, shared by the child that runs it and the test that checks it.
///
/// The child prints `B op key generation` before each operation and `A op key generation` once it
/// is acknowledged, so the parent knows what was acknowledged and what may have been in flight.
public enum StressWorkload {
    public static let keys = 12

    public static func id(_ key: Int) -> [UInt8] { Array("object-\(key)".utf8) }

    /// The value written by operation `generation`: self-describing, of varying size so that
    /// writes take varying time.
    public static func value(key: Int, generation: Int) -> [UInt8] {
        let head = Array("k=\(key);g=\(generation);".utf8)
        return head + [UInt8](repeating: UInt8(ascii: "x"), count: (generation &* 7919) % 6000)
    }

    /// Whether operation `generation` deletes rather than writes (about one in eight).
    public static func isDelete(generation: Int) -> Bool { (generation &* 2654435761) % 8 == 3 }

    /// The key operation `generation` touches.
    public static func key(generation: Int) -> Int { (generation &* 40503) % keys }
}
