// Micro-benchmark of PolicySnapshot.decide: 1,000 routes, 10,000 users, 100 roles, 20 groups.
//
//   swift run -c release policy-bench [rounds]
//
// Prints ns per decision for a mixed workload and for single scenarios, and ns per membership
// check (the test an owner override makes: is the target user a member of the caller's org?).
// Identities are made the way the gateway makes them (SessionClaims → SessionValidator), so they
// are real `Identity` values.
#if canImport(Glibc)
import Glibc
#endif
import DrawbridgeConfig
import DrawbridgeIdentity
import DrawbridgePolicy

let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 20 : 20

// MARK: - Deterministic pseudo-random numbers

var rngState: UInt64 = 0x9E37_79B9_7F4A_7C15
func next() -> Int {
    rngState ^= rngState << 13
    rngState ^= rngState >> 7
    rngState ^= rngState << 17
    return Int(truncatingIfNeeded: rngState & 0x7FFF_FFFF)
}

// MARK: - Policy: 100 roles, 20 groups, 1,000 routes

let services = 50
var roles: [RoleConfig] = [RoleConfig(name: "admin", permissions: ["*"])]
for i in 1..<10 { roles.append(RoleConfig(name: "svc\(i)-all", permissions: ["svc\(i):*"])) }
for i in 10..<100 {
    let s = next() % services, t = next() % services
    roles.append(RoleConfig(name: "role-\(i)", permissions: ["svc\(s):read", "svc\(s):write", "svc\(t):read", "users:read:any"]))
}
var groups: [GroupConfig] = []
for g in 0..<20 {
    groups.append(GroupConfig(name: "team-\(g)", roles: [roles[10 + next() % 90].name, roles[10 + next() % 90].name]))
}
var routes: [RouteConfig] = []
for r in 0..<1000 {
    let s = r % services
    var bind: BindTemplate?
    var override: String?
    switch r % 8 {
    case 1, 5: bind = try! BindTemplate(parsing: "/r\(r)/{org}/")
    case 2: bind = nil
    case 3: bind = try! BindTemplate(parsing: "/r\(r)/{org}/groups/{group}/")
    case 7: bind = try! BindTemplate(parsing: "/r\(r)/{org}/users/{user}/"); override = "users:read:any"
    default: break
    }
    routes.append(RouteConfig(pathPrefix: "/r\(r)/", upstream: "app", access: AccessRule(
        methods: ["GET": "svc\(s):read", "HEAD": "svc\(s):read", "POST": "svc\(s):write", "*": "svc\(s):admin"],
        mfa: r % 10 == 9, bind: bind, ownerOverride: override, sensitive: r % 50 == 0, audience: "app",
        methodOverride: r % 8 == 2 ? .refuse : .pass)))
}

var clock = timespec()
func nanoseconds() -> UInt64 {
    clock_gettime(CLOCK_MONOTONIC, &clock)
    return UInt64(clock.tv_sec) * 1_000_000_000 + UInt64(clock.tv_nsec)
}

// MARK: - 10,000 users in 50 orgs, as the session validator produces them

let orgs = (0..<50).map { Organization(id: "org\($0)", displayName: "Org \($0)") }
let global = GlobalAuthSettings(enabledModes: [.password, .apiKey])
var users: [User] = []
for u in 0..<10_000 {
    let roleNames = (0..<3).map { _ in roles[1 + next() % 99].name } + (u % 500 == 0 ? ["admin"] : [])
    let groupNames = (0..<2).map { _ in groups[next() % 20].name }
    // Every 10th user is also a member of the next org (users in several orgs are the case the
    // membership check must get right).
    var memberships = [Membership(orgId: orgs[u % 50].id, roles: roleNames, groups: groupNames)]
    if u % 10 == 0 { memberships.append(Membership(orgId: orgs[(u + 1) % 50].id, roles: roleNames)) }
    users.append(User(id: "user\(u)", email: "user\(u)@example.test", memberships: memberships))
}

let compileStart = nanoseconds()
let policy = PolicySnapshot(roles: roles, groups: groups, routes: routes, users: users)
let compileNs = nanoseconds() - compileStart

let directory = try! Directory(organizations: orgs, users: users)
let now: UInt64 = 1_700_000_000
var credentials: [Credential] = []
for (u, user) in users.enumerated() {
    let claims = SessionClaims.issue(user: user, org: orgs[u % 50], mode: .password, mfa: u % 3 == 0, global: global, now: now)
    guard case .success(let identity) = SessionValidator.validate(claims, directory: directory, global: global,
                                                                    revokedSessionIds: [], now: now) else {
        fatalError("bench identity did not validate")
    }
    credentials.append(.session(identity))
}
for k in 0..<1000 {   // and 1,000 API keys
    credentials.append(.apiKey(keyId: "key\(k)", orgId: orgs[k % 50].id, roles: [roles[1 + next() % 99].name]))
}

