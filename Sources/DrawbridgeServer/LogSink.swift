import CLinux
import Glibc
import Synchronization

/// One log destination (a file opened `O_APPEND`, stdout or stderr) shared by every thread that
/// writes to it: the workers' access-log batches, the audit records of the job threads.
///
/// - Callers hand over whole lines, at most `maxWrite` (PIPE_BUF) bytes per call, and each call is
///   one `write(2)`: on a pipe that is atomic by POSIX, on an `O_APPEND` file Linux serialises it,
///   so lines of several threads never interleave (a longer write could be split by the kernel).
/// - A failed write is counted and its lines are dropped; a write cut short (a full disk) is
///   counted too and the next write starts with a newline, so the torn line stays alone on its
///   line instead of gluing itself to the next one.
/// - Nothing is reported from here (the writers are event loops): the main thread asks for a
///   summary once a second (`failureReport`) and logs it at most once per `reportInterval`, as
///   nginx logs `write() failed (28: No space left on device)`.
final class LogSink: Sendable {
    /// POSIX guarantees PIPE_BUF ≥ 512; Linux's is 4096. One write never carries more.
    static let maxWrite = 4096
    /// Seconds between two reports of the same sink's failures.
    static let reportInterval: UInt64 = 60

    let fd: Int32
    /// What the reports call it: "access log /var/log/drawbridge/access.log".
    let name: String
    private let tornLine = Atomic<Bool>(false)
    private let failedWrites = Atomic<UInt64>(0)
    private let lostLines = Atomic<UInt64>(0)
    /// errno of the last failed write, or -(bytes written) << 32 | bytes asked of the last short one.
    private let lastProblem = Atomic<Int64>(0)
    /// Set by a failed write, cleared by the next good one: read (plainly) on every write, written
    /// only around failures, so the workers do not bounce a shared cache line per line logged.
    private let failing = Atomic<Bool>(false)

    init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    var enabled: Bool { fd >= 0 }

    /// Writes complete lines (`count <= maxWrite`) with one `write(2)`. False: they were not
    /// (all) written; the caller says how many lines that lost (`lost(lines:)`).
    @discardableResult
    func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard fd >= 0, chunk.count > 0 else { return true }
        if tornLine.load(ordering: .relaxed), tornLine.exchange(false, ordering: .acquiringAndReleasing) {
            // The previous write stopped inside a line: end it first, in the same write as what follows.
            var joined = [UInt8](repeating: 0x0A, count: 1)
            joined.append(contentsOf: chunk)
            let ok = joined.withUnsafeBytes { writeOnce($0) }
            // Nothing written at all: the torn line still needs its newline.
            if !ok && !tornLine.load(ordering: .relaxed) && lastProblem.load(ordering: .relaxed) >= 0 {
                tornLine.store(true, ordering: .releasing)
            }
            return ok
        }
        return writeOnce(chunk)
    }

    /// Writes a buffer of whole lines in writes of less than `maxWrite` bytes (room for the newline
    /// that ends a torn line), each made of whole lines (every line is shorter than that), so lines
    /// of several writers never interleave. Lines that could not be written are counted as lost.
    func writeLines(_ buf: [UInt8]) {
        buf.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                var end = min(raw.count, start + LogSink.maxWrite - 1)
                if end < raw.count {
                    var cut = end
                    while cut > start && raw[cut - 1] != 10 { cut -= 1 }
                    end = cut > start ? cut : end   // (a line longer than maxWrite cannot be built)
                }
                let chunk = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                if !write(chunk) { lost(lines: chunk.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }) }
                start = end
            }
        }
    }

    /// Lines that a failed `write` did not deliver.
    func lost(lines: Int) { lostLines.add(UInt64(lines), ordering: .relaxed) }

    private func writeOnce(_ chunk: UnsafeRawBufferPointer) -> Bool {
        while true {
            let n = Glibc.write(fd, chunk.baseAddress, chunk.count)
            if n == chunk.count {
                if failing.load(ordering: .relaxed) { failing.store(false, ordering: .relaxed) }
                return true
            }
            if n < 0 {
                let e = CLinux_errno()
                if e == EINTR { continue }
                failed(problem: Int64(e))
                return false
            }
            // Short: the rest is not retried (another thread's line may follow by now); the line is lost.
            tornLine.store(n > 0, ordering: .releasing)
            failed(problem: -(Int64(n) << 32 | Int64(chunk.count)))
            return false
        }
    }

    private func failed(problem: Int64) {
        lastProblem.store(problem, ordering: .relaxed)
        failing.store(true, ordering: .relaxed)
        failedWrites.add(1, ordering: .releasing)
    }

    /// What the main thread keeps between reports of one sink.
    struct ReportState {
        var reportedFailures: UInt64 = 0
        var reportedLost: UInt64 = 0
        var lastReportAt: UInt64 = 0   // monotonic seconds; 0: never
        var failing = false
    }

    /// A line for the gateway's own log when there is something new to say: failures since the
    /// last report (at most once per `reportInterval`), or that writes succeed again.
    func failureReport(_ state: inout ReportState, nowSeconds: UInt64) -> String? {
        let failures = failedWrites.load(ordering: .acquiring)
        if failures > state.reportedFailures {
            guard state.lastReportAt == 0 || nowSeconds >= state.lastReportAt + Self.reportInterval else { return nil }
            let lost = lostLines.load(ordering: .relaxed)
            let newFailures = failures - state.reportedFailures, newLost = lost - state.reportedLost
            state.reportedFailures = failures
            state.reportedLost = lost
            state.lastReportAt = nowSeconds
            state.failing = true
            let problem = lastProblem.load(ordering: .relaxed)
            let what: String
            if problem >= 0 {
                what = "write() failed (\(problem): \(String(cString: strerror(Int32(problem)))))"
            } else {
                let p = -problem
                what = "write() was incomplete: \(p >> 32) of \(p & 0xFFFF_FFFF) bytes"
            }
            return "drawbridge: error: \(name): \(what); \(newFailures) failed write\(newFailures == 1 ? "" : "s"), "
                + "\(newLost) line\(newLost == 1 ? "" : "s") lost since the last report (\(failures) failed writes since start)"
        }
        if state.failing && !failing.load(ordering: .relaxed) {
            state.failing = false
            return "drawbridge: \(name): writing again"
        }
        return nil
    }

    /// Counters, for tests and diagnostics.
    var failures: UInt64 { failedWrites.load(ordering: .relaxed) }
}
