import Foundation
import Testing

/// The pages that help, in headless Chromium over WebDriver (as BrowserTests): the 403 page
/// (who is signed in, the request id, sign-out and "sign in as someone else" from it), a wrong
/// password that keeps the email, a disabled sign-in mode named in words, and an error page.
/// The same gateway as GatewayPagesTests. Needs `chromium` and `chromium-driver` (scripts/test).
@Suite(.serialized) struct BrowserPagesTests {
    static let password = "correct horse battery staple"

    /// Signs in from the current sign-in page as a person would.
    static func signIn(_ browser: WebDriver, email: String) throws {
        try BrowserTests.signIn(browser, email: email, password: Self.password)
    }

    @Test func forbiddenPageShowsWhoAndTheRequestIdAndSignsOutOrSwitches() throws {
        let w = try GatewayPagesTests.World()
        try WebDriver.withBrowser { browser in
            // bob (a member) signs in on the way to an admin page and is refused.
            try browser.navigate(w.gw.base + "/admin/settings?tab=1")
            try Self.signIn(browser, email: "bob@beta.test")
            let who = try browser.waitFor("#signed-in-as")
            #expect(try browser.text(who) == "bob@beta.test")
            #expect(try browser.title == "Access denied")
            let id = try browser.text(try browser.find("#request-id"))
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
            #expect(w.gw.accessLog.contains(id)) // the id the operator finds in the access log
            #expect(w.upstream.requestCount == 0)

            // "Sign in as someone else": signed out, on the sign-in page; alice signs in and lands on the refused page.
            try browser.click(try browser.find("#switch-account"))
            try browser.waitFor("#email")
            #expect(try browser.cookie("__Host-drawbridge") == nil)
            #expect(URL(string: try browser.currentURL)?.path == "/.drawbridge/login")
            try Self.signIn(browser, email: "alice@acme.test")
            try browser.waitUntil("the admin page") { try browser.currentURL.hasPrefix(w.gw.base + "/admin/") }
            #expect(URLComponents(string: try browser.currentURL)?.path == "/admin/settings")
            var text = ""
            try browser.waitUntil("the echo") { text = try browser.bodyText; return text.contains("u_alice") }
            #expect(try BrowserTests.echo(in: text).header("x-drawbridge-user") == "u_alice")

            // Sign out from a 403 page: bob again, refused, then "Sign out".
            try browser.deleteCookies()
            try browser.navigate(w.gw.base + "/admin/x")
            try Self.signIn(browser, email: "bob@beta.test")
            try browser.waitFor("#signed-in-as")
            let session = try #require(try browser.cookie("__Host-drawbridge")).value
            try browser.click(try browser.find("#logout"))
            try browser.waitUntil("signed out") { try browser.bodyText.contains("You are signed out") }
            #expect(try browser.cookie("__Host-drawbridge") == nil)
            // The old session is refused even if replayed.
            let replay = try w.gw.get("/app", headers: "Accept: application/json\r\nCookie: __Host-drawbridge=\(session)\r\n")
            #expect(replay.status == 401)
        }
    }

    @Test func wrongPasswordKeepsTheEmailAndTheAddressIsEscaped() throws {
        let w = try GatewayPagesTests.World()
        try WebDriver.withBrowser { browser in
            try browser.navigate(w.gw.base + "/app/page")
            try BrowserTests.signIn(browser, email: "alice@acme.test", password: "not the password")
            try browser.waitUntil("the error") { try browser.findAll(".error").count == 1 }
            #expect(try browser.text(try browser.find(".error")) == "Wrong email or password.")
            #expect(try browser.text(try browser.find("#account")) == "alice@acme.test")
            #expect(try browser.value(try browser.find("#password")) == "")
            #expect(!(try browser.source).contains("not the password"))
            // Only the password again.
            try browser.sendKeys(try browser.find("#password"), Self.password)
            try browser.click(try browser.find("#signin"))
            try browser.waitUntil("the app page") { try browser.currentURL.hasPrefix(w.gw.base + "/app/page") }

            // What the email field lets through stays text: `&lt` would show as "<" if it were not escaped.
            try browser.deleteCookies()
            try browser.navigate(w.gw.base + "/.drawbridge/login")
            try browser.sendKeys(try browser.waitFor("#email"), "o'neil&lt&quot@acme.test")
            try browser.click(try browser.find("#next"))
            try browser.sendKeys(try browser.waitFor("#password"), "wrong")
            try browser.click(try browser.find("#signin"))
            try browser.waitUntil("the error") { try browser.findAll(".error").count == 1 }
            #expect(try browser.text(try browser.find("#account")) == "o'neil&lt&quot@acme.test")
        }
    }

