import CLinux
import DrawbridgeConfig
import Glibc

/// `auth.masterKeyCommand`: the hook for a key vault or KMS command-line client. The program is
/// run once per process, at start, without a shell (argv as configured, argv[0] an absolute path),
/// with standard input from /dev/null, the process's environment (the vault client's own
/// credentials live there; `DRAWBRIDGE_MASTER_KEY` has been taken out of it before), its own
/// process group, default signal handling, and only descriptors 0-2 open. Its standard output is
/// the key; its standard error goes to drawbridge's (the operator's log). Bounded: it must exit
/// within the timeout and print at most `MasterKey.maximumTextBytes`, or it is killed (with its
/// process group). Every failure names the command and never shows what it printed.
enum KeyCommand {
    static func run(_ argv: [String], timeoutSeconds: Double) throws(ConfigErrors) -> MasterKey {
        let name = "auth.masterKeyCommand (\(argv.joined(separator: " ")))"
        func fail(_ message: String) -> ConfigErrors { MasterKey.error(name, message) }
        guard let program = argv.first else { throw fail("no program configured") }

        var fds: [Int32] = [-1, -1]
        guard CLinux_pipe_cloexec(&fds) == 0 else { throw fail("cannot make a pipe: \(String(cString: strerror(errno)))") }
        let reader = fds[0], writer = fds[1]
        defer { close(reader) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writer, 1)
        // Nothing else of ours (sockets, logs, lock files) reaches the vault client.
        CLinux_spawn_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The gateway blocks SIGHUP and its other signals before this runs, and may ignore SIGPIPE:
        // the child starts with no signal blocked and every disposition at its default.
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // Its own process group: a timeout kills whatever it started too.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, &attributes, &cArgs, environ)
        close(writer)
        guard spawned == 0 else { throw fail("cannot run \(program): \(String(cString: strerror(spawned)))") }

        let deadline = monotonicNanoseconds() + UInt64(timeoutSeconds * 1e9)
        var output = [UInt8](repeating: 0, count: MasterKey.maximumTextBytes + 1)
        defer { output.wipeBytes() }
        var count = 0
        enum Ending { case endOfOutput, timedOut, tooMuch, readError(Int32) }
        var ending = Ending.timedOut
        reading: while true {
            let now = monotonicNanoseconds()
            guard now < deadline else { ending = .timedOut; break }
            var p = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min((deadline - now) / 1_000_000 + 1, 60_000)))
            if ready < 0 && errno != EINTR { ending = .readError(errno); break }
            if ready <= 0 { continue }
            let n = output.withUnsafeMutableBytes { read(reader, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                ending = .readError(errno)
                break
            }
            if n == 0 { ending = .endOfOutput; break }
            count += n
            if count > MasterKey.maximumTextBytes { ending = .tooMuch; break }
        }

        // The exit status, within what is left of the timeout.
        var status: Int32 = 0
        var exited = false
        if case .endOfOutput = ending {
            while monotonicNanoseconds() < deadline {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { exited = true; break }
                if r < 0 && errno != EINTR { break }
                usleep(2000)
            }
            if !exited { ending = .timedOut }
        }
        // Exited, but a process it left behind still holds its standard output open.
        var leftBehind = false
        if !exited, case .timedOut = ending, waitpid(pid, &status, WNOHANG) == pid { exited = true; leftBehind = true }
        if !exited {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }

        switch ending {
        case .timedOut where leftBehind:
            kill(-pid, SIGKILL)
            throw fail("exited, but its standard output was still open after \(formatSeconds(timeoutSeconds)) "
                       + "(masterKeyCommandTimeoutSeconds): a process it started holds it; its process group was killed")
        case .timedOut:
            throw fail("did not finish within \(formatSeconds(timeoutSeconds)) (masterKeyCommandTimeoutSeconds): killed")
        case .tooMuch:
            throw fail("printed more than \(MasterKey.maximumTextBytes) bytes (a master key is one line): killed; its output is not shown")
        case .readError(let e):
            throw fail("cannot read its output: \(String(cString: strerror(e)))")
        case .endOfOutput:
            break
        }
        let signal = status & 0x7f
        if signal != 0 { throw fail("was killed by signal \(signal)") }
        let code = (status >> 8) & 0xff
        if code != 0 { throw fail("exited with status \(code) (its own messages, if any, are on standard error above); its output is not shown") }
        var text = Array(output[0..<count])
        defer { text.wipeBytes() }
        switch MasterKey.parse(text) {
        case .success(var bytes):
            defer { bytes.wipeBytes() }
            return try MasterKey(bytes: bytes, origin: name)
        case .failure(let problem):
            throw fail("printed \(count) byte\(count == 1 ? "" : "s") that are not a master key: \(problem.message); its output is not shown")
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    static func formatSeconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}