// MARK: - Requests, laid out in one buffer (no allocation while measuring)

struct Request {
    var route: Int
    var method: Range<Int>
    var path: Range<Int>
    var query: Range<Int>
    var credential: Int
}
var buffer: [UInt8] = []
func add(_ text: String) -> Range<Int> {
    let start = buffer.count
    buffer.append(contentsOf: text.utf8)
    return start..<buffer.count
}
let methodRanges = ["GET", "GET", "GET", "HEAD", "POST", "DELETE"].map(add)
let noQuery = add("")
let queries = [noQuery, noQuery, noQuery, add("?page=2&sort=name&filter=open")]

func request(route r: Int, credential c: Int, method m: Int) -> Request {
    let org: String
    var group = "team-0", user = "user0"
    switch credentials[c] {
    case .session(let identity):
        // Mostly the caller's own org / group / self, sometimes not; another user is mostly one
        // of the same org (an override's target), sometimes anyone's.
        org = next() % 10 == 0 ? "org\(next() % 50)" : identity.orgId
        group = next() % 4 == 0 ? "team-\(next() % 20)" : (identity.groups.first ?? "none")
        user = next() % 4 == 0 ? otherUser(inOrgOf: identity.orgId) : identity.userId
    case .apiKey(_, let orgId, _):
        org = orgId
        user = otherUser(inOrgOf: orgId)
    case .none:
        org = "org0"
    }
    let path: String
    switch r % 8 {
    case 1, 5: path = "/r\(r)/\(org)/items/42"
    case 3: path = "/r\(r)/\(org)/groups/\(group)/reports/7"
    case 7: path = "/r\(r)/\(org)/users/\(user)/profile"
    default: path = "/r\(r)/items/42"
    }
    return Request(route: r, method: methodRanges[m], path: add(path), query: queries[next() % queries.count], credential: c)
}

/// A user of org `orgId` three times in four (users u with u % 50 == n are in org n), else anyone.
func otherUser(inOrgOf orgId: String) -> String {
    guard next() % 4 != 0, let n = Int(orgId.dropFirst(3)) else { return "user\(next() % 10_000)" }
    return "user\(50 * (next() % 200) + n)"
}

let mixed = (0..<100_000).map { _ in request(route: next() % 1000, credential: next() % credentials.count, method: next() % methodRanges.count) }

/// Session users by what their roles grant on route 0 (svc0:read): found by asking the policy.
func pick(_ wanted: Bool, route: Int) -> Int {
    for c in 0..<10_000 where policy.decide(route: route, method: "GET", path: "/r\(route)/items/1", credential: credentials[c], now: now).isAllowed == wanted {
        return c
    }
    fatalError("no such user")
}
let allowedUser = pick(true, route: 0), deniedUser = pick(false, route: 0)
let allowUser = (0..<10_000).map { _ in request(route: 0, credential: allowedUser, method: 0) }
let denyUser = (0..<10_000).map { _ in request(route: 0, credential: deniedUser, method: 0) }
let scenarios: [(String, [Request])] = [
    ("mixed (1,000 routes, 11,000 callers, 6 methods)", mixed),
    ("allow: session, no template", allowUser),
    ("deny: session lacks the permission (all roles+groups scanned)", denyUser),
    ("session, {org}/{group} template", (0..<10_000).map { _ in request(route: 8 * (next() % 125) + 3, credential: next() % 10_000, method: 0) }),
    ("api key, {org} template", (0..<10_000).map { _ in request(route: 8 * (next() % 125) + 1, credential: 10_000 + next() % 1000, method: 0) }),
    ("api key, {org}/users/{user} + ownerOverride (membership checked)",
     (0..<10_000).map { _ in request(route: 8 * (next() % 125) + 7, credential: 10_000 + next() % 1000, method: 0) }),
    ("no credential (401)", (0..<10_000).map { _ in Request(route: next() % 1000, method: methodRanges[0], path: add("/r0/x"),
                                                            query: noQuery, credential: -1) }),
]

/// Membership checks alone: (user id, org) pairs, half of them members (some through a second
/// membership), half not; user ids in their own buffer, as a path segment would be.
struct MembershipQuery {
    var user: Range<Int>
    var org: String
}
let membershipQueries: [MembershipQuery] = (0..<10_000).map { _ in
    let u = next() % 10_000
    let member = next() % 2 == 0
    let org = member ? (u % 10 == 0 && next() % 2 == 0 ? (u + 1) % 50 : u % 50) : (u % 50 + 2 + next() % 40) % 50
    return MembershipQuery(user: add("user\(u)"), org: orgs[org].id)
}

// MARK: - Measure