    @Test func aDisabledModeIsNamedInWords() throws {
        let w = try GatewayPagesTests.World()
        try WebDriver.withBrowser { browser in
            // cat's org turned passwords off; the right password learns it, in words.
            try browser.navigate(w.gw.base + "/.drawbridge/login")
            try browser.sendKeys(try browser.waitFor("#email"), "cat@closed.test")
            try browser.click(try browser.find("#next"))
            try browser.waitFor("main p")
            let text = try browser.bodyText
            // Nothing is offered on the identifier step: the org allows only API keys.
            #expect(text.contains("Your organisation does not allow signing in here. It allows: API key."), "\(text)")
            #expect(!text.contains("api_key"))
            #expect(try browser.text(try browser.find("#request-id")).count == 32)
        }
        // Straight to the password form (an old bookmark): the right password learns it, in words.
        let r = try SignInClient(w.gw).signIn(email: "cat@closed.test", password: Self.password)
        #expect(r.status == 403)
        #expect(r.text.contains("Password sign-in is turned off for Closed Corp. Closed Corp allows: API key."), "\(r.text)")
        #expect(!r.text.contains("api_key"))
        #expect(!w.audit.contains("\"event\":\"login_success\""))
    }

    @Test func aModeTurnedOffWhileTheFormIsOpenIsNamedInWords() throws {
        let w = try GatewayPagesTests.World()
        try WebDriver.withBrowser { browser in
            try browser.navigate(w.gw.base + "/app/x")
            try browser.sendKeys(try browser.waitFor("#email"), "alice@acme.test")
            try browser.click(try browser.find("#next"))
            let field = try browser.waitFor("#password")
            // Acme turns passwords off while alice's password form is open.
            try w.reload(orgs: GatewayPagesTests.World.orgs.replacingOccurrences(of: #"emailDomains: ["acme.test"] }"#,
                                                                                  with: #"emailDomains: ["acme.test"], disabledModes: ["password"] }"#))
            try browser.sendKeys(field, Self.password)
            try browser.click(try browser.find("#signin"))
            try browser.waitUntil("the refusal") { try browser.bodyText.contains("turned off") }
            let text = try browser.bodyText
            #expect(text.contains("Password sign-in is turned off for Acme. Acme allows: API key."), "\(text)")
            #expect(!text.contains("api_key"))
            #expect(try browser.text(try browser.find("#request-id")).count == 32)
            #expect(try browser.cookie("__Host-drawbridge") == nil)
        }
    }

    @Test func anErrorPageInChromiumShowsWhatWentWrongAndTheRequestId() throws {
        let w = try GatewayPagesTests.World()
        try WebDriver.withBrowser { browser in
            try browser.navigate(w.gw.base + "/refusing/x")
            let id = try browser.text(try browser.waitFor("#request-id"))
            #expect(id.count == 32)
            #expect(try browser.title == "502 Bad Gateway")
            #expect(try browser.bodyText.contains("did not answer properly"))
            try browser.navigate(w.gw.base + "/nowhere")
            #expect(try browser.title == "404 Not Found")
            #expect(try browser.text(try browser.waitFor("#request-id")) != id)
        }
    }
}
