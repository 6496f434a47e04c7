import Glibc
import Synchronization

/// A value published by one writer to every worker without a lock on the read side.
public protocol PublishedValue: AnyObject {
    /// Increases with every published value (reclamation relies on it).
    var generation: UInt64 { get }
}

extension RevocationSet: PublishedValue {}

/// The sign-out list as workers read it.
public typealias PublishedRevocations = Published<RevocationSet>

/// The current value (the `RevocationSet`, the upstream tokens' `TokenBoard`), published to every
/// worker without a lock on the read side (read-copy-update):
///
/// - The writer (the store, under its own lock) builds a new immutable set and stores its
///   address with release ordering. A worker loads the address (acquire, a plain load on x86) on
///   every protected request; only when it changed does the worker take a strong reference to
///   the new set, and then announces the generation it now holds.
/// - Reclamation: every published set keeps one reference held here until every worker has
///   announced a later generation. A worker can only load the address of a set whose generation
///   is at least the one it last announced, so a set older than every announcement can never be
///   loaded again and is released. A worker announces on every loop iteration too, so an idle
///   worker does not hold old sets back; a stopped one announces "done".
///
/// So a sign-out is visible to every worker's next request as soon as `publish` returns (before
/// the answer to the sign-out is written), and memory holds one list, not one per worker.
public final class Published<Value: PublishedValue>: @unchecked Sendable {
    @usableFromInline let current = Atomic<UInt>(0)
    @usableFromInline let readers: [ReaderSlot]
    /// Published sets still referenced from here, oldest first (writer side only).
    private var retained: [(generation: UInt64, set: Unmanaged<Value>)] = []

    @usableFromInline final class ReaderSlot: Sendable {
        @usableFromInline let generation = Atomic<UInt64>(0)
    }

    public init(_ initial: Value, readers: Int) {
        self.readers = (0..<readers).map { _ in ReaderSlot() }
        let u = Unmanaged.passRetained(initial)
        retained.append((initial.generation, u))
        current.store(UInt(bitPattern: u.toOpaque()), ordering: .releasing)
    }

    deinit {
        for r in retained { r.set.release() }
    }

    /// The set workers see now. Writers only (they hold the store's lock).
    public var latest: Value { retained.last!.set.takeUnretainedValue() }

    /// Makes `set` the one every worker sees from its next request on. Called by one writer at a
    /// time (the store's lock), with increasing generations.
    public func publish(_ set: Value) {
        let u = Unmanaged.passRetained(set)
        retained.append((set.generation, u))
        current.store(UInt(bitPattern: u.toOpaque()), ordering: .releasing)
        reclaim()
    }

    /// Releases the sets no worker can load any more.
    private func reclaim() {
        var oldest = UInt64.max
        for r in readers { oldest = min(oldest, r.generation.load(ordering: .acquiring)) }
        // The newest stays whatever the readers say: `current` points at it.
        while retained.count > 1 && retained[0].generation < oldest {
            retained.removeFirst().set.release()
        }
    }

    /// The published set's address; compare it with the one a worker holds.
    @inlinable @inline(__always) public func currentAddress() -> UInt {
        current.load(ordering: .acquiring)
    }

    /// The set at `address`, just loaded by a reader that has not yet announced it: still
    /// retained here, since that reader's announcement is at most this set's generation. The
    /// reader stores the strong reference, then `announce`s the set's generation.
    public func adopt(_ address: UInt) -> Value {
        Unmanaged<Value>.fromOpaque(UnsafeRawPointer(bitPattern: address)!).takeUnretainedValue()
    }

    /// Reader `reader` now holds (a strong reference to) the set of `generation`, and will never
    /// load an older one. Also called once per loop iteration, so an idle worker does not hold
    /// reclamation back.
    @inlinable public func announce(reader: Int, generation: UInt64) {
        if readers[reader].generation.load(ordering: .relaxed) != generation {
            readers[reader].generation.store(generation, ordering: .releasing)
        }
    }

    /// A reader that stopped: it holds nothing and will load nothing.
    public func retire(reader: Int) {
        readers[reader].generation.store(.max, ordering: .releasing)
    }
}
