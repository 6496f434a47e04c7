import DrawbridgeCrypto
import Foundation
import Glibc
import Testing

@Suite(.serialized) struct LifecycleTests {
    @Test func sighupWithBadConfigKeepsServing() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        #expect(try gw.get("/").status == 200)
        try gw.writeRaw(gw.configText().replacingOccurrences(of: "routes:", with: "routs:"))
        try gw.reload(expect: "reload rejected")
        #expect(gw.process.stderr.contains("drawbridge.json5"))
        #expect(try gw.get("/").status == 200)
        // A route to an unknown upstream is rejected whole: nothing is half-applied.
        try gw.write(routesJSON: "[ { pathPrefix: \"/\", upstream: \"app\", public: true }, { pathPrefix: \"/x\", upstream: \"nope\", public: true } ]")
        try gw.reload(expect: "reload rejected")
        #expect(try gw.get("/x").status == 200)
    }

    @Test func sighupAppliesNewRoute() throws {
        let a = try Upstream(name: "a"), b = try Upstream(name: "b")
        let gw = try GatewayFixture(upstreams: [a, b],
            upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(a.port)\"] } }")
        let c = try gw.client() // a keep-alive connection opened before the reload
        try c.send("GET /new/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try Echo.from(try c.readResponse()).name == "a")
        try gw.write(upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(a.port)\"] }, b: { servers: [\"127.0.0.1:\(b.port)\"] } }",
                     routesJSON: "[ { pathPrefix: \"/\", upstream: \"app\", public: true }, { pathPrefix: \"/new\", upstream: \"b\", public: true } ]")
        try gw.reload(expect: "reloaded")
        #expect(try Echo.from(try gw.get("/new/x")).name == "b")
        // The old connection was not dropped, and its next request uses the new snapshot.
        try c.send("GET /new/y HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try Echo.from(try c.readResponse()).name == "b")
    }

    @Test func reloadDuringAnInFlightRequestLetsItFinish() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        try c.send("GET /slow/800 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        usleep(200_000)
        // The new snapshot replaces the upstream pools while the old pool still has a busy connection.
        try gw.write(upstreamsJSON: "{ app: { servers: [\"127.0.0.1:\(up.port)\"], maxIdleConnections: 4 } }")
        try gw.reload(expect: "reloaded")
        let r = try c.readResponse()
        #expect(r.status == 200)
        try c.send("GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try Echo.from(try c.readResponse()).target == "/after")
        #expect(try gw.get("/").status == 200)
    }

    @Test func sigtermFinishesInFlightRequestsAndExitsZero() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        try c.send("GET /slow/1000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        usleep(200_000)
        gw.process.signal(SIGTERM)
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.header("Connection") == "close")
        #expect(gw.process.waitExit(timeout: 10) == 0)
    }

    @Test func checkConfigNamesFileFieldAndProblem() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let good = try run(Binaries.drawbridge, ["check-config", "--config", gw.dir])
        #expect(good.status == 0, "\(good.err)")
        try gw.writeRaw(gw.configText(extra: "timeouts: { clientHeaderSecond: 5 },"))
        let bad = try run(Binaries.drawbridge, ["check-config", "--config", gw.dir])
        #expect(bad.status == 1)
        #expect(bad.err.contains("drawbridge.json5") && bad.err.contains("timeouts.clientHeaderSecond"))
        try gw.write(routesJSON: "[ { pathPrefix: \"/\", upstream: \"ghost\", public: true } ]")
        let bad2 = try run(Binaries.drawbridge, ["check-config", "--config", gw.dir])
        #expect(bad2.status == 1 && bad2.err.contains("routes[0].upstream") && bad2.err.contains("ghost"))
    }
}

@Suite struct CLITests {
    @Test(arguments: [[], ["--pbkdf2"]])
    func hashPasswordReadsStdinAndPrintsAVerifiableHash(_ flags: [String]) throws {
        let r = try run(Binaries.drawbridge, ["hash-password"] + flags, stdin: Data("correct horse\n".utf8))
        #expect(r.status == 0, "\(r.err)")
        let hash = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hash.hasPrefix(flags.isEmpty ? "$scrypt$" : "$pbkdf2-sha256$"))
        #expect(PasswordHash.verify("correct horse", against: hash))
        #expect(!PasswordHash.verify("correct horse ", against: hash))
        #expect(!r.out.contains("correct horse"))
    }

    @Test func hashPasswordRefusesEmptyInputAndUnknownFlags() throws {
        #expect(try run(Binaries.drawbridge, ["hash-password"], stdin: Data()).status == 1)
        let bad = try run(Binaries.drawbridge, ["hash-password", "--md5"], stdin: Data("x\n".utf8))
        #expect(bad.status == 2 && bad.err.contains("--md5"))
    }

    @Test func unknownCommandIsNamed() throws {
        let r = try run(Binaries.drawbridge, ["frobnicate"])
        #expect(r.status == 2 && r.err.contains("frobnicate"))
    }
}
