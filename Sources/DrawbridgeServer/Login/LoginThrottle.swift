import DrawbridgeConfig
import Glibc

/// Login rate limits, shared by all workers (the login path runs on the job queue, never on an
/// event loop, so a lock is fine here).
///
/// - Per client address: at most `perAddress` attempts per window, whatever their outcome.
/// - Per account: after `perAccountFailures` failures in a window the account is locked for
///   `lockoutSeconds`, doubling with each further lockout up to `maxLockoutSeconds`; the level
///   decays by one for every quiet `maxLockoutSeconds` (the lockout "decays").
/// Unknown accounts are tracked exactly like known ones, so the lock reveals nothing.
final class LoginThrottle: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var addresses: [String: Window] = [:]
    private var accounts: [String: Account] = [:]
    private var totpUsed: [String: UInt64] = [:]   // user id -> last accepted TOTP counter

    private struct Window { var start: Double; var count: Int }
    private struct Account { var window: Window; var lockedUntil: Double; var level: Int; var lastFailure: Double }

    init() { pthread_mutex_init(&lock, nil) }

    enum Verdict: Equatable { case allowed, addressLimited, accountLocked(untilSeconds: Double) }

    /// Counts an attempt from `address` for `account` and says whether it may proceed.
    func attempt(address: String, account: String, limits: LoginLimitsConfig, now: Double) -> Verdict {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        if addresses.count > 100_000 || accounts.count > 100_000 { prune(limits: limits, now: now) }
        var w = addresses[address] ?? Window(start: now, count: 0)
        if now - w.start >= limits.windowSeconds { w = Window(start: now, count: 0) }
        w.count += 1
        addresses[address] = w
        if w.count > limits.perAddress { return .addressLimited }
        if let a = accounts[account], a.lockedUntil > now { return .accountLocked(untilSeconds: a.lockedUntil) }
        return .allowed
    }

    /// Records a failed attempt; returns the lockout end when this failure locked the account.
    func failed(account: String, limits: LoginLimitsConfig, now: Double) -> Double? {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        var a = accounts[account] ?? Account(window: Window(start: now, count: 0), lockedUntil: 0, level: 0, lastFailure: now)
        // Decay: one level off for every quiet maxLockoutSeconds.
        let quiet = Int((now - a.lastFailure) / limits.maxLockoutSeconds)
        if quiet > 0 { a.level = max(0, a.level - quiet) }
        if now - a.window.start >= limits.windowSeconds { a.window = Window(start: now, count: 0) }
        a.window.count += 1
        a.lastFailure = now
        var lockedUntil: Double? = nil
        if a.window.count >= limits.perAccountFailures {
            let seconds = min(limits.maxLockoutSeconds, limits.lockoutSeconds * Double(1 << min(a.level, 20)))
            a.lockedUntil = now + seconds
            a.level += 1
            a.window = Window(start: now, count: 0)
            lockedUntil = a.lockedUntil
        }
        accounts[account] = a
        return lockedUntil
    }

    func succeeded(account: String) {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        if var a = accounts[account] { a.window = Window(start: a.window.start, count: 0); accounts[account] = a }
    }

    /// A TOTP code is accepted once: a counter at or below the last accepted one is a replay.
    func acceptTOTP(user: String, counter: UInt64) -> Bool {
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        if let last = totpUsed[user], counter <= last { return false }
        totpUsed[user] = counter
        return true
    }

    private func prune(limits: LoginLimitsConfig, now: Double) {
        addresses = addresses.filter { now - $0.value.start < limits.windowSeconds }
        accounts = accounts.filter { $0.value.lockedUntil > now || now - $0.value.lastFailure < limits.maxLockoutSeconds }
    }
}
