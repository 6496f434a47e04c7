import Testing
@testable import DrawbridgeCrypto
@Test func placeholder() {}
