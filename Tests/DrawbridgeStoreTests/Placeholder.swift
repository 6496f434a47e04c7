import Testing
@Suite struct StorePlaceholder { @Test func builds() {} }
