import Foundation
import Glibc

/// Where the binaries under test are: $DRAWBRIDGE_BIN_DIR, else the package's .build/debug.
enum Binaries {
    static let packageRoot: URL = {
        var u = URL(fileURLWithPath: #filePath)
        while u.path != "/" {
            u.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()
    static let dir: String = ProcessInfo.processInfo.environment["DRAWBRIDGE_BIN_DIR"]
        ?? packageRoot.appendingPathComponent(".build/debug").path
    static var drawbridge: String { dir + "/drawbridge" }
    static var whoami: String { dir + "/whoami" }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Every child started by the tests, killed when the test process exits (shared fixtures live
/// in statics, which are never deinitialised).
enum ChildRegistry {
    nonisolated(unsafe) private static var pids: Set<Int32> = []
    private static let lock = NSLock()
    private static let installed: Void = {
        signal(SIGPIPE, SIG_IGN) // a child closing a pipe or socket must not kill the test process
        atexit { ChildRegistry.killAll() }
    }()

    static func add(_ pid: Int32) {
        _ = installed
        lock.lock(); pids.insert(pid); lock.unlock()
    }
    static func remove(_ pid: Int32) { lock.lock(); pids.remove(pid); lock.unlock() }
    static func killAll() {
        lock.lock(); let all = pids; lock.unlock()
        for p in all { kill(p, SIGKILL) }
    }
}

/// A child process with its output captured to files, stopped when the test is done.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let outURL: URL
    let errURL: URL
    /// Holds the two output files; removed with the process object.
    private let dir: URL

    /// `environment`: added to (or, with a nil value, removed from) the test process's environment.
    init(_ path: String, _ args: [String], name: String, environment: [String: String?] = [:]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("db-test-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        outURL = dir.appendingPathComponent("\(name).out")
        errURL = dir.appendingPathComponent("\(name).err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        if !environment.isEmpty {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env[k] = v }
            process.environment = env
        }
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        ChildRegistry.add(process.processIdentifier)
    }

    var stdout: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }
    var pid: Int32 { process.processIdentifier }

    /// Waits until `text` appears in stdout or stderr (or in a message of the error log's JSON
    /// lines there, as written: quotes unescaped).
    func waitFor(_ text: String, timeout: Double = 20) throws {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if stdout.contains(text) || stderr.contains(text) || errorLogText(stderr).contains(text) { return }
            if !process.isRunning { throw TestFailure("process exited (\(process.terminationStatus)) before '\(text)': \(stderr)") }
            usleep(20_000)
        }
        throw TestFailure("timed out waiting for '\(text)'; stderr: \(stderr)")
    }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    /// Waits for exit; returns the status, or nil on timeout.
    func waitExit(timeout: Double = 20) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if !process.isRunning { return process.terminationStatus }
            usleep(20_000)
        }
        return nil
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        ChildRegistry.remove(process.processIdentifier)
    }

    /// Resident memory in KiB, from /proc.
    var rssKiB: Int {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: dir)
    }
}

/// Runs a program to completion and returns (status, stdout, stderr).
@discardableResult
func run(_ path: String, _ args: [String], stdin: Data? = nil, timeout: Double = 60) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    let input = Pipe()
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try? input.fileHandleForWriting.close()
    final class Box: @unchecked Sendable { var out = Data(), err = Data() }
    let box = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { box.out = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { box.err = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        p.terminate()
        throw TestFailure("\(path) \(args) timed out")
    }
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: box.out, as: UTF8.self), String(decoding: box.err, as: UTF8.self))
}

/// A TCP port that was free a moment ago.
func freePort() -> UInt16 { freePorts(1)[0] }

/// `n` distinct TCP ports that were free a moment ago: all are bound at once before any is
/// released, so they differ from each other.
func freePorts(_ n: Int) -> [UInt16] {
    let fds = (0..<n).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
    defer { for fd in fds { close(fd) } }
    return fds.map { fd in
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return UInt16(bigEndian: addr.sin_port)
    }
}
