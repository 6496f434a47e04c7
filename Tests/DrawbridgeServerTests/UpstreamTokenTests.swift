import DrawbridgeConfig
import DrawbridgeOIDC
import Foundation
import Testing
@testable import DrawbridgeServer

@Suite struct UpstreamTokenTests {
    static let s: UInt64 = 1_000_000_000

    @Test(arguments: [
        // lifetime, refresh after, usable for (seconds)
        (3600 as UInt64, 3300 as UInt64, 3590 as UInt64),   // 5 minutes ahead; sent until 10 s before expiry
        (600, 450, 590),                                     // 3/4 of the lifetime
        (20, 15, 18),                                        // a tenth of the lifetime as margin
    ])
    func refreshAheadOfExpiry(lifetime: UInt64, refresh: UInt64, usable: UInt64) {
        let t = UpstreamTokenFetcher.schedule(obtainedAt: 7 * Self.s, lifetimeNs: lifetime * Self.s)
        #expect(t.refreshAt == 7 * Self.s + refresh * Self.s)
        #expect(t.usableUntil == 7 * Self.s + usable * Self.s)
        #expect(t.refreshAt < t.usableUntil)
    }

    @Test func backoffDoublesUpToAMinute() {
        #expect((1...9).map { UpstreamTokenFetcher.backoffSeconds(failures: $0) } == [1, 2, 4, 8, 16, 32, 60, 60, 60])
    }

    final class Calls: @unchecked Sendable {
        let lock = NSLock()
        var n = 0
        var fail = true
        var logs: [String] = []
    }

    static func client() -> UpstreamTokenClient {
        UpstreamTokenClient(config: UpstreamOAuth2Config(tokenEndpoint: "https://idp.example/token", clientId: "gw", clientSecret: "vendor"),
                            secret: "the-secret")
    }

    /// A failing endpoint: published as "no token, retry at", logged without the secret; once it
    /// answers, the token is published (the fetch is the fetcher's: readers never call it).
    @Test func failuresArePublishedWithARetryTimeThenTheToken() throws {
        let calls = Calls()
        let fetcher = UpstreamTokenFetcher(readers: 1, log: { line in calls.lock.lock(); calls.logs.append(line); calls.lock.unlock() },
                                           fetch: { (c: ClientCredentials.Client) throws(OIDCError) -> ClientCredentials.Token in
            calls.lock.lock(); defer { calls.lock.unlock() }
            calls.n += 1
            if calls.fail { throw .httpStatus(context: "token endpoint", status: 503, oauthError: nil) }
            return ClientCredentials.Token(accessToken: "tok-\(calls.n)", expiresIn: 3600)
        })
        let c = Self.client()
        // As a worker reads it (reader 0 never announces, so no board is reclaimed under the test).
        func board() -> TokenBoard { fetcher.published.adopt(fetcher.published.currentAddress()) }
        fetcher.start()
        defer { fetcher.stop() }
        fetcher.follow([c])
        let failed = try #require(board().entries[c.id])
        #expect(failed.line == nil && failed.retryAt > 0)
        calls.lock.lock()
        #expect(calls.n == 1 && calls.logs.count == 1)
        #expect(calls.logs[0].contains("client \"gw\" at https://idp.example/token: token endpoint: HTTP 503; retrying in 1s"))
        #expect(!calls.logs[0].contains("the-secret"))
        calls.fail = false
        calls.lock.unlock()
        let end = Date().addingTimeInterval(30)
        while board().entries[c.id]?.line == nil && Date() < end { usleep(50_000) }
        let line = try #require(board().entries[c.id]?.line)
        #expect(String(decoding: line, as: UTF8.self) == "Authorization: Bearer tok-2\r\n")
    }
}
