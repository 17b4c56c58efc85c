import AnydnsConfig
import Foundation
import FuzzSupport

/// Fuzzes the YAML configuration reader (README "Configuration"): `Configuration.parse` on the
/// input, when it is UTF-8 (`Configuration.load` refuses other files before parsing). Any result
/// is fine, a configuration or a `ConfigurationError`; a crash or a sanitizer report is not.
func fuzzConfig(_ input: UnsafeRawBufferPointer) {
    guard let text = String(validating: input, as: UTF8.self) else { return }
    _ = try? Configuration.parse(text, file: "fuzz.yaml")
}

/// With `-D FUZZING` the libFuzzer driver (`make fuzz`); otherwise the replay of corpus and
/// regression files: `FuzzConfig FILE|DIR...`.
@main
enum FuzzConfigMain {
    static func main() {
        #if FUZZING
            runFuzzer(fuzzTestOneInput)
        #else
            exit(replay(Array(CommandLine.arguments.dropFirst()), fuzzConfig))
        #endif
    }
}

#if FUZZING
    /// libFuzzer's entry point (https://llvm.org/docs/LibFuzzer.html).
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        fuzzConfig(fuzzInput(data, size))
        return 0
    }
#endif
