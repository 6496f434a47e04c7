import Testing
@testable import DrawbridgePolicy

@Suite struct NameTableTests {
    /// The word reader (overlapping loads for short tails) against the obvious byte loop.
    @Test(arguments: 0...24)
    func chunkMatchesByteLoop(length: Int) {
        let bytes = (0..<length).map { UInt8(0x41 + $0) }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            repeat {
                var expected: UInt64 = 0
                for i in 0..<min(8, max(0, length - offset)) { expected |= UInt64(raw[offset + i]) << UInt64(8 * i) }
                #expect(NameTable.chunk(raw, offset) == expected, "length \(length) offset \(offset)")
                offset += 8
            } while offset < length
        }
    }

    @Test func findsEveryNameAndNothingElse() {
        // Names of every length from 1 to 64, and near-misses of each.
        let names = (1...64).map { String(repeating: "r", count: $0 - 1) + "x" } + (0..<200).map { "role-\($0)" }
        let table = NameTable(names)
        for (id, name) in names.enumerated() {
            #expect(table.id(of: name) == id, "\(name)")
            #expect(table.id(of: name + "y") == -1)
            #expect(table.id(of: String(name.dropLast()) + "z") == -1)
        }
        #expect(table.id(of: "") == -1)
        #expect(table.id(of: "role-200") == -1)
        #expect(NameTable([]).id(of: "a") == -1)
    }

    @Test func repeatedNameKeepsItsFirstId() {
        let table = NameTable(["a", "b", "a"])
        #expect(table.id(of: "a") == 0 && table.id(of: "b") == 1 && table.count == 3)
    }
}
