import PHRServerCommands

@main
struct Entry {
    /// Runs the asynchronous root command: `serve` is async.
    static func main() async {
        await PHRServerCommand.main()
    }
}
