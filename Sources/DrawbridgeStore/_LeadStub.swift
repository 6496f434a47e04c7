// Temporary stand-in until the store branch lands; deleted at merge.
import DrawbridgeConfig
import DrawbridgeIdentity
import Foundation

public struct IdentityData: Sendable {
    public var users: [User] = []
    public var apiKeys: [APIKeyRecord] = []
    public var apiKeyNames: [String: String] = [:]
    public var secrets: [String: [UInt8]] = [:]
    public var totpSecrets: [String: [UInt8]] = [:]
    public var sessionKeys: [SessionKey] = []
}

public enum IdentityStore {
    public static func load(_ auth: AuthConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> IdentityData {
        IdentityData(sessionKeys: [SessionKey.generate(id: 1)])
    }
}
