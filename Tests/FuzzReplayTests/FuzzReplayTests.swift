import Foundation
import XCTest

/// Replays the fuzz targets' seed corpus and every input that once crashed them (README
/// "Fuzzing": `Fuzz/corpus/<target>/`, `Fuzz/regressions/<target>/`) through the replay builds of
/// the targets, which run the same function as libFuzzer. Each must exit 0.
final class FuzzReplayTests: XCTestCase {
    private static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    func testQueryInputs() throws { try replay("query", with: "FuzzQuery") }

    func testZoneFileInputs() throws { try replay("zonefile", with: "FuzzZoneFile") }

    func testConfigInputs() throws { try replay("config", with: "FuzzConfig") }

    private func replay(_ target: String, with product: String) throws {
        let executable = productsDirectory.appendingPathComponent(product)
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            return XCTFail("\(product) is not built beside the tests in \(productsDirectory.path)")
        }
        let corpus = Self.fuzzDirectory.appendingPathComponent("corpus/\(target)")
        let regressions = Self.fuzzDirectory.appendingPathComponent("regressions/\(target)")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: corpus.path).isEmpty)
        let process = Process()
        process.executableURL = executable
        process.arguments =
            [corpus.path]
            + (FileManager.default.fileExists(atPath: regressions.path) ? [regressions.path] : [])
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "\(product) crashed:\n\(text)")
        XCTAssertEqual(process.terminationStatus, 0, "\(product) failed:\n\(text)")
        XCTAssertTrue(text.contains("replayed "), text)
    }

    /// Where SwiftPM put the test bundle, and so the executables the tests depend on.
    private var productsDirectory: URL {
        #if os(macOS)
            for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
                return bundle.bundleURL.deletingLastPathComponent()
            }
        #endif
        return Bundle.main.bundleURL
    }
}
