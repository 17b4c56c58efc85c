import AnydnsConfig
import ArgumentParser
import DNSAuth
import DNSGuard
import DNSResponder
import DNSTransport
import DNSWire
import DNSZone
import Dispatch
import Foundation
import Logging
import Members
import Operations
import ServingTypes
import Synchronization
import ZoneLifecycle

/// Signal handling on a Dispatch queue (signals are ignored for the default action first).
final class SignalHandlers: Sendable {
    private let queue = DispatchQueue(label: "anydns.signals")
    private let sources = SourceList()
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func on(_ number: Int32, _ handler: @escaping @Sendable () -> Void) {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler(handler: handler)
        source.resume()
        sources.append(source)
    }
}

private final class SourceList: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()

    func append(_ source: DispatchSourceSignal) {
        lock.lock()
        defer { lock.unlock() }
        sources.append(source)
    }
}

/// Runs `work` on a thread of its own at nice 10 and waits for it. A reload is seconds of CPU
/// for a big zone; where it shares a core with DNS workers, the scheduler then lets a worker
/// that has queries preempt it at once instead of after its time slice. (A pooled Dispatch
/// thread cannot be used: an unprivileged process cannot lower its nice value again.)
func runAtLowPriority<Result: Sendable>(_ work: @escaping @Sendable () -> Result) -> Result {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result?>(nil)
    let thread = Thread {
        // On Linux, PRIO_PROCESS with id 0 sets the nice value of the calling thread only.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        let value = work()
        result.withLock { $0 = value }
        done.signal()
    }
    thread.name = "anydns reload"
    thread.start()
    done.wait()
    return result.withLock { $0! }
}

/// Ends the process with `code` once serving has stopped. `exit(3)` would run global destructors
/// while NIO and Dispatch threads are still running Swift code, which can trap during teardown,
/// so the standard streams are flushed and `_exit(2)` is used instead.
func terminateProcess(_ code: Int32) -> Never {
    fflush(nil)  // every output stream
    _exit(code)
}
