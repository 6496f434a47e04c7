import DrawbridgeHTTP

/// Moving body bytes between buffers: as much as both sides allow, never more (backpressure).
enum BodyCopy {
    /// Copies up to `limit` bytes from `src` to `dst`; returns how many.
    @inline(__always)
    static func copy(from src: IOBuffer, to dst: IOBuffer, limit: UInt64 = .max) -> Int {
        let n = Int(min(UInt64(src.readable), limit, UInt64(dst.free)))
        if n == 0 { return 0 }
        _ = dst.reserve(n)
        dst.append(UnsafeRawBufferPointer(rebasing: src.readableBytes.prefix(n)))
        src.consume(n)
        return n
    }

    enum ChunkedEnd { case more, end, error }

    /// Decodes the chunked coding from `src` strictly and writes its data to `dst`, re-encoded as
    /// chunks of the gateway's own (and the last chunk) when `rechunk`, raw otherwise. Trailers
    /// are dropped. Returns how it stopped, the input consumed and the data bytes written.
    static func dechunk(_ decoder: inout ChunkedDecoder, from src: IOBuffer, to dst: IOBuffer,
                        rechunk: Bool) -> (ChunkedEnd, consumed: Int, data: Int) {
        var consumed = 0, data = 0
        while true {
            // Offer the decoder only what fits once framed, so every data range it returns is written whole.
            let room = dst.free - 24
            if room <= 0 || src.isEmpty { return (.more, consumed, data) }
            let input = UnsafeRawBufferPointer(rebasing: src.readableBytes.prefix(room))
            var off = 0
            let ev = decoder.next(input, offset: &off)
            switch ev {
            case .data(let r):
                _ = dst.reserve(r.count + 24)
                if rechunk { dst.appendHex(r.count); dst.append("\r\n") }
                dst.append(UnsafeRawBufferPointer(rebasing: input[r]))
                if rechunk { dst.append("\r\n") }
                data += r.count
            case .end:
                if rechunk { _ = dst.reserve(5); dst.append("0\r\n\r\n") }
                src.consume(off)
                return (.end, consumed + off, data)
            case .error:
                src.consume(off)
                return (.error, consumed + off, data)
            case .needMore:
                break
            }
            src.consume(off)
            consumed += off
            if case .needMore = ev { return (.more, consumed, data) }
        }
    }
}
