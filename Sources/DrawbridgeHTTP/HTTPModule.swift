// DrawbridgeHTTP: strict HTTP/1.1 message parsing (RFC 9110 / RFC 9112). Pure bytes in, values out.
//
// Nothing but the Swift standard library is imported. Parsers work on `UnsafeRawBufferPointer`
// input and describe what they found as `Range<Int>` offsets, so a connection can reuse one
// `RequestHead` / `ResponseHead` and never allocate per request once capacities have grown.
//
// Stricter than the RFCs where leniency only helps attackers; each such place carries a
// one-line comment naming the attack it prevents.
