import DrawbridgeHTTP
import DrawbridgeProxy

/// Moves body bytes between the connection's buffers under the exchange's rules: the request
/// body from the client's buffer to the upstream's, the response body back (dechunked and
/// rechunked where the framing says so). No socket: the glue reads and writes the buffers.
enum BodyRelay {
    enum Outcome: Equatable {
        /// Nothing to do until more bytes come (or room is made).
        case waiting
        case moved
        /// The response body is complete.
        case complete
        /// Refuse with this status and close (nothing of a response went out yet).
        case respond(Int)
        /// Cut both connections: the client must see the connection end.
        case abort
    }

    private static func outcome(_ a: ClientExchange.BodyAction) -> Outcome {
        switch a {
        case .proceed: return .moved
        case .respond(let status): return .respond(status)
        case .abort: return .abort
        }
    }

    /// The request body: client buffer `ib` → upstream buffer `ob` (`limit`: the body limit, 0 none).
    static func request(_ x: inout ClientExchange, from ib: IOBuffer, to ob: IOBuffer, peerEOF: Bool, decoder: inout ChunkedDecoder,
                        limit: Int64, now: UInt64) -> Outcome {
        switch x.request.body {
        case .length(let remaining):
            if ib.isEmpty { return peerEOF ? outcome(x.peerClosed()) : .waiting } // client went away mid-body
            let n = BodyCopy.copy(from: ib, to: ob, limit: remaining)
            if n == 0 { return .waiting }
            x.requestBodyForwarded(n, now: now)
            return .moved
        case .chunked:
            let (end, consumed, data) = BodyCopy.dechunk(&decoder, from: ib, to: ob, rechunk: true)
            let overLimit = x.requestChunkData(data, limit: limit)
            if overLimit != .proceed { return outcome(overLimit) }
            switch end {
            case .end: x.requestBodyEnded(now: now); return .moved
            case .error: return outcome(x.requestBodyMalformed())
            case .more:
                if ib.isEmpty && peerEOF { return outcome(x.peerClosed()) }
                return consumed > 0 ? .moved : .waiting
            }
        case .none, .done:
            return .waiting
        }
    }

    /// The response body after its head: upstream buffer `ub` → client buffer `ob`.
    @inline(__always) static func response(_ x: inout ClientExchange, from ub: IOBuffer, upstreamEOF: Bool, to ob: IOBuffer,
                         decoder: inout ChunkedDecoder) -> Outcome {
        switch x.request.response {
        case .length(let remaining):
            if ub.isEmpty { return upstreamEOF ? .abort : .waiting } // truncated upstream body
            let n = BodyCopy.copy(from: ub, to: ob, limit: remaining)
            if n == 0 { return .waiting }
            return x.responseBodyForwarded(n) ? .complete : .moved
        case .chunked:
            // issue 19: strict framing of the upstream's chunked body (trailers, extensions) is judged here.
            let (end, consumed, data) = BodyCopy.dechunk(&decoder, from: ub, to: ob, rechunk: x.request.chunkToClient)
            _ = x.responseBodyForwarded(data)
            switch end {
            case .end: return .complete
            case .error: return .abort
            case .more:
                if ub.isEmpty && upstreamEOF { return .abort }
                return consumed > 0 ? .moved : .waiting
            }
        case .untilClose:
            let chunk = x.request.chunkToClient
            if !ub.isEmpty {
                let room = ob.free - 24
                if room <= 0 { return .waiting }
                let n = min(ub.readable, room)
                _ = ob.reserve(n + 24)
                if chunk { ob.appendHex(n); ob.append("\r\n") }
                ob.append(UnsafeRawBufferPointer(rebasing: ub.readableBytes.prefix(n)))
                if chunk { ob.append("\r\n") }
                ub.consume(n)
                _ = x.responseBodyForwarded(n)
                return .moved
            }
            if upstreamEOF {
                if chunk { guard ob.reserve(5) else { return .waiting }; ob.append("0\r\n\r\n") }
                return .complete
            }
            return .waiting
        case .awaitingHead, .done:
            return .waiting
        }
    }
}
