import Foundation
import Glibc

/// A minimal, synchronous W3C WebDriver client for Debian's headless Chromium: a chromedriver
/// process on a free loopback port, one browser session with a throwaway profile. Tests only.
///
/// Use `WebDriver.withBrowser { browser in ... }`: the session is deleted and chromedriver (and
/// any Chromium left behind) is killed however the body ends.
final class WebDriver {
    /// A cookie as the WebDriver cookies endpoint reports it (HttpOnly ones included).
    struct Cookie {
        var name: String
        var value: String
        var path: String?
        var domain: String?
        var secure: Bool
        var httpOnly: Bool
        var sameSite: String?
    }

    struct Element {
        let id: String
    }

    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    let port = freePort()
    let driver: ChildProcess
    let profileDir: String
    private(set) var sessionId: String?

    /// Where Debian installs them (`apt-get install chromium chromium-driver`).
    static func locate(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/usr/lib/chromium"] {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `body` with a fresh browser session; always cleans up.
    static func withBrowser<T>(_ body: (WebDriver) throws -> T) throws -> T {
        let browser = try WebDriver()
        defer { browser.quit() }
        return try body(browser)
    }

    init() throws {
        guard let chromedriver = Self.locate("chromedriver"), let chromium = Self.locate("chromium") else {
            throw TestFailure("""
                chromium and chromedriver are needed for the browser tests and are not installed: \
                run `scripts/ensure-deps chromium chromium-driver` (scripts/test does) or `apt-get install chromium chromium-driver`
                """)
        }
        profileDir = FileManager.default.temporaryDirectory.appendingPathComponent("db-chromium-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: profileDir, withIntermediateDirectories: true)
        driver = try ChildProcess(chromedriver, ["--port=\(port)", "--allowed-ips=127.0.0.1"], name: "chromedriver")
        do {
            try waitUntilReady()
            let capabilities: [String: Any] = [
                "capabilities": [
                    "alwaysMatch": [
                        "browserName": "chrome",
                        "acceptInsecureCerts": true,
                        "pageLoadStrategy": "normal",
                        "goog:chromeOptions": [
                            "binary": chromium,
                            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                     "--user-data-dir=\(profileDir)", "--no-first-run", "--no-default-browser-check",
                                     "--disable-extensions", "--disable-background-networking", "--disable-sync",
                                     "--window-size=1024,768"],
                        ] as [String: Any],
                    ] as [String: Any],
                ] as [String: Any],
            ]
            let value = try command("POST", "/session", capabilities, timeout: 120)
            guard let id = (value as? [String: Any])?["sessionId"] as? String else {
                throw TestFailure("no sessionId in \(String(describing: value))")
            }
            sessionId = id
        } catch {
            quit()
            throw error
        }
    }

    private func waitUntilReady() throws {
        let end = Date().addingTimeInterval(30)
        var last = ""
        while Date() < end {
            do {
                if let status = try command("GET", "/status", nil, timeout: 5) as? [String: Any], status["ready"] as? Bool == true { return }
                last = "not ready"
            } catch { last = "\(error)" }
            if !driver.process.isRunning { throw TestFailure("chromedriver exited (\(driver.process.terminationStatus)): \(driver.stderr) \(driver.stdout)") }
            usleep(100_000)
        }
        throw TestFailure("chromedriver did not become ready (\(last)): \(driver.stderr) \(driver.stdout)")
    }

    /// One WebDriver command; returns the response's `value`, throws on a WebDriver error.
    @discardableResult
    func command(_ method: String, _ path: String, _ body: [String: Any]? = nil, timeout: Double = 60) throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? (method == "POST" ? Data("{}".utf8) : nil)
        let (status, data) = try Self.http(port: port, method: method, path: path, body: payload, timeout: timeout)
        let json = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
        let value = json?["value"]
        if status != 200 {
            let detail = (value as? [String: Any]).map { "\($0["error"] ?? "?"): \($0["message"] ?? "")" } ?? String(decoding: data, as: UTF8.self)
            throw TestFailure("WebDriver \(method) \(path) -> \(status): \(detail)")
        }
        return value is NSNull ? nil : value
    }

