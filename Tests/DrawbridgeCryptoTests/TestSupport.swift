import Foundation
import Testing
@testable import DrawbridgeCrypto

struct VectorFileMissing: Error, CustomStringConvertible {
    let name: String
    var description: String { "Wycheproof vector file \(name) is missing from Tests/DrawbridgeCryptoTests/Vectors" }
}

/// Loads a Wycheproof JSON file from the test bundle. A missing or unreadable file throws,
/// which fails the calling test (it never skips).
func loadVectors(_ name: String) throws -> [String: Any] {
    guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors")
        ?? Bundle.module.url(forResource: name, withExtension: "json") else { throw VectorFileMissing(name: name) }
    let data = try Data(contentsOf: url)
    guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw VectorFileMissing(name: name) }
    return obj
}

/// One Wycheproof test case with its group.
struct Case {
    let group: [String: Any]
    let test: [String: Any]
    var tcId: Int { test["tcId"] as? Int ?? -1 }
    var result: String { test["result"] as? String ?? "" }
    var flags: [String] { test["flags"] as? [String] ?? [] }
    func hex(_ key: String) -> [UInt8] { hexBytes(test[key] as? String ?? "") }
    func str(_ key: String) -> String { test[key] as? String ?? "" }
}

func cases(_ file: [String: Any]) -> [Case] {
    let groups = file["testGroups"] as? [[String: Any]] ?? []
    return groups.flatMap { g in (g["tests"] as? [[String: Any]] ?? []).map { Case(group: g, test: $0) } }
}

func hexBytes(_ s: String) -> [UInt8] {
    var out = [UInt8]()
    var it = s.utf8.makeIterator()
    while let a = it.next(), let b = it.next() {
        out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16)!)
    }
    return out
}

func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
