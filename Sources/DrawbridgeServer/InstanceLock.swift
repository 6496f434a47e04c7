import CLinux
import Glibc

/// Refuses a second gateway on addresses a running one holds. The listeners use SO_REUSEPORT (one
/// per worker), so without this check a second `drawbridge serve` would bind beside the first in
/// silence and the kernel would split the traffic between the two.
///
/// Two checks, before any listener is bound:
/// - an instance lock per listen address: a listening socket in the abstract namespace named
///   after the address, held while the process lives and released by the kernel however it ends
///   (no stale lock after kill -9); its holder's pid comes from SO_PEERCRED, for the message;
/// - a probe bind without SO_REUSEPORT, which fails on a port any process listens on (another
///   program, or a gateway on a wildcard address that covers this one).
enum InstanceLock {
    /// The lock fds, kept open for the life of the process.
    static func acquire(_ addresses: [SocketAddress]) throws -> [Int32] {
        var held: [Int32] = []
        for a in addresses {
            let name = "drawbridge-listen:" + a.text
            let fd = CLinux_abstract_listen(name)
            if fd < 0 {
                let e = CLinux_errno()
                for h in held { close(h) }
                guard e == EADDRINUSE else { throw SocketError.system("instance lock for \(a.text)", e) }
                let pid = CLinux_abstract_peer_pid(name)
                throw InstanceError(description: "\(a.text) is already served by another drawbridge"
                    + (pid > 0 ? " (pid \(pid))" : "") + "; stop it first (SIGTERM), or send it SIGHUP to reload its configuration")
            }
            held.append(fd)
        }
        for a in addresses {
            if let problem = probe(a) {
                for h in held { close(h) }
                throw InstanceError(description: problem)
            }
        }
        return held
    }

    /// Binds `address` without SO_REUSEPORT (SO_REUSEADDR only, so connections in TIME_WAIT after
    /// a restart do not count), then lets it go. Nil: nothing listens there.
    private static func probe(_ address: SocketAddress) -> String? {
        let fd = CLinux_socket_nonblock(address.family, Int32(SOCK_STREAM.rawValue))
        if fd < 0 { return nil }   // the real bind reports what is wrong
        defer { close(fd) }
        _ = CLinux_set_reuseaddr(fd)
        var a = address
        let r = withUnsafePointer(to: &a.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, a.length) }
        }
        if r == 0 { return nil }
        let e = CLinux_errno()
        guard e == EADDRINUSE else { return nil }
        return "\(address.text) is already in use by another process (\(String(cString: strerror(e)))); "
            + "a gateway would share it with that process through SO_REUSEPORT, so it does not start"
    }
}

struct InstanceError: Error, CustomStringConvertible {
    let description: String
}
