extension Validator {
    /// An identity assertion is a bearer token for its audience: an upstream that receives one
    /// minted for another upstream's audience can replay it there (for up to its 60 s lifetime).
    /// So an `access.audience` that another upstream also receives (its name is that upstream's
    /// default audience, or one of its routes names the same audience) is a configuration error,
    /// unless the route says `sharedAudience: true`. Compared case-folded, as an upstream might.
    ///
    /// `routes` with `indices` (their positions in the file, for the messages).
    func audienceOwnership(_ routes: [RouteConfig], indices: [Int], upstreams: [String: UpstreamConfig]?) {
        // Folded audience → the upstreams that receive it (an upstream's name is its default audience).
        var receivers: [String: Set<String>] = [:]
        for name in (upstreams ?? [:]).keys { receivers[IdentifierSpelling.folded(name), default: []].insert(name) }
        for route in routes {
            guard let access = route.access else { continue }
            receivers[IdentifierSpelling.folded(access.audience), default: []].insert(route.upstream)
        }
        for (route, index) in zip(routes, indices) {
            guard let access = route.access, !access.sharedAudience, access.audience != route.upstream else { continue }
            let others = (receivers[IdentifierSpelling.folded(access.audience)] ?? []).subtracting([route.upstream]).sorted()
            guard !others.isEmpty else { continue }
            let list = others.map { "\"\($0)\"" }.joined(separator: ", ")
            issues.add("routes[\(index)].access.audience",
                       "\"\(access.audience)\" is also the assertion audience of upstream \(list), but this route forwards to "
                       + "\"\(route.upstream)\": it could replay the assertion there (use an audience of its own, or accept that "
                       + "with sharedAudience: true)")
        }
    }
}
