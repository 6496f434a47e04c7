import DrawbridgeConfig
import Foundation
import Testing
@testable import DrawbridgeServer

@Suite struct PassiveHealthTests {
    static let s = UInt64(1_000_000_000)

    private func health(_ servers: Int, maxFails: Int = 1, failTimeout: Double = 10) -> UpstreamHealth {
        UpstreamHealth.of(upstream: "t-\(UUID().uuidString)", servers: (0..<servers).map { "10.0.0.\($0):80" },
                          config: UpstreamHealthConfig(maxFails: maxFails, failTimeoutSeconds: failTimeout))
    }

    @Test func oneFailureMarksAServerDownForFailTimeout() {
        let h = health(2)
        h.failed(0, now: 100 * Self.s)
        #expect(!h.isUp(0, now: 100 * Self.s))
        #expect(!h.isUp(0, now: 110 * Self.s - 1))
        #expect(h.isUp(0, now: 110 * Self.s))
        #expect(h.isUp(1, now: 100 * Self.s))
    }

    @Test func maxFailsCountsFailuresWithinTheWindowAndASuccessStartsOver() {
        let h = health(2, maxFails: 3)
        h.failed(0, now: 100 * Self.s); h.failed(0, now: 101 * Self.s)
        #expect(h.isUp(0, now: 101 * Self.s))
        h.succeeded(0)
        h.failed(0, now: 102 * Self.s); h.failed(0, now: 103 * Self.s)
        #expect(h.isUp(0, now: 103 * Self.s))
        // Older than failTimeout: no longer counted.
        h.failed(0, now: 120 * Self.s)
        #expect(h.isUp(0, now: 120 * Self.s))
        h.failed(0, now: 121 * Self.s); h.failed(0, now: 122 * Self.s)
        #expect(!h.isUp(0, now: 122 * Self.s))
    }

    @Test(arguments: [(200, true), (404, true), (499, true), (500, false), (502, false), (503, false)])
    func a5xxResponseIsAFailure(_ status: Int, _ up: Bool) {
        let h = health(2)
        h.observed(status: status, server: 1, now: 5 * Self.s)
        #expect(h.isUp(1, now: 5 * Self.s) == up)
    }

    /// As in nginx: one server, or maxFails 0, is never marked down passively.
    @Test func aSingleServerOrMaxFailsZeroIsNeverEjectedPassively() {
        let one = health(1)
        one.failed(0, now: Self.s)
        #expect(one.isUp(0, now: Self.s))
        let off = health(2, maxFails: 0)
        off.failed(0, now: Self.s)
        #expect(off.isUp(0, now: Self.s))
        // The active check's verdict applies whatever the passive rules.
        one.setCheckedDown(0, true)
        #expect(!one.isUp(0, now: Self.s))
        #expect(!one.anyUp(now: Self.s))
        one.setCheckedDown(0, false)
        #expect(one.anyUp(now: Self.s))
    }

    @Test func theSameServersAndRulesKeepTheirStateAcrossReloads() {
        let config = UpstreamHealthConfig()
        let a = UpstreamHealth.of(upstream: "same", servers: ["a:1", "b:1"], config: config)
        #expect(UpstreamHealth.of(upstream: "same", servers: ["a:1", "b:1"], config: config) === a)
        #expect(UpstreamHealth.of(upstream: "same", servers: ["a:1"], config: config) !== a)
        #expect(UpstreamHealth.of(upstream: "same", servers: ["a:1", "b:1"], config: UpstreamHealthConfig(maxFails: 2)) !== a)
    }
}

@Suite struct MetricsPiecesTests {
    /// A duration lands in the first bucket whose bound it does not exceed (`le`: less or equal).
    @Test(arguments: [(0, 0), (1_000_000, 0), (1_000_001, 1), (2_500_000, 1), (5_000_000, 2), (7_000_000, 3),
                      (50_000_000, 5), (100_000_000, 6), (100_000_001, 7), (1_000_000_000, 9),
                      (10_000_000_000, 12), (10_000_000_001, 13)])
    func bucket(_ ns: UInt64, _ index: Int) {
        #expect(Layout.bucket(ns) == index)
        if index < Layout.bounds.count { #expect(Double(ns) / 1e9 <= Double(Layout.bounds[index])!) }
    }

    @Test func theLayoutOffsetsMatchTheLabelLists() {
        #expect(Layout.requestCounters == Layout.authModes.count * Layout.methodClasses.count * Layout.statusClasses.count)
        #expect(Layout.buckets == Layout.bounds.count + 1 && Layout.histogram == Layout.buckets + 1)
        #expect(Layout.routeStride == Layout.requestCounters + Layout.histogram && Layout.routeHistogram == Layout.requestCounters)
        #expect(Layout.upstreamStride == Layout.histogram + 2 && Layout.upstreamOpened == Layout.histogram)
        #expect(Layout.upstreams == Layout.maxRoutes * Layout.routeStride)
        #expect(Layout.tls == Layout.upstreams + Layout.maxUpstreams * Layout.upstreamStride)
        #expect(Layout.decisions == Layout.tls + Layout.tlsVersions.count * 2)
        #expect(Layout.clients == Layout.decisions + DecisionReason.allCases.count && Layout.total == Layout.clients + 1)
    }

    @Test func labelValuesAreEscaped() {
        #expect(PrometheusText.escape(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
        var t = PrometheusText()
        t.family("x_total", "counter", "X.")
        t.sample("x_total", [("route", "*/a\"")], 3)
        #expect(t.text == "# HELP x_total X.\n# TYPE x_total counter\nx_total{route=\"*/a\\\"\"} 3\n")
    }

    @Test func decisionReasonsAreSnakeCase() {
        #expect(DecisionReason.missingPermission.label == "missing_permission")
        #expect(DecisionReason.invalidAPIKey.label == "invalid_api_key")
        #expect(DecisionReason.apiKeyHasNoGroups.label == "api_key_has_no_groups")
        #expect(DecisionReason.allowed.outcome == "allow")
        #expect(DecisionReason.mfaRequired.outcome == "deny")
        #expect(DecisionReason.invalidSession.outcome == "unauthenticated")
    }

    @Test(arguments: [("GET", "/nope", 404), ("GET", "/metricsx", 404), ("POST", "/metrics", 405), ("DELETE", "/readyz", 405),
                      ("GET", "/healthz", 200), ("HEAD", "/healthz?x=1", 200), ("GET", "/metrics", 200)])
    func adminEndpoints(_ method: String, _ target: String, _ status: Int) {
        #expect(AdminListener.respond(method: method, target: target).0 == status)
    }
}
