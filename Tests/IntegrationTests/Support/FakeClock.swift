import Foundation
import Glibc

/// libfaketime for the clock cases: the gateway started through `FakeClock.command` reads the
/// offset in `file` (re-read every second), so a test can move its clock while it runs. The
/// monotonic clock is left alone, as on a real machine whose wall clock is stepped.
final class FakeClock {
    let file: String

    init(offset: String) throws {
        file = FileManager.default.temporaryDirectory.appendingPathComponent("db-faketime-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try set(offset)
    }

    deinit { unlink(file) }

    /// "+2d", "-1h", "+0": the offset from the real clock.
    func set(_ offset: String) throws {
        try (offset + "\n").write(toFile: file, atomically: true, encoding: .utf8)
    }

    /// The environment that runs a program under this clock. (`faketime -f` itself cannot follow a
    /// file; FAKETIME_SHARED is set as that command sets it: without it, the preloaded library
    /// rewrites the environment at load and the Swift runtime no longer sees the program's arguments.)
    var environment: [String: String?] {
        Self.removeStaleSharedObjects()
        return ["FAKETIME_TIMESTAMP_FILE": file, "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "FAKETIME_SHARED": "/faketime_sem_db\(getpid()) /faketime_shm_db\(getpid())", "LD_PRELOAD": Self.library]
    }

    /// The command line that runs `args` under this clock.
    func command(_ args: [String]) -> (String, [String]) {
        ("/usr/bin/env", environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value ?? "")" } + args)
    }

    /// The command line that runs `args` on a clock that starts at `spec` ("@YYYY-MM-DD HH:MM:SS",
    /// optionally followed by " xRATE") and runs on from there. The library is preloaded directly:
    /// the `faketime` wrapper names its semaphore by its own pid, and a leftover one of the same pid
    /// (a killed wrapper, a host whose /dev/shm outlives its containers) makes it refuse to start.
    static func command(startingAt spec: String, _ args: [String]) -> (String, [String]) {
        let tag = "\(getpid())-\(UUID().uuidString.prefix(8))"
        removeStaleSharedObjects()
        return ("/usr/bin/env", ["FAKETIME=\(spec)", "FAKETIME_DONT_FAKE_MONOTONIC=1",
                                 "FAKETIME_SHARED=/faketime_sem_db\(tag) /faketime_shm_db\(tag)",
                                 "LD_PRELOAD=\(library)"] + args)
    }

    /// The named FAKETIME_SHARED objects do not exist, so the library makes its own, named by the
    /// process's pid (`/faketime_sem_<pid>`, `/faketime_shm_<pid>`), and cannot remove them when the
    /// process is killed. A later process given the same pid then fails to start ("sem_open failed
    /// and recreation attempts failed"). So the leftovers of processes that no longer run are removed
    /// before each start.
    static func removeStaleSharedObjects() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []
        for name in names {
            let pidText: Substring
            if name.hasPrefix("sem.faketime_sem_") { pidText = name.dropFirst("sem.faketime_sem_".count) }
            else if name.hasPrefix("faketime_shm_") { pidText = name.dropFirst("faketime_shm_".count) }
            else { continue }
            guard let pid = Int32(pidText), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink("/dev/shm/" + name)
        }
    }

    /// Debian's libfaketime (package faketime), the thread-safe build.
    static let library: String = {
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? []
        for d in dirs.sorted() where FileManager.default.fileExists(atPath: "/usr/lib/\(d)/faketime/libfaketimeMT.so.1") {
            return "/usr/lib/\(d)/faketime/libfaketimeMT.so.1"
        }
        return "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
    }()
    static var available: Bool { FileManager.default.fileExists(atPath: library) }
}
