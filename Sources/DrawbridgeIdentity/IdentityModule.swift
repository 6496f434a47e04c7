// DrawbridgeIdentity: who is asking, and whether the way they signed in is still allowed.
//
// Layout (one concept per file):
// - Model: AuthMode, Organization (+ OrgModePolicy), User (+ Membership), GlobalAuthSettings,
//   Directory (one immutable snapshot per config load).
// - AuthModeResolver: THE rule deciding whether an auth mode may be used.
// - Sessions: SessionClaims, ClaimsCodec (binary layout), SessionKeyRing, SessionToken
//   (seal/open), SessionTimeouts, SessionValidator (claims vs. the current Directory), Identity.
// - APIKey: generation, parsing and verification of `db_<keyid>_<secret>` keys.
//
// The request path (token open, validation, mode resolution, API-key verification) uses no
// Foundation: only the standard library and DrawbridgeCrypto. Failures an outside party can
// cause are returned as values (Result with a rejection enum, meant for the audit log; the
// HTTP layer answers 401 without telling which).
