import Testing
@testable import DrawbridgeDecision

@Suite struct PseudonymTests {
    @Test func pairwisePerAudienceStablePerUser() {
        let key = PseudonymKey(Array(repeating: 7, count: 32))
        let crm = Pseudonymizer(key: key, audience: "crm", audienceNumber: 0)
        let wiki = Pseudonymizer(key: key, audience: "wiki", audienceNumber: 1)
        #expect(crm.subject("u_alice") == crm.subject("u_alice"))
        #expect(crm.subject("u_alice") != wiki.subject("u_alice"))
        #expect(crm.subject("u_alice") != crm.subject("u_bob"))
        #expect(crm.subject("u_alice").utf8.count == 43)
        // The separator keeps (audience, user) pairs apart: "a" + "b\0c" is not "a\0b" + "c".
        #expect(Pseudonymizer(key: key, audience: "a\u{0}b", audienceNumber: 0).subject("c")
                != Pseudonymizer(key: key, audience: "a", audienceNumber: 0).subject("b\u{0}c"))
        // Another key, other subjects.
        #expect(Pseudonymizer(key: PseudonymKey(Array(repeating: 8, count: 32)), audience: "crm", audienceNumber: 0).subject("u_alice") != crm.subject("u_alice"))
    }

    @Test func aMissingOrShortKeyIsRefusedWithTheCommand() throws {
        #expect(throws: AuthSetupError.self) { try PseudonymKey.load([:], neededBy: "routes[0].identity") }
        #expect(throws: AuthSetupError.self) { try PseudonymKey.load(["pseudonym-key": [1, 2, 3]], neededBy: "routes[0].identity") }
        #expect(try PseudonymKey.load([:], neededBy: nil) == nil) // no pseudonymous route: no key needed
        do { _ = try PseudonymKey.load([:], neededBy: "routes[0].identity") } catch {
            #expect("\(error)".contains("drawbridge secret set pseudonym-key --random"))
        }
    }
}
