/// The gateway's pages (sign-in, refusals, errors): plain server-rendered HTML, no scripts, no
/// external assets. Every value written into a page goes through `Forms.html`.
public enum LoginPages {
    /// Where the writer puts the request id (`LocalResponse.requestIdAt`). No escaped value can
    /// spell it (`Forms.html` turns `<` into `&lt;`), so only a page's own template holds it.
    static let requestIdSlot = "<!--request-id-->"

    /// The id on pages that explain an outcome, for whoever the user asks for help.
    static let requestIdLine = "<p class=\"muted\">Request ID: <code id=\"request-id\">\(requestIdSlot)</code></p>"

    /// Removes the slot from a rendered page and returns where it was (nil: the page has none).
    public static func takeRequestIdSlot(_ body: inout [UInt8]) -> Int? {
        let slot = Array(requestIdSlot.utf8)
        guard body.count >= slot.count else { return nil }
        for i in stride(from: body.count - slot.count, through: 0, by: -1) where body[i] == slot[0] && body[i..<(i + slot.count)].elementsEqual(slot) {
            body.removeSubrange(i..<(i + slot.count))
            return i
        }
        return nil
    }

    static func layout(_ title: String, _ body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(Forms.html(title))</title>
        <style>
        body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;display:flex;justify-content:center}
        main{background:#fff;margin-top:10vh;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:22rem}
        h1{font-size:1.3rem;margin-top:0} label{display:block;margin:.8rem 0 .3rem}
        input[type=email],input[type=password],input[type=text]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
        button,.button{display:block;width:100%;margin-top:1rem;padding:.6rem;font-size:1rem;border:0;border-radius:4px;background:#2d5bd7;color:#fff;text-align:center;text-decoration:none;box-sizing:border-box}
        button.secondary{background:#fff;color:#2d5bd7;border:1px solid #2d5bd7}
        .error{color:#a40000} .muted{color:#555;font-size:.9rem}
        </style></head>
        <body><main>
        <h1>\(Forms.html(title))</h1>
        \(body)
        </main></body></html>
        """
    }

    private static func hidden(_ name: String, _ value: String) -> String {
        "<input type=\"hidden\" name=\"\(Forms.html(name))\" value=\"\(Forms.html(value))\">"
    }

    private static func notice(_ message: String?) -> String {
        message.map { "<p class=\"error\" role=\"alert\">\(Forms.html($0))</p>" } ?? ""
    }

    /// Step 1: who are you? `email`: what was typed, kept when the form comes back.
    public static func identifier(csrf: String, returnTo: String, email: String = "", message: String? = nil) -> String {
        layout("Sign in", """
            \(notice(message))
            <form method="post" action="/.drawbridge/login">
            \(hidden("csrf", csrf))\(hidden("rd", returnTo))
            <label for="email">Email</label>
            <input id="email" name="email" type="email" value="\(Forms.html(email))" autocomplete="username" required autofocus>
            <button id="next" type="submit">Next</button>
            </form>
            """)
    }

    public struct ProviderButton {
        let name: String
        let label: String
        public init(name: String, label: String) {
            self.name = name
            self.label = label
        }
    }

    /// Step 2: the ways this email's organisation allows (`orgName` nil: the page names no
    /// organisation, as after a wrong password, where it must not depend on the account).
    public static func methods(orgName: String?, email: String, csrf: String, returnTo: String, password: Bool,
                        providers: [ProviderButton], message: String? = nil) -> String {
        var body = notice(message) + "<p class=\"muted\" id=\"account\">\(Forms.html(email))</p>"
        if password {
            body += """
                <form method="post" action="/.drawbridge/login/password">
                \(hidden("csrf", csrf))\(hidden("rd", returnTo))\(hidden("email", email))
                <label for="password">Password</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
                <button id="signin" type="submit">Sign in</button>
                </form>
                """
        }
        for p in providers {
            let href = "/.drawbridge/oidc/start?provider=\(Forms.percentEncode(p.name))&rd=\(Forms.percentEncode(returnTo))&login_hint=\(Forms.percentEncode(email))"
            body += "<a class=\"button\" id=\"oidc-\(Forms.html(p.name))\" href=\"\(Forms.html(href))\">Continue with \(Forms.html(p.label))</a>"
        }
        body += "<p class=\"muted\"><a href=\"/.drawbridge/login?rd=\(Forms.html(Forms.percentEncode(returnTo)))\">Use another account</a></p>"
        return layout(orgName.map { "Sign in to \($0)" } ?? "Sign in", body)
    }

    public static func totp(csrf: String, message: String? = nil) -> String {
        layout("Two-step verification", """
            \(notice(message))
            <form method="post" action="/.drawbridge/login/totp">
            \(hidden("csrf", csrf))
            <label for="code">Code from your authenticator app</label>
            <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required autofocus>
            <button id="verify" type="submit">Verify</button>
            </form>
            """)
    }

    /// An outcome in words; `requestId`: with the request's id (`requestIdSlot`).
    public static func message(_ title: String, _ text: String, link: (String, String)? = ("/.drawbridge/login", "Sign in"),
                        requestId: Bool = true) -> String {
        layout(title, "<p>\(Forms.html(text))</p>" + (link.map { "<p><a href=\"\(Forms.html($0.0))\">\(Forms.html($0.1))</a></p>" } ?? "")
                      + (requestId ? requestIdLine : ""))
    }

    /// 403 for someone signed in whom the policy does not let in: who they are signed in as, the
    /// request id, sign-out, and "sign in as someone else" (sign-out, then the sign-in page with
    /// `returnTo`, the sealed address of the refused page). Both are the sign-out form (POST, CSRF).
    public static func forbidden(_ text: String, signedInAs who: String?, csrf: String, returnTo: String) -> String {
        var body = "<p>\(Forms.html(text))</p>"
        if let who { body += "<p class=\"muted\">Signed in as <strong id=\"signed-in-as\">\(Forms.html(who))</strong></p>" }
        body += """
            <form method="post" action="/.drawbridge/logout">
            \(hidden("csrf", csrf))\(hidden("rd", returnTo))
            <button id="switch-account" type="submit">Sign in as someone else</button>
            </form>
            <form method="post" action="/.drawbridge/logout">
            \(hidden("csrf", csrf))
            <button id="logout" class="secondary" type="submit">Sign out</button>
            </form>
            """
        return layout("Access denied", body + requestIdLine)
    }

    public static func logout(csrf: String) -> String {
        layout("Sign out", """
            <form method="post" action="/.drawbridge/logout">
            \(hidden("csrf", csrf))
            <button id="logout" type="submit">Sign out</button>
            <label><input type="checkbox" name="all" value="1"> Sign out of every device</label>
            </form>
            """)
    }
}