    /// One HTTP/1.1 exchange with chromedriver on a new loopback connection (Connection: close).
    /// A small socket client: swift-corelibs-foundation's URLSession fails on chromedriver's
    /// answers ("Failed writing header").
    static func http(port: UInt16, method: String, path: String, body: Data?, timeout: Double) throws -> (Int, Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout.rounded(.up)), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("WebDriver \(method) \(path): connect failed (errno \(errno))") }
        var request = Data("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: application/json\r\nConnection: close\r\n".utf8)
        if let body {
            request += Data("Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.count)\r\n".utf8)
        }
        request += Data("\r\n".utf8)
        if let body { request += body }
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if n <= 0 { throw TestFailure("WebDriver \(method) \(path): send failed (errno \(errno))") }
                sent += n
            }
        }
        // chromedriver answers "Connection:close" but keeps the socket open: read by Content-Length
        // (or to the end of the chunked body, or to EOF).
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var parsed: (headEnd: Int, status: Int, length: Int?, chunked: Bool)?
        while true {
            if parsed == nil, let headEnd = Self.index(of: [13, 10, 13, 10], in: response) {
                let lines = String(decoding: response[0..<headEnd], as: UTF8.self).lowercased().components(separatedBy: "\r\n")
                let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
                let length = lines.first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                let chunked = lines.contains { $0.hasPrefix("transfer-encoding:") && $0.contains("chunked") }
                parsed = (headEnd, status, length, chunked)
            }
            if let p = parsed {
                let bodyCount = response.count - p.headEnd - 4
                if let length = p.length, bodyCount >= length { break }
                if p.chunked, Self.index(of: Array("\r\n0\r\n\r\n".utf8), in: Array(response[(p.headEnd + 2)...])) != nil { break }
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestFailure("WebDriver \(method) \(path): no answer in \(timeout)s (errno \(errno))")
            }
            response += buffer[0..<n]
        }
        guard let p = parsed else {
            throw TestFailure("WebDriver \(method) \(path): malformed response \(String(decoding: response, as: UTF8.self))")
        }
        let status = p.status
        var payload = Array(response[(p.headEnd + 4)...])
        if let length = p.length { payload = Array(payload.prefix(length)) }
        if p.chunked {
            var decoded = [UInt8](), i = 0
            while let lineEnd = Self.index(of: [13, 10], in: Array(payload[i...])).map({ $0 + i }),
                  let size = Int(String(decoding: payload[i..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init)?
                                    .trimmingCharacters(in: .whitespaces) ?? "", radix: 16),
                  size > 0, lineEnd + 2 + size <= payload.count {
                decoded += payload[(lineEnd + 2)..<(lineEnd + 2 + size)]
                i = lineEnd + 2 + size + 2
                if i >= payload.count { break }
            }
            payload = decoded
        }
        return (status, Data(payload))
    }

    private static func index(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { i in haystack[i..<(i + needle.count)].elementsEqual(needle) }
    }

    private var session: String { "/session/\(sessionId ?? "none")" }

    // MARK: Navigation and pages

    func navigate(_ url: String) throws { try command("POST", "\(session)/url", ["url": url], timeout: 120) }

    var currentURL: String { get throws { (try command("GET", "\(session)/url") as? String) ?? "" } }

    var source: String { get throws { (try command("GET", "\(session)/source") as? String) ?? "" } }

    var title: String { get throws { (try command("GET", "\(session)/title") as? String) ?? "" } }

    /// The rendered text of the page's body.
    var bodyText: String { get throws { try text(try find("body")) } }

    // MARK: Elements

    /// The first element matching `css`, or nil.
    func findAll(_ css: String) throws -> [Element] {
        let list = try command("POST", "\(session)/elements", ["using": "css selector", "value": css]) as? [[String: Any]] ?? []
        return list.compactMap { ($0[Self.elementKey] as? String).map(Element.init) }
    }

    func find(_ css: String) throws -> Element {
        guard let e = try findAll(css).first else { throw TestFailure("no element '\(css)' on \((try? currentURL) ?? "?"): \((try? source) ?? "")") }
        return e
    }

    /// Polls until an element matching `css` is on the page (a navigation may still be under way).
    @discardableResult
    func waitFor(_ css: String, timeout: Double = 60) throws -> Element {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if let e = try? findAll(css).first { return e }
            if Date() >= end { throw TestFailure("timed out waiting for '\(css)' on \((try? currentURL) ?? "?"): \((try? source) ?? "")") }
            usleep(100_000)
        }
    }

    /// Polls until `condition` holds.
    func waitUntil(_ what: String, timeout: Double = 60, _ condition: () throws -> Bool) throws {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if (try? condition()) == true { return }
            if Date() >= end { throw TestFailure("timed out waiting for \(what) on \((try? currentURL) ?? "?"): \((try? source) ?? "")") }
            usleep(100_000)
        }
    }

    func sendKeys(_ e: Element, _ text: String) throws {
        try command("POST", "\(session)/element/\(e.id)/value", ["text": text])
    }

    func click(_ e: Element) throws { try command("POST", "\(session)/element/\(e.id)/click", timeout: 120) }

    func text(_ e: Element) throws -> String { (try command("GET", "\(session)/element/\(e.id)/text") as? String) ?? "" }

    func attribute(_ e: Element, _ name: String) throws -> String? {
        try command("GET", "\(session)/element/\(e.id)/attribute/\(name)") as? String
    }

    /// The element's current `value` property (what was typed, unlike the attribute).
    func value(_ e: Element) throws -> String? {
        try command("GET", "\(session)/element/\(e.id)/property/value") as? String
    }

    // MARK: Cookies

    /// The cookies the browser would send to the current page, HttpOnly ones included.
    var cookies: [Cookie] {
        get throws {
            let list = try command("GET", "\(session)/cookie") as? [[String: Any]] ?? []
            return list.map {
                Cookie(name: $0["name"] as? String ?? "", value: $0["value"] as? String ?? "", path: $0["path"] as? String,
                       domain: $0["domain"] as? String, secure: $0["secure"] as? Bool ?? false,
                       httpOnly: $0["httpOnly"] as? Bool ?? false, sameSite: $0["sameSite"] as? String)
            }
        }
    }

    func cookie(_ name: String) throws -> Cookie? { try cookies.first { $0.name == name } }

    /// Forgets every cookie of the current page's site (another person at the same browser).
    func deleteCookies() throws { try command("DELETE", "\(session)/cookie") }

    // MARK: Diagnostics

    /// A PNG of the viewport, written to `path` (to look at when a test fails).
    func screenshot(to path: String) throws {
        guard let b64 = try command("GET", "\(session)/screenshot") as? String, let data = Data(base64Encoded: b64) else {
            throw TestFailure("no screenshot")
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    // MARK: Teardown

    /// Deletes the session (chromedriver closes Chromium), stops chromedriver, kills any Chromium
    /// process still running on this profile, removes the profile. Safe to call twice.
    func quit() {
        if sessionId != nil {
            _ = try? command("DELETE", session, timeout: 30)
            sessionId = nil
        }
        if driver.process.isRunning {
            driver.signal(SIGTERM)
            if driver.waitExit(timeout: 5) == nil { driver.stop() }
        }
        driver.stop()
        killLeftoverBrowsers()
        try? FileManager.default.removeItem(atPath: profileDir)
    }

    /// Chromium processes started for this session only: found by the profile directory, which
    /// is unique to this WebDriver, and killed by pid.
    private func killLeftoverBrowsers() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = Int32(entry), pid != getpid(),
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            if String(decoding: cmdline, as: UTF8.self).contains("--user-data-dir=\(profileDir)") { kill(pid, SIGKILL) }
        }
    }

    deinit { quit() }
}
