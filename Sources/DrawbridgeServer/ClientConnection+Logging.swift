/// What a client connection records about each request: the access-log line and, with the admin
/// listener on, the workers' counters. Once per request (`ClientExchange.takeLogTurn`).
extension ClientConnection {
    var clientAddress: String { String(decoding: peerIP, as: UTF8.self) }

    func logRequest() {
        guard exchange.takeLogTurn() else { return }
        let r = exchange.request
        if worker.metrics.enabled { // metrics: once per request, access logging on or off
            worker.metrics.requestDone(route: verdictRoute, identity: verdictIdentity, request: request, status: r.status,
                                       durationNs: worker.now - r.started,
                                       upstreamNs: r.upstreamHeadAt > 0 && r.upstreamStart > 0 ? r.upstreamHeadAt - r.upstreamStart : nil)
        }
        guard worker.accessLog.enabled else { return }
        worker.accessLog.log(request, requestId: requestId.hex, client: peerIP, status: r.status, bytes: r.bytesSent,
                             durationNs: worker.now - r.started, upstream: r.upstreamStart == 0 ? nil : upstreamLabel,
                             upstreamNs: r.upstreamHeadAt > 0 ? r.upstreamHeadAt - r.upstreamStart : nil)
    }
}
