import TrubiZoneCLI

@main
struct Entry {
    /// Runs the asynchronous root command: the storage and keystore commands are async.
    static func main() async {
        await TrubiZoneCommand.main()
    }
}
