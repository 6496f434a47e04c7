/// When a sign-out may be forgotten, judged by a wall clock that is not taken on its word alone.
///
/// A machine can boot with its clock days ahead (before NTP syncs). Dropping every sign-out that
/// looks expired by such a clock would revive the signed-out tokens once the clock is right. So
/// the clock is believed only as far as evidence allows:
///
/// - `evidence`: the newest time an earlier run recorded in the sign-out list (or the file's
///   modification time for a list without recorded times): real time was at least that. Without
///   any (a first start), the clock at start.
/// - trusted now = min(wall clock, evidence + `margin` + time elapsed since start on the
///   monotonic clock, which no clock step moves).
/// - an entry is dropped only once its end + `margin` ≤ trusted now.
///
/// Whatever the clock says, a dropped entry ended before the real present: with a clock at most
/// `margin` ahead, end ≤ wall − margin ≤ real; with a clock further ahead, end ≤ evidence +
/// elapsed ≤ real. The price of a long stop (or of a clock that is really late in being
/// believed) is only that entries are kept longer.
struct DeletionHorizon: Sendable {
    /// An entry is kept at least this long after the end of what it revokes; also how far past
    /// the evidence the clock is believed without question.
    static let margin: UInt64 = 86_400

    let evidence: UInt64?
    let startWall: UInt64
    let startMonotonicNs: UInt64

    /// The latest time that can be believed to have come. Without evidence (a first start), the
    /// clock at start is believed, and a step forward while running is not.
    func trustedNow(wall: UInt64, monotonicNs: UInt64) -> UInt64 {
        let elapsed = monotonicNs >= startMonotonicNs ? (monotonicNs - startMonotonicNs) / 1_000_000_000 : 0
        return min(wall, (evidence ?? startWall) &+ Self.margin &+ elapsed)
    }

    /// Entries whose end is at or before this may be dropped.
    func dropCutoff(wall: UInt64, monotonicNs: UInt64) -> UInt64 {
        let trusted = trustedNow(wall: wall, monotonicNs: monotonicNs)
        return trusted > Self.margin ? trusted - Self.margin : 0
    }

    /// What to tell the operator at start when the clock and the evidence disagree.
    var startWarning: String? {
        guard let evidence else { return nil }
        if startWall > evidence &+ Self.margin {
            return "the clock reads \(Self.describe(startWall)), \(Self.duration(startWall - evidence)) after the newest sign-out "
                + "record (\(Self.describe(evidence))): either the gateway was stopped that long or the clock is wrong; "
                + "sign-outs are kept as if no more than a day had passed since that record, plus the time measured since start"
        }
        if startWall &+ Self.margin < evidence {
            return "the clock reads \(Self.describe(startWall)), \(Self.duration(evidence - startWall)) before the newest sign-out "
                + "record (\(Self.describe(evidence))): the clock is probably wrong; no sign-out is dropped because of it"
        }
        return nil
    }

    static func describe(_ t: UInt64) -> String { LogClock.civil(Int(clamping: t)) + "Z" }

    static func duration(_ s: UInt64) -> String {
        if s >= 2 * 86_400 { return "\(s / 86_400) days" }
        if s >= 7_200 { return "\(s / 3_600) hours" }
        return "\(s / 60) minutes"
    }
}
