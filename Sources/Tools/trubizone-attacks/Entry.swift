import TrubiZoneAttacks

@main
enum Entry {
    static func main() async { await AttacksCommand.main() }
}
