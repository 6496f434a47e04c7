import DrawbridgeCrypto
@testable import DrawbridgeOIDC
import Testing

@Suite struct ClientCredentialsTests {
    static func client(_ method: ClientCredentials.AuthMethod, scope: String? = "read write", audience: String? = "https://api") -> ClientCredentials.Client {
        ClientCredentials.Client(tokenEndpoint: "https://idp.example/token", clientId: "gw:1", clientSecret: "p@ss w",
                                 method: method, scope: scope, audience: audience, caFile: nil)
    }

    @Test func basicPutsTheCredentialsInAuthorization() {
        let (headers, body) = ClientCredentials.request(Self.client(.basic))
        #expect(body == "grant_type=client_credentials&scope=read%20write&audience=https%3A%2F%2Fapi")
        // RFC 6749 §2.3.1: id and secret form-urlencoded before Basic.
        #expect(headers.first { $0.0 == "Authorization" }?.1 == "Basic " + Base64.encode(Array("gw%3A1:p%40ss%20w".utf8)))
        #expect(!body.contains("client_secret"))
    }

    @Test func postPutsTheCredentialsInTheForm() {
        let (headers, body) = ClientCredentials.request(Self.client(.post, scope: nil, audience: nil))
        #expect(body == "grant_type=client_credentials&client_id=gw%3A1&client_secret=p%40ss%20w")
        #expect(!headers.contains { $0.0 == "Authorization" })
    }

    @Test(arguments: [
        (#"{"access_token":"abc.DEF-_~+/==","token_type":"Bearer","expires_in":3600}"#, "abc.DEF-_~+/==", 3600 as Int?),
        (#"{"access_token":"t","token_type":"bearer"}"#, "t", nil),
        (#"{"access_token":"t","token_type":"Bearer","expires_in":"60"}"#, "t", 60),
    ])
    func acceptedResponses(_ json: String, _ token: String, _ expiresIn: Int?) throws {
        let t = try ClientCredentials.parse(Array(json.utf8))
        #expect(t.accessToken == token && t.expiresIn == expiresIn)
    }

    /// Refused: the token goes into a header field, so nothing that could end or split it.
    @Test(arguments: [
        #"{"access_token":"t","token_type":"mac"}"#,
        #"{"token_type":"Bearer"}"#,
        #"{"access_token":"","token_type":"Bearer"}"#,
        #"{"access_token":"a b","token_type":"Bearer"}"#,
        #"{"access_token":"a\r\nX-Admin: 1","token_type":"Bearer"}"#,
        #"{"access_token":"a=b","token_type":"Bearer"}"#,
        #"{"access_token":"t","token_type":"Bearer","expires_in":0}"#,
        #"{"access_token":"t","token_type":"Bearer","expires_in":-5}"#,
        #"{"access_token":"t","token_type":"Bearer","expires_in":1.5}"#,
        #"["t"]"#,
    ])
    func refusedResponses(_ json: String) {
        #expect(throws: OIDCError.self) { try ClientCredentials.parse(Array(json.utf8)) }
    }

    @Test func onlyHTTPSEndpoints() {
        #expect(ClientCredentials.urlProblem("https://idp.example/token") == nil)
        #expect(ClientCredentials.urlProblem("http://idp.example/token") != nil)
        #expect(ClientCredentials.urlProblem("https://u:p@idp.example/token") != nil)
    }
}
