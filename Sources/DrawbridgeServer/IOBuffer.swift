/// A fixed-capacity byte buffer with read and write indices. Capacity never grows: a full buffer
/// is backpressure, which is what keeps memory per connection bounded whatever the body size.
final class IOBuffer {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    var readIndex = 0
    var writeIndex = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }
    deinit { base.deallocate() }

    @inline(__always) var readable: Int { writeIndex - readIndex }
    @inline(__always) var isEmpty: Bool { writeIndex == readIndex }
    @inline(__always) var writable: Int { capacity - writeIndex }
    /// Room left if the buffer were compacted.
    @inline(__always) var free: Int { capacity - readable }

    var readableBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readIndex, count: readable)
    }
    var writableBytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + writeIndex, count: writable)
    }

    func clear() { readIndex = 0; writeIndex = 0 }

    @inline(__always) func consume(_ n: Int) {
        readIndex += n
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    /// Moves unread bytes to the front so that `writable` equals `free`.
    func compact() {
        if readIndex == 0 { return }
        let n = readable
        if n > 0 { (base).copyMemory(from: base + readIndex, byteCount: n) }
        readIndex = 0
        writeIndex = n
    }

    /// Ensures `n` contiguous writable bytes if the capacity allows; returns whether it does.
    @inline(__always) func reserve(_ n: Int) -> Bool {
        if writable >= n { return true }
        if free >= n { compact(); return true }
        return false
    }

    @inline(__always) func append(_ bytes: UnsafeRawBufferPointer) {
        // Callers reserve first; this is the last line of defence against a heap overflow.
        precondition(bytes.count <= writable, "IOBuffer overflow")
        (base + writeIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writeIndex += bytes.count
    }
    @inline(__always) func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }
    @inline(__always) func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
    /// For the gateway's own (rare) responses; the proxy path appends bytes.
    func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }
    @inline(__always) func append(byte: UInt8) {
        precondition(writeIndex < capacity, "IOBuffer overflow")
        base.storeBytes(of: byte, toByteOffset: writeIndex, as: UInt8.self)
        writeIndex += 1
    }
    func appendDecimal(_ v: UInt64) {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes of scratch
        withUnsafeMutableBytes(of: &tmp) { t in
            var i = 24
            var x = v
            repeat { i -= 1; t[i] = UInt8(48 + x % 10); x /= 10 } while x > 0
            append(UnsafeRawBufferPointer(rebasing: t[i..<24]))
        }
    }
    func appendHex(_ v: Int) {
        let digits: StaticString = "0123456789abcdef"
        var started = false
        var shift = 60
        while shift >= 0 {
            let d = (v >> shift) & 0xF
            if d != 0 || started || shift == 0 {
                started = true
                append(byte: digits.utf8Start[d])
            }
            shift -= 4
        }
    }
}

/// A per-worker free list of buffers, so that busy connections reuse them and idle ones hold none.
final class BufferPool {
    let bufferSize: Int
    private var free: [IOBuffer] = []
    private let maxFree: Int

    init(bufferSize: Int, maxFree: Int = 1024) {
        self.bufferSize = bufferSize
        self.maxFree = maxFree
    }

    /// The fewest free buffers since the last `releaseUnused`: that many were not needed.
    private var lowWater = 0

    @inline(__always) func take() -> IOBuffer {
        if let b = free.popLast() {
            if free.count < lowWater { lowWater = free.count }
            return b
        }
        lowWater = 0
        return IOBuffer(capacity: bufferSize)
    }

    /// Called periodically: frees half of the buffers no exchange needed since the last call (the
    /// free list follows the load down, so idle connections are not charged for a past peak).
    /// Returns how many were freed.
    func releaseUnused() -> Int {
        let surplus = min((lowWater + 1) / 2, free.count)
        if surplus > 0 { free.removeLast(surplus) }
        lowWater = free.count
        return surplus
    }

    @inline(__always) func give(_ b: IOBuffer) {
        b.clear()
        if free.count < maxFree && b.capacity == bufferSize { free.append(b) }
    }

    /// After a burst: keep at most `keep` free buffers (the rest go back to malloc).
    func trim(keep: Int) {
        if free.count > keep { free.removeLast(free.count - keep) }
        lowWater = min(lowWater, free.count)
    }

    var freeCount: Int { free.count }
}
