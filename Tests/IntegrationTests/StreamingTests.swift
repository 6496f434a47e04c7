import Foundation
import Testing

@Suite(.serialized) struct StreamingTests {
    /// Peak resident memory (VmHWM) in KiB.
    static func peakKiB(_ pid: Int32) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }

    @Test func oneGiBUploadAndDownloadInBoundedMemory() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        // Warm up so that buffers and TLS state exist before measuring.
        let warm = try run("/bin/bash", ["-c", "head -c 1048576 /dev/zero | curl -sS --http1.1 --cacert \(TestCertificate.cert) -T - \(gw.base)/upload"])
        #expect(warm.out.contains("1048576"))
        // Reset the peak (VmHWM) so start-up's transient allocations do not count.
        try? "5".write(toFile: "/proc/\(gw.process.pid)/clear_refs", atomically: false, encoding: .utf8)
        let base = gw.process.rssKiB
        let gib = 1 << 30
        let upload = try run("/bin/bash", ["-c", "head -c \(gib) /dev/zero | curl -sS --http1.1 --cacert \(TestCertificate.cert) -T - \(gw.base)/upload"], timeout: 300)
        #expect(upload.status == 0, "\(upload.err)")
        #expect(upload.out.contains("\(gib)"), "\(upload.out)")
        let down = try run("/usr/bin/curl", ["-sS", "--http1.1", "--cacert", TestCertificate.cert, "-o", "/dev/null", "-w", "%{size_download}",
                                             gw.base + "/bytes/\(gib)"], timeout: 300)
        #expect(down.out == "\(gib)")
        let peak = Self.peakKiB(gw.process.pid)
        // 1 GiB each way through the gateway: its peak RSS grows by a few MiB at most.
        #expect(peak - base < 8 * 1024, "RSS grew from \(base) KiB to a peak of \(peak) KiB")
    }

    @Test func contentLengthUploadArrivesIntact() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        var g = SystemRandomNumberGenerator()
        let body = (0..<(8 << 20)).map { _ in UInt8.random(in: 0...255, using: &g) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("db-body-\(getpid())").path
        FileManager.default.createFile(atPath: file, contents: Data(body))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try gw.curl(["--data-binary", "@\(file)", "-H", "Content-Type: application/octet-stream", gw.base + "/upload"])
        #expect(r.out.contains("\(body.count)"))
        #expect(r.out.contains(String(fnv1a(body))))
    }

    @Test func websocketEchoThroughTheTunnel() throws {
        let up = try Upstream()
        let gw = try GatewayFixture(upstreams: [up])
        let c = try gw.client()
        try c.send("GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 101)
        #expect(r.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(r.header("Strict-Transport-Security") != nil)
        for message in ["hello", String(repeating: "x", count: 300)] {
            let payload = Array(message.utf8)
            let mask: [UInt8] = [1, 2, 3, 4]
            var frame: [UInt8] = [0x81]
            if payload.count < 126 { frame.append(0x80 | UInt8(payload.count)) }
            else { frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] }
            frame += mask
            frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
            try c.send(frame)
            let headerLen = payload.count < 126 ? 2 : 4
            let echo = try c.readExactly(headerLen + payload.count)
            #expect(echo[0] == 0x81)
            #expect(Array(echo[headerLen...]) == payload)
        }
    }
}