@inline(never)
func run(_ requests: [Request], _ buffer: UnsafeRawBufferPointer, _ credentials: UnsafeBufferPointer<Credential>)
    -> (allowed: Int, denied: Int) {
    var allowed = 0, denied = 0
    for q in requests {
        // The credential is passed borrowed (an unsafe buffer's element), not copied out of an
        // array first: a copy would cost ~7 retains of a cold object and measure the harness.
        let method = UnsafeRawBufferPointer(rebasing: buffer[q.method]), path = UnsafeRawBufferPointer(rebasing: buffer[q.path])
        let query = UnsafeRawBufferPointer(rebasing: buffer[q.query])
        let decision = q.credential >= 0
            ? policy.decide(route: q.route, method: method, path: path, query: query, credential: credentials[q.credential], now: now)
            : policy.decide(route: q.route, method: method, path: path, query: query, credential: .none, now: now)
        switch decision {
        case .allow: allowed += 1
        case .deny: denied += 1
        }
    }
    return (allowed, denied)
}

/// One caller for all requests, passed in once: measures the decision without the per-call copy
/// of the credential (which `run` pays, as a caller that builds a `Credential` per request does).
@inline(never)
func runOne(_ requests: [Request], _ buffer: UnsafeRawBufferPointer, _ credential: Credential) -> (allowed: Int, denied: Int) {
    var allowed = 0, denied = 0
    for q in requests {
        switch policy.decide(route: q.route, method: UnsafeRawBufferPointer(rebasing: buffer[q.method]),
                             path: UnsafeRawBufferPointer(rebasing: buffer[q.path]),
                             query: UnsafeRawBufferPointer(rebasing: buffer[q.query]), credential: credential, now: now) {
        case .allow: allowed += 1
        case .deny: denied += 1
        }
    }
    return (allowed, denied)
}

/// The membership check an override makes, alone.
@inline(never)
func runMembership(_ queries: [MembershipQuery], _ buffer: UnsafeRawBufferPointer) -> (allowed: Int, denied: Int) {
    var members = 0, others = 0
    for q in queries {
        if policy.isMember(user: UnsafeRawBufferPointer(rebasing: buffer[q.user]), of: q.org) { members += 1 } else { others += 1 }
    }
    return (members, others)
}

print("policy-bench: \(routes.count) routes, \(users.count) users (\(users.count / 10) in two orgs) + 1000 api keys, "
      + "\(roles.count) roles, \(groups.count) groups, \(policy.requiredPermissions.count) required permissions; "
      + "compile \(compileNs / 1000) µs; \(rounds) rounds")
let credentialBuffer = UnsafeMutableBufferPointer<Credential>.allocate(capacity: credentials.count)
_ = credentialBuffer.initialize(from: credentials)
let borrowed = UnsafeBufferPointer(credentialBuffer)
buffer.withUnsafeBytes { raw in
    for (name, requests) in scenarios {
        _ = run(requests, raw, borrowed)   // warm-up
        var best = UInt64.max, total: UInt64 = 0
        var outcome = (allowed: 0, denied: 0)
        for _ in 0..<rounds {
            let start = nanoseconds()
            outcome = run(requests, raw, borrowed)
            let elapsed = nanoseconds() - start
            best = min(best, elapsed)
            total += elapsed
        }
        report(name, requests.count, best, total, outcome)
    }
    for (name, requests, credential) in [("allow: session, no template, credential not copied", allowUser, credentials[allowedUser]),
                                         ("deny: all roles+groups scanned, credential not copied", denyUser, credentials[deniedUser])] {
        _ = runOne(requests, raw, credential)
        var best = UInt64.max, total: UInt64 = 0
        var outcome = (allowed: 0, denied: 0)
        for _ in 0..<rounds {
            let start = nanoseconds()
            outcome = runOne(requests, raw, credential)
            let elapsed = nanoseconds() - start
            best = min(best, elapsed)
            total += elapsed
        }
        report(name, requests.count, best, total, outcome)
    }
    _ = runMembership(membershipQueries, raw)
    var best = UInt64.max, total: UInt64 = 0
    var outcome = (allowed: 0, denied: 0)
    for _ in 0..<rounds {
        let start = nanoseconds()
        outcome = runMembership(membershipQueries, raw)
        let elapsed = nanoseconds() - start
        best = min(best, elapsed)
        total += elapsed
    }
    report("membership check alone (user id in org?, 10,000 users)", membershipQueries.count, best, total, outcome,
           unit: "check", yes: "members")
}

func report(_ name: String, _ count: Int, _ best: UInt64, _ total: UInt64, _ outcome: (allowed: Int, denied: Int),
            unit: String = "decision", yes: String = "allowed") {
    let perBest = Double(best) / Double(count)
    let perMean = Double(total) / Double(rounds * count)
    print("  \(name): best \(Int(perBest.rounded())) ns, mean \(Int(perMean.rounded())) ns per \(unit) (\(100 * outcome.allowed / count)% \(yes))")
}
