import DrawbridgeConfig
import Glibc

/// The error log lines of upstream failures, one call at each failure site, worded after nginx's
/// ("connect() failed (111: Connection refused) while connecting to upstream", "upstream timed
/// out", "upstream prematurely closed connection"). Each names the upstream and server, and the
/// request (request_id, as in the access log) and client it happened to.
extension UpstreamPool {
    private func server(_ i: Int) -> String { String(decoding: target.labels[i], as: UTF8.self) }

    func logConnectFailed(server i: Int, errno e: Int32, owner: ClientConnection?) {
        guard worker.errorLog.wants(.error) else { return }
        worker.errorLog.event(.error, "upstream_connect_failed",
                              "connect() to \(server(i)) failed (\(e): \(String(cString: strerror(e)))) while connecting to upstream \(target.name)",
                              fields(i, owner, ["errno": .number(Int(e))]))
    }

    func logTLSFailed(_ c: UpstreamConnection) {
        guard worker.errorLog.wants(.error) else { return }
        worker.errorLog.event(.error, "upstream_tls_failed",
                              "TLS handshake with upstream \(target.name) server \(server(c.serverIndex)) failed: \(c.transport.handshakeFailureReason)",
                              fields(c.serverIndex, c.owner, [:]))
    }

    /// The exchange's timer fired while connecting (`timeouts.upstreamConnectSeconds`) or waiting
    /// for the response head (`timeouts.upstreamResponseSeconds`).
    func logTimeout(_ c: UpstreamConnection, connecting: Bool) {
        guard worker.errorLog.wants(.error) else { return }
        let t = c.owner?.snapshot.config.timeouts
        let what = connecting ? "while connecting (timeouts.upstreamConnectSeconds: \(t?.upstreamConnectSeconds ?? 0))"
                              : "while waiting for the response (timeouts.upstreamResponseSeconds: \(t?.upstreamResponseSeconds ?? 0))"
        worker.errorLog.event(.error, "upstream_timeout", "upstream \(target.name) server \(server(c.serverIndex)) timed out \(what)",
                              fields(c.serverIndex, c.owner, ["phase": .text(connecting ? "connect" : "response")]))
    }

    /// The connection failed or closed before the response was complete; `responseStarted`: the
    /// client has part of it (and loses the connection).
    func logBroken(server i: Int, owner: ClientConnection?, responseStarted: Bool) {
        guard worker.errorLog.wants(.error) else { return }
        worker.errorLog.event(.error, "upstream_failed",
                              "upstream \(target.name) server \(server(i)) closed the connection or failed "
                              + (responseStarted ? "in the middle of the response" : "before a complete response head"),
                              fields(i, owner, [:]))
    }

    func logInvalidResponse(server i: Int, owner: ClientConnection?) {
        guard worker.errorLog.wants(.error) else { return }
        worker.errorLog.event(.error, "upstream_invalid_response",
                              "upstream \(target.name) server \(server(i)) sent an invalid response head (answered 502)", fields(i, owner, [:]))
    }

    /// No server of the upstream is up (passive or active health): the request got 503.
    func logNoServer(owner: ClientConnection?) {
        guard worker.errorLog.wants(.error) else { return }
        worker.errorLog.event(.error, "upstream_unavailable", "no server of upstream \(target.name) is up (answered 503)",
                              fields(-1, owner, [:]))
    }

    /// Passive health (`maxFails` within `failTimeoutSeconds`) took a server out of rotation.
    func logMarkedDown(server i: Int) {
        guard worker.errorLog.wants(.warn) else { return }
        let c = target.health.config
        worker.errorLog.event(.warn, "upstream_down",
                              "upstream \(target.name) server \(server(i)) marked down for \(c.failTimeoutSeconds)s after \(c.maxFails) "
                              + "failure\(c.maxFails == 1 ? "" : "s") within failTimeoutSeconds (maxFails: \(c.maxFails))",
                              ["upstream": .text(target.name), "server": .text(server(i))])
    }

    /// upstream, server, request_id, client, then `extra`.
    private func fields(_ i: Int, _ owner: ClientConnection?, _ extra: LogFields) -> LogFields {
        var f: LogFields = ["upstream": .text(target.name)]
        if i >= 0 { f.add("server", .text(server(i))) }
        if let owner {
            f.add("request_id", .bytes(owner.requestId.hex))
            f.add("client", .bytes(owner.peerIP))
        }
        f.items += extra.items
        return f
    }
}

extension ClientConnection {
    /// A failed TLS handshake: the client's address and OpenSSL's reason, rate-limited per worker
    /// (clients cause these at will: scanners, old clients, plain HTTP on the HTTPS port).
    func logHandshakeFailure() {
        let log = worker.errorLog
        guard log.wants(.info), log.handshakeFailures.admit(now: worker.now) else { return }
        let reason = transport.handshakeFailureReason
        log.event(.info, "tls_handshake_failed", "TLS handshake with client \(clientAddress) failed: \(reason)",
                  ["client": .bytes(peerIP), "reason": .text(reason)])
    }
}
