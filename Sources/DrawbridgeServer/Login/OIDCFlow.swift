/// OIDC sign-in (filled in when the relying-party module lands).
final class OIDCState: @unchecked Sendable {}

struct OIDCFlow {
    let endpoints: LoginEndpoints
    func start() -> LocalResponse { .html(501, LoginPages.message("Sign in", "OIDC is not available yet.")) }
    func callback() -> LocalResponse { .html(501, LoginPages.message("Sign in", "OIDC is not available yet.")) }
}
