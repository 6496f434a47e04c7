import DrawbridgeCrypto
import Foundation
import Testing

/// The one JSON string rule (logs, state files, tokens, API answers), one row per class of input.
@Suite struct JSONStringTests {
    @Test(arguments: [
        // (input bytes, escaped output)
        (Array("plain /path?x=1".utf8), "plain /path?x=1"),
        (Array("quote \" backslash \\".utf8), #"quote \" backslash \\"#),
        (Array("line\nbreak\r\ttab".utf8), #"line\nbreak\r\ttab"#),
        ([0x00, 0x01, 0x1B, 0x1F, 0x7F], #"\u0000\u0001\u001b\u001f\u007f"#),     // C0 controls and DEL
        (Array("caf\u{e9} \u{1F600} \u{4E2D}".utf8), "caf\u{e9} \u{1F600} \u{4E2D}"),  // valid UTF-8 stays UTF-8
        ([0xC2, 0x85, 0xC2, 0x9B], #"\u0085\u009b"#),                                   // C1 controls (NEL, CSI)
        (Array("a\u{2028}b\u{2029}c".utf8), #"a\u2028b\u2029c"#),                       // JavaScript line ends
        ([0x2F, 0xC3], #"/\u00c3"#),                                                    // truncated sequence
        ([0xC0, 0xAE], #"\u00c0\u00ae"#),                                               // overlong '.'
        ([0xED, 0xA0, 0x80], #"\u00ed\u00a0\u0080"#),                                   // surrogate
        ([0xF4, 0x90, 0x80, 0x80], #"\u00f4\u0090\u0080\u0080"#),                       // above U+10FFFF
        ([0xFF, 0x41], #"\u00ffA"#),
    ])
    func escapes(_ input: [UInt8], _ expected: String) {
        var out: [UInt8] = []
        let whole = input.withUnsafeBytes { JSONString.appendEscaped($0, to: &out) }
        #expect(whole)
        #expect(String(decoding: out, as: UTF8.self) == expected)
        // Always valid JSON, whatever the input.
        let quoted = Data([0x22] + out + [0x22])
        #expect((try? JSONSerialization.jsonObject(with: quoted, options: .fragmentsAllowed)) != nil)
    }

    @Test func quoteIsTheSameRule() {
        #expect(JSONString.quote("a\"b\u{1}\u{e9}") == #""a\"b\u0001é""#)
    }

    /// A cap never cuts inside an escape or a UTF-8 sequence, and says it cut.
    @Test func limitCutsOnlyBetweenCharacters() {
        let input = Array("ab\u{e9}\u{1F600}\n".utf8)   // 1 1 2 4 2(escaped) = 10 bytes out
        for limit in 0...10 {
            var out: [UInt8] = []
            let whole = input.withUnsafeBytes { JSONString.appendEscaped($0, to: &out, limit: limit) }
            #expect(out.count <= limit)
            #expect(whole == (limit >= 10))
            #expect(String(validatingUTF8: (out + [0]).map { CChar(bitPattern: $0) }) != nil)
            #expect([0, 1, 2, 4, 8, 10].contains(out.count), "limit \(limit): \(out.count)")
        }
    }
}
