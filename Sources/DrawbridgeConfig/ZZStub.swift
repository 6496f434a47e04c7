public struct ConfigIssue: Error, Sendable, CustomStringConvertible { public var file: String; public var path: String; public var message: String; public var description: String { "" } }
public struct ConfigErrors: Error, Sendable, CustomStringConvertible { public var issues: [ConfigIssue]; public var description: String { "" } }
public enum ConfigLoader {
    public static func load(directory: String) throws -> GatewayConfig { fatalError() }
}
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible { public var host: String; public var port: UInt16; public var description: String { "" } }
public struct GatewayConfig: Sendable {
    public var workers: Int; public var resolvedWorkers: Int { 1 }
    public var httpsListen: [ListenAddress]; public var httpRedirectListen: [ListenAddress]; public var redirectPort: UInt16?
    public var tls: TLSConfig; public var hsts: HSTSConfig; public var limits: LimitsConfig; public var timeouts: TimeoutsConfig
    public var upstreams: [String: UpstreamConfig]; public var routes: [RouteConfig]; public var accessLog: LogTarget; public var routeTable: RouteTable
}
public enum LogTarget: Sendable, Equatable { case stdout, stderr, off, file(String) }
public struct TLSConfig: Sendable { public var certificates: [CertificateConfig]; public var sessionTickets: Bool; public var ticketKeyRotationSeconds: Int }
public struct CertificateConfig: Sendable { public var certFile: String; public var keyFile: String; public var serverNames: [String]; public var isDefault: Bool }
public struct HSTSConfig: Sendable { public var maxAgeSeconds: Int; public var includeSubDomains: Bool; public var preload: Bool; public var headerValue: String }
public struct LimitsConfig: Sendable {
    public var maxRequestLineBytes: Int, maxHeaderBytes: Int, maxHeaderCount: Int, maxChunkLineBytes: Int, maxTrailerBytes: Int
    public var maxRequestBodyBytes: Int64; public var maxConnectionsPerWorker: Int
}
public struct TimeoutsConfig: Sendable {
    public var clientHeaderSeconds: Double, clientBodySeconds: Double, clientIdleSeconds: Double, clientSendSeconds: Double,
               upstreamConnectSeconds: Double, upstreamResponseSeconds: Double, drainSeconds: Double
}
public enum BalanceStrategy: String, Sendable { case roundRobin = "round_robin", leastConnections = "least_connections" }
public struct UpstreamServer: Sendable, Equatable { public var host: String; public var port: UInt16 }
public struct UpstreamConfig: Sendable {
    public var name: String; public var servers: [UpstreamServer]; public var tls: Bool; public var caFile: String?; public var serverName: String?
    public var balance: BalanceStrategy; public var maxIdleConnections: Int; public var idleTimeoutSeconds: Double
}
public struct RouteConfig: Sendable { public var host: String?; public var pathPrefix: String; public var upstream: String }
public struct RouteTable: Sendable { public func match(host: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer) -> Int? { nil } }
