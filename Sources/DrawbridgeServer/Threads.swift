import Glibc

/// The one way the gateway starts a thread of its own (workers, the token fetcher, the admin
/// listener, health checks): `body` runs on a new POSIX thread. Joinable unless `detached`.
enum Threads {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    @discardableResult
    static func start(detached: Bool, _ body: @escaping () -> Void) -> pthread_t {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var t = pthread_t()
        pthread_create(&t, nil, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box)
        if detached { pthread_detach(t) }
        return t
    }
}
