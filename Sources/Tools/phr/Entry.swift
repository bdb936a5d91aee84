import PHRAppCommands

@main
struct PHREntry {
    static func main() async {
        await PHRCommand.main()
    }
}
