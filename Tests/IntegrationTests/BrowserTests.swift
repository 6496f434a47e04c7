import Foundation
import Testing

/// A real browser (Debian's headless Chromium, driven over WebDriver) signs in through the
/// identifier-first password form and reaches a protected upstream page. Needs the `chromium`
/// and `chromium-driver` packages (scripts/test installs them); without them these tests fail.
@Suite(.serialized) struct BrowserTests {
    static let password = "correct horse battery staple"
    static let protectedPath = "/some/protected/path?q=1&r=two"

    /// Types the email and, on the next page, the password, as a person would.
    static func signIn(_ browser: WebDriver, email: String, password: String) throws {
        try browser.sendKeys(try browser.waitFor("#email"), email)
        try browser.click(try browser.find("#next"))
        try browser.sendKeys(try browser.waitFor("#password"), password)
        try browser.click(try browser.find("#signin"))
    }

    /// The whoami echo, as Chromium shows a JSON response.
    static func echo(in text: String) throws -> Echo {
        guard let start = text.firstIndex(of: "{"), let end = text.lastIndex(of: "}") else {
            throw TestFailure("no JSON on the page: \(text)")
        }
        return try JSONDecoder().decode(Echo.self, from: Data(text[start...end].utf8))
    }

    @Test func passwordSignInInChromiumReachesTheProtectedPage() throws {
        let w = try AuthTests.World()
        try WebDriver.withBrowser { browser in
            try browser.navigate(w.gw.base + Self.protectedPath)
            // Sent to the sign-in page, with where it was going carried along.
            try browser.waitFor("#email")
            let signInURL = try #require(URL(string: try browser.currentURL))
            #expect(signInURL.path == "/.drawbridge/login")
            #expect(signInURL.query?.hasPrefix("rd=") == true)
            #expect(try browser.cookie("__Host-drawbridge") == nil)

            try browser.sendKeys(try browser.find("#email"), "alice@acme.test")
            try browser.click(try browser.find("#next"))
            let field = try browser.waitFor("#password")
            #expect(try browser.attribute(field, "type") == "password")
            #expect(try browser.bodyText.contains("alice@acme.test"))
            try browser.sendKeys(field, Self.password)
            try browser.click(try browser.find("#signin"))

            // Back where it was going, on the upstream's page.
            try browser.waitUntil("the upstream page") { try browser.currentURL.hasPrefix(w.gw.base + "/some/") }
            let final = try #require(URLComponents(string: try browser.currentURL))
            #expect(final.path == "/some/protected/path")
            #expect(final.query == "q=1&r=two")
            var text = ""
            try browser.waitUntil("the echo") { text = try browser.bodyText; return text.contains("x-drawbridge-user") || text.contains("X-Drawbridge-User") }
            let echo = try Self.echo(in: text)
            #expect(echo.method == "GET")
            #expect(echo.target == Self.protectedPath)
            #expect(echo.header("x-drawbridge-user") == "u_alice")
            #expect(echo.header("x-drawbridge-email") == "alice@acme.test")
            #expect(echo.header("x-drawbridge-auth-mode") == "password")
            // The upstream never sees the session token.
            #expect(!(echo.header("cookie") ?? "").contains("__Host-drawbridge="))

            // The session cookie as the browser keeps it.
            let session = try #require(try browser.cookie("__Host-drawbridge"))
            #expect(session.httpOnly)
            #expect(session.secure)
            #expect(session.path == "/")
            #expect(session.sameSite == "Lax")
            #expect(!session.value.isEmpty)

            // The password was never on a page, in a URL, or sent upstream.
            #expect(!(try browser.source).contains(Self.password))
            #expect(!(try browser.currentURL).contains("horse"))
            #expect(!text.contains(Self.password))
            #expect(!w.audit.contains(Self.password))
            #expect(w.audit.contains("\"event\":\"login_success\""))

            // Another protected page in the same browser needs no new sign-in.
            try browser.navigate(w.gw.base + "/elsewhere")
            var again = ""
            try browser.waitUntil("the second upstream page") { again = try browser.bodyText; return again.contains("/elsewhere") }
            #expect(try Self.echo(in: again).header("x-drawbridge-user") == "u_alice")
        }
    }

    @Test func wrongPasswordInChromiumShowsAnErrorAndSetsNoSession() throws {
        let w = try AuthTests.World()
        try WebDriver.withBrowser { browser in
            try browser.navigate(w.gw.base + Self.protectedPath)
            try Self.signIn(browser, email: "alice@acme.test", password: "not the password")
            try browser.waitUntil("the error") { try browser.findAll(".error").count == 1 }
            #expect(try browser.text(try browser.find(".error")).contains("Wrong email or password"))
            // Back on the password step with the email kept and the password field empty;
            // nothing signed in, nothing reached the upstream.
            #expect(try browser.text(try browser.find("#account")) == "alice@acme.test")
            #expect(try browser.value(try browser.find("#password")) == "")
            #expect(URL(string: try browser.currentURL)?.path.hasPrefix("/.drawbridge/login") == true)
            #expect(try browser.cookie("__Host-drawbridge") == nil)
            #expect(!(try browser.source).contains("not the password"))
            #expect(w.upstream.requestCount == 0)
            #expect(w.audit.contains("wrong password"))
            // The right password on the same form, without typing the email again: in, and back where it was going.
            try browser.sendKeys(try browser.find("#password"), Self.password)
            try browser.click(try browser.find("#signin"))
            try browser.waitUntil("the upstream page") { try browser.currentURL.hasPrefix(w.gw.base + "/some/") }
            #expect(try browser.cookie("__Host-drawbridge") != nil)
        }
    }
}
