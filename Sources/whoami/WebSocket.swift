/// `/ws`: a WebSocket echo endpoint (RFC 6455).
private let handshakeGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func webSocket(_ req: Request, _ c: Connection) -> Outcome {
    let key = req.header("Sec-WebSocket-Key") ?? ""
    let versionOK = req.header("Sec-WebSocket-Version") == "13"
    let valid = req.method == "GET" && !req.isHTTP10 && req.framing == .none
        && req.tokens("Upgrade").contains("websocket")
        && req.tokens("Connection").contains("upgrade")
        && Base64.decodedLength(key) == 16
        && versionOK
    guard valid else {
        let body = Array("invalid WebSocket upgrade\n".utf8)
        var headers = [("Content-Type", "text/plain"), ("Content-Length", "\(body.count)")]
        if !versionOK { headers.append(("Sec-WebSocket-Version", "13")) }
        _ = c.write(responseHead(400, headers, keepAlive: false, http10: req.isHTTP10) + body)
        return .close
    }

    let accept = Base64.encode(SHA1.hash(Array((key + handshakeGUID).utf8)))
    let head = responseHead(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                  ("Sec-WebSocket-Accept", accept)], keepAlive: true, http10: false)
    guard c.write(head) else { return .close }
    return echoFrames(c)
}

private enum Opcode {
    static let continuation: UInt8 = 0x0, text: UInt8 = 0x1, binary: UInt8 = 0x2
    static let close: UInt8 = 0x8, ping: UInt8 = 0x9, pong: UInt8 = 0xA
}

/// Echoes data frames as they come (same FIN bit and opcode, so fragmented messages come back
/// fragmented the same way), answers ping with pong, and close with close.
private func echoFrames(_ c: Connection) -> Outcome {
    while true {
        guard let h = c.readBytes(2) else { return .close }
        let fin = h[0] & 0x80 != 0
        let opcode = h[0] & 0x0F
        let masked = h[1] & 0x80 != 0
        var length = UInt64(h[1] & 0x7F)
        if length == 126 {
            guard let e = c.readBytes(2) else { return .close }
            length = UInt64(e[0]) << 8 | UInt64(e[1])
        } else if length == 127 {
            guard let e = c.readBytes(8) else { return .close }
            length = e.reduce(0) { $0 << 8 | UInt64($1) }
            guard length >> 63 == 0 else { return fail(c) }
        }
        let isControl = opcode & 0x8 != 0
        guard h[0] & 0x70 == 0, masked,
              [Opcode.continuation, Opcode.text, Opcode.binary, Opcode.close, Opcode.ping, Opcode.pong].contains(opcode),
              !isControl || (fin && length <= 125)
        else { return fail(c) }
        guard let mask = c.readBytes(4) else { return .close }

        if isControl {
            var payload: [UInt8] = []
            guard c.read(count: length, { payload.append(contentsOf: $0) }) else { return .close }
            for i in payload.indices { payload[i] ^= mask[i & 3] }
            switch opcode {
            case Opcode.ping:
                guard c.write(frameHeader(0x80 | Opcode.pong, UInt64(payload.count)) + payload) else { return .close }
            case Opcode.close:
                let code = Array(payload.prefix(2))  // echo the status code, if any
                _ = c.write(frameHeader(0x80 | Opcode.close, UInt64(code.count)) + code)
                return .close
            default:
                break  // unsolicited pong
            }
            continue
        }

        // Data frame: unmask and send back in pieces of at most 64 KiB.
        var out = frameHeader(h[0] & 0x8F, length)
        var position = 0
        var ok = true
        let complete = c.read(count: length) { chunk in
            guard ok else { return }
            for b in chunk {
                out.append(b ^ mask[position & 3])
                position &+= 1
            }
            if out.count >= 64 * 1024 {
                ok = c.write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        guard complete, ok, c.write(out) else { return .close }
    }
}

/// Protocol error: close with status 1002.
private func fail(_ c: Connection) -> Outcome {
    _ = c.write(frameHeader(0x80 | Opcode.close, 2) + [0x03, 0xEA])
    return .close
}

/// An unmasked (server-to-client) frame header.
private func frameHeader(_ first: UInt8, _ length: UInt64) -> [UInt8] {
    if length < 126 { return [first, UInt8(length)] }
    if length <= 0xFFFF { return [first, 126, UInt8(length >> 8), UInt8(length & 0xFF)] }
    return [first, 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: length >> (UInt64($0) * 8)) }
}
