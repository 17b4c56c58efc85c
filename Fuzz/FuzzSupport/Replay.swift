import Foundation

/// The replay side of a fuzz target (README "Fuzzing"): without `-D FUZZING` each target is a
/// small executable that feeds files to the same function libFuzzer calls, so the committed
/// corpus (`Fuzz/corpus/<target>/`) and crash inputs (`Fuzz/regressions/<target>/`) run in the
/// ordinary test suite.
///
/// Every argument is a file, or a directory whose files (not recursing, not hidden) are replayed in name
/// order. Returns the process exit status: 0 when every input ran (a crash never returns), 2 when
/// an argument cannot be read or none was given.
public func replay(_ arguments: [String], _ body: (UnsafeRawBufferPointer) -> Void) -> Int32 {
    guard !arguments.isEmpty else {
        FileHandle.standardError.write(Data("usage: \(CommandLine.arguments[0]) FILE|DIR...\n".utf8))
        return 2
    }
    var count = 0
    for argument in arguments {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
            FileHandle.standardError.write(Data("no such file: \(argument)\n".utf8))
            return 2
        }
        var files = [argument]
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
            files = names.sorted().filter { !$0.hasPrefix(".") }.map { argument + "/" + $0 }.filter { path in
                var directory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &directory)
                    && !directory.boolValue
            }
        }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                return 2
            }
            data.withUnsafeBytes { body($0) }
            count += 1
        }
    }
    print("replayed \(count) input(s)")
    return 0
}

/// The bytes libFuzzer hands to `LLVMFuzzerTestOneInput`, as a buffer (`data` may be any
/// pointer when `size` is 0).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
}

#if FUZZING
    /// The type of `LLVMFuzzerTestOneInput`: one input, 0 to keep going.
    public typealias FuzzTarget = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    @_silgen_name("LLVMFuzzerRunDriver")
    private func llvmFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ target: FuzzTarget
    ) -> CInt

    /// Hands the command line to libFuzzer (https://llvm.org/docs/LibFuzzer.html, "Using
    /// LibFuzzer as a library"). libFuzzer's own `main` cannot be used: SwiftPM links an
    /// executable's `main` to the Swift entry point (`<module>_main`), so the targets keep their
    /// `@main` and start the fuzzer from it.
    public func runFuzzer(_ target: FuzzTarget) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(llvmFuzzerRunDriver(&argc, &argv, target))
    }
#endif
