import FuzzDriver
import Foundation
import PHRFHIR

// The FHIR importer's reading and reference resolution, on any bytes a clinic's export could hold.
// A file is either refused with a reason or yields resources that each have a type, an ID and JSON
// that parses again.
@main
enum FuzzFHIR {
    static func main() { exit(trubizone_fuzz(CommandLine.argc, CommandLine.unsafeArgv, fuzzFHIR)) }
}

func fuzzFHIR(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? Data() : Data(bytes: data!, count: size)
    let run = FHIRImport.Run([(name: "fuzz.json", data: bytes), (name: "again.json", data: bytes)]) { _, _ in nil }
    for case let .success(parsed) in run.parsed {
        for resource in parsed.resources {
            precondition(!resource.type.isEmpty && !resource.id.isEmpty, "a resource without a type or ID")
            precondition((try? JSONSerialization.jsonObject(with: resource.json)) != nil, "a stored resource that is not JSON")
        }
    }
    return 0
}
