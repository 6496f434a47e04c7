/// Time-based one-time passwords, RFC 6238 (HOTP, RFC 4226, over a time-step counter).
public enum TOTP {
    public enum Algorithm: Sendable { case sha1, sha256, sha512
        var hash: HashAlgorithm { switch self { case .sha1: .sha1; case .sha256: .sha256; case .sha512: .sha512 } }
    }

    /// The code for Unix time `time`. Throws `.invalidInput` for `digits` outside 6...8,
    /// `step == 0`, or an empty secret.
    public static func code(secret: [UInt8], time: UInt64, step: UInt64 = 30, digits: Int = 6,
                            algorithm: Algorithm = .sha1) throws -> String {
        guard step > 0 else { throw CryptoError.invalidInput("TOTP: step must be positive") }
        try check(secret: secret, digits: digits)
        return hotp(secret: secret, counter: time / step, digits: digits, algorithm: algorithm)
    }

    /// HOTP (RFC 4226 §5.3) for an explicit counter.
    static func hotp(secret: [UInt8], counter: UInt64, digits: Int, algorithm: Algorithm) -> String {
        var msg = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { msg[i] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64(i))) }
        let mac = algorithm.hash.hmac(key: secret, data: msg)
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let bin = UInt32(mac[offset] & 0x7f) << 24 | UInt32(mac[offset + 1]) << 16
            | UInt32(mac[offset + 2]) << 8 | UInt32(mac[offset + 3])
        var mod: UInt32 = 1
        for _ in 0..<digits { mod *= 10 }
        let s = String(bin % mod)
        return String(repeating: "0", count: digits - s.count) + s
    }

    /// Checks `code` against the time steps `time/step - window ... time/step + window` and
    /// returns the matching counter (time step), or nil. Every candidate is computed and
    /// compared in constant time. Store the returned counter and refuse counters <= the last
    /// accepted one to stop replays (RFC 6238 §5.2); that state is the caller's.
    public static func matchingCounter(_ code: String, secret: [UInt8], time: UInt64, step: UInt64 = 30,
                                       digits: Int = 6, algorithm: Algorithm = .sha1, window: Int = 1) -> UInt64? {
        guard step > 0, window >= 0, window <= 10, (try? check(secret: secret, digits: digits)) != nil else { return nil }
        let given = Array(code.utf8)
        guard given.count == digits, given.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let now = time / step
        var found: UInt64? = nil
        for delta in -window...window {
            let (c, overflow) = delta < 0 ? now.subtractingReportingOverflow(UInt64(-delta))
                                          : now.addingReportingOverflow(UInt64(delta))
            if overflow { continue }
            let expected = Array(hotp(secret: secret, counter: c, digits: digits, algorithm: algorithm).utf8)
            if ConstantTime.equals(expected, given) && found == nil { found = c }
        }
        return found
    }

    /// True if `code` matches within ±`window` steps. See `matchingCounter` for replay protection.
    public static func verify(_ code: String, secret: [UInt8], time: UInt64, step: UInt64 = 30, digits: Int = 6,
                              algorithm: Algorithm = .sha1, window: Int = 1) -> Bool {
        matchingCounter(code, secret: secret, time: time, step: step, digits: digits, algorithm: algorithm, window: window) != nil
    }

    private static func check(secret: [UInt8], digits: Int) throws {
        guard (6...8).contains(digits) else { throw CryptoError.invalidInput("TOTP: digits must be 6...8") }
        guard !secret.isEmpty else { throw CryptoError.invalidInput("TOTP: empty secret") }
    }
}
