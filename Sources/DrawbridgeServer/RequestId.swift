/// A request's id: 128 random bits as 32 hex digits, formatted once per request and written up
/// to three times (upstream head, response head, access log).
struct RequestId {
    private(set) var hex = [UInt8](repeating: 0, count: 32)

    mutating func renew(_ random: inout FastRandom) {
        let a = random.next(), b = random.next()
        let digits: StaticString = "0123456789abcdef"
        hex.withUnsafeMutableBufferPointer { out in
            for i in 0..<32 {
                let v = i < 16 ? a : b
                out[i] = digits.utf8Start[Int((v >> UInt64(60 - (i % 16) * 4)) & 0xF)]
            }
        }
    }

    var text: String { String(decoding: hex, as: UTF8.self) }
}
