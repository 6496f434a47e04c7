import DrawbridgeConfig
import Glibc

/// The sign-in counters (attempts per address, failures and lockouts per account). Behind this
/// interface so that several gateway instances can share them: a store on Redis implements the
/// same three calls (INCR with an expiry per address window, a hash per account), the sign-in
/// paths do not change. Called on sign-in paths only, never by a proxied request.
public protocol LoginCounters: AnyObject, Sendable {
    /// Counts an attempt from `address` (for `account`, when one is named) and says whether it may proceed.
    func attempt(address: String, account: String?, limits: LoginLimitsConfig) -> LoginThrottle.Verdict
    /// Records a failed attempt (either factor); returns the lockout's length when this failure locked the account.
    func failed(account: String, limits: LoginLimitsConfig) -> Double?
    /// A whole sign-in (every factor) succeeded: the account's failure count starts again.
    func succeeded(account: String)
}

/// Login rate limits, shared by all workers (taken on the sign-in paths only, never by a proxied
/// request, so a lock is fine here).
///
/// - Per client address: at most `perAddress` attempts per window, whatever their outcome
///   (password posts, TOTP codes and OIDC callbacks alike).
/// - Per account: `perAccountFailures` consecutive failures lock it for `lockoutSeconds`,
///   doubling with each further lockout up to `maxLockoutSeconds`; the level decays by one for
///   every quiet `maxLockoutSeconds`. Failures of either factor count, and only a whole sign-in
///   (every factor) resets the count (NIST SP 800-63B §5.2.2): a correct password does not, so
///   it cannot be used to keep guessing the second factor.
/// Unknown accounts are tracked exactly like known ones, so the lock reveals nothing.
///
/// Time is the monotonic clock: stepping the wall clock (NTP at boot, an operator) neither
/// lengthens a lockout, nor stops the decay, nor freezes the windows.
public final class LoginThrottle: LoginCounters, @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var addresses: [String: Window] = [:]
    private var accounts: [String: Account] = [:]
    private let clock: @Sendable () -> Double

    private struct Window { var start: Double; var count: Int }
    private struct Account { var failures: Int; var lockedUntil: Double; var level: Int; var lastFailure: Double }

    /// Seconds on CLOCK_MONOTONIC.
    public static let monotonicSeconds: @Sendable () -> Double = {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public init(clock: @escaping @Sendable () -> Double = LoginThrottle.monotonicSeconds) {
        self.clock = clock
        pthread_mutex_init(&lock, nil)
    }

    public enum Verdict: Equatable { case allowed, addressLimited, accountLocked(remainingSeconds: Double) }

    public func attempt(address: String, account: String?, limits: LoginLimitsConfig) -> Verdict {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        let now = clock()
        if addresses.count > 100_000 || accounts.count > 100_000 { prune(limits: limits, now: now) }
        var w = addresses[address] ?? Window(start: now, count: 0)
        if now - w.start >= limits.windowSeconds { w = Window(start: now, count: 0) }
        w.count += 1
        addresses[address] = w
        if w.count > limits.perAddress { return .addressLimited }
        if let account, let a = accounts[account], a.lockedUntil > now { return .accountLocked(remainingSeconds: a.lockedUntil - now) }
        return .allowed
    }

    public func failed(account: String, limits: LoginLimitsConfig) -> Double? {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        let now = clock()
        var a = accounts[account] ?? Account(failures: 0, lockedUntil: 0, level: 0, lastFailure: now)
        // Decay: one level off for every quiet maxLockoutSeconds.
        let quiet = Int((now - a.lastFailure) / limits.maxLockoutSeconds)
        if quiet > 0 { a.level = max(0, a.level - quiet) }
        a.failures += 1
        a.lastFailure = now
        var locked: Double? = nil
        if a.failures >= limits.perAccountFailures {
            let seconds = min(limits.maxLockoutSeconds, limits.lockoutSeconds * Double(1 << min(a.level, 20)))
            a.lockedUntil = now + seconds
            a.level += 1
            a.failures = 0
            locked = seconds
        }
        accounts[account] = a
        return locked
    }

    public func succeeded(account: String) {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        if var a = accounts[account] { a.failures = 0; accounts[account] = a }
    }

    private func prune(limits: LoginLimitsConfig, now: Double) {
        addresses = addresses.filter { now - $0.value.start < limits.windowSeconds }
        accounts = accounts.filter { $0.value.lockedUntil > now || $0.value.level > 0 || now - $0.value.lastFailure < limits.maxLockoutSeconds }
    }
}
