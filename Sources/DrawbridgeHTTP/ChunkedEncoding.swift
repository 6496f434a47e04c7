/// Writing the chunked transfer coding (RFC 9112 §7.1).
public enum ChunkedEncoding {
    /// Appends `size` in lowercase hex and CRLF ("1a\r\n"). `size` must be positive: 0 starts the last chunk.
    public static func appendChunkHeader(size: Int, to buffer: inout [UInt8]) {
        precondition(size > 0, "a zero-size chunk is the last chunk")
        var shift = (Int.bitWidth - 4)
        while shift > 0 && (size >> shift) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            let digit = UInt8(truncatingIfNeeded: (size >> shift) & 0xF)
            buffer.append(digit < 10 ? 0x30 &+ digit : 0x57 &+ digit)
            shift -= 4
        }
        buffer.append(ASCII.cr)
        buffer.append(ASCII.lf)
    }

    /// "\r\n" after each chunk's data.
    public static let chunkTrailer: [UInt8] = [0x0D, 0x0A]
    /// "0\r\n\r\n": the last chunk with an empty trailer section.
    public static let lastChunk: [UInt8] = [0x30, 0x0D, 0x0A, 0x0D, 0x0A]
}
