import Testing
@Suite struct OIDCPlaceholder { @Test func builds() {} }
