import DrawbridgeIdentity
import Testing
@testable import DrawbridgeDecision

/// The shared sign-out list and its publication, without sockets or files.
@Suite struct RevocationSetTests {
    static func claims(_ id: SessionID, user: String = "u1", issuedAt: UInt64 = 100) -> SessionClaims {
        SessionClaims(userId: user, orgId: "o", authMode: .password, mfa: false, issuedAt: issuedAt, expiresAt: issuedAt + 1000,
                      lastSeen: issuedAt, epoch: 0, sessionId: id)
    }

    @Test func sessionsAndUsersAreRefusedAcrossMerges() {
        var set = RevocationSet.empty
        var ids: [SessionID] = []
        for i in 0..<500 {
            let id = SessionID.random()
            ids.append(id)
            set = set.adding(.session(id, expiresAt: 10_000 + UInt64(i)), at: 50)
        }
        set = set.adding(.allOfUser("u-all", issuedAtOrBefore: 200), at: 60)
        #expect(set.count == 501)
        #expect(set.small.count < 70)   // merged along the way: a sign-out does not copy the whole list
        for id in ids { #expect(set.isRevoked(Self.claims(id))) }
        #expect(!set.isRevoked(Self.claims(.random())))
        #expect(set.isRevoked(Self.claims(.random(), user: "u-all", issuedAt: 200)))
        #expect(!set.isRevoked(Self.claims(.random(), user: "u-all", issuedAt: 201)))   // a later sign-in stands
        #expect(set.earliestEnd == 10_000)
        // Dropping by end: the sessions that ended, not the user entry (a year of validity).
        let (pruned, dropped) = set.dropping(endingBy: 10_249)
        #expect(dropped == 250 && pruned.count == 251 && pruned.generation > set.generation)
        #expect(!pruned.isRevoked(Self.claims(ids[0])) && pruned.isRevoked(Self.claims(ids[499])))
        #expect(pruned.entries().count == 251)
    }

    @Test func theSameSessionTwiceKeepsTheLaterExpiry() {
        let id = SessionID.random()
        let set = RevocationSet.empty.adding(.session(id, expiresAt: 500), at: 1).adding(.session(id, expiresAt: 300), at: 2)
        #expect(set.count == 1)
        #expect(set.dropping(endingBy: 400).set.isRevoked(Self.claims(id)))
    }

    /// Published sets are released once no worker can load them any more, never before.
    @Test func publicationReleasesOnlyWhatNoReaderCanStillLoad() {
        weak var first: RevocationSet?
        weak var second: RevocationSet?
        var published: PublishedRevocations!
        do {
            let a = RevocationSet.empty.adding(.session(.random(), expiresAt: 9), at: 1)
            first = a
            published = PublishedRevocations(a, readers: 2)
        }
        // Both readers hold generation 1 (as at start).
        for r in 0..<2 { published.announce(reader: r, generation: first!.generation) }
        do {
            let b = published.latest.adding(.session(.random(), expiresAt: 9), at: 2)
            second = b
            published.publish(b)
        }
        #expect(first != nil)   // readers still announce the old generation
        // Reader 0 adopts the new set; reader 1 has not looked yet: the old one must stay.
        let held0 = published.adopt(published.currentAddress())
        published.announce(reader: 0, generation: held0.generation)
        published.publish(published.latest.adding(.session(.random(), expiresAt: 9), at: 3))
        #expect(first != nil)
        let held1 = published.adopt(published.currentAddress())
        published.announce(reader: 1, generation: held1.generation)
        published.retire(reader: 0)
        published.publish(published.latest.adding(.session(.random(), expiresAt: 9), at: 4))
        #expect(first == nil)    // released: nobody can load it
        #expect(second != nil)   // reader 0 still holds it (its own reference)
        _ = held0
    }
}
