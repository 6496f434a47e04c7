import DrawbridgeCrypto
import DrawbridgeDecision
import DrawbridgeIdentity
import DrawbridgeStore

/// The changes the gateway itself makes to the users file while running: the last accepted TOTP
/// step, the first link of an OIDC account, a password hash upgraded to the current cost. Each is
/// a compare-and-set on the file as it is now (read under its lock, written through the store's
/// atomic writer), not on the snapshot in memory: the snapshot is only re-read at a reload, and a
/// CLI command may have changed the file since. Job threads only (file I/O and fsync).
enum UserFileUpdates {
    struct Refused: Error { let reason: String }

    /// Records `step` as the user's last accepted TOTP step. Throws `Refused` when the file
    /// already holds that step or a later one (the code was used before, maybe before a restart),
    /// or another error when the file could not be written (the code must then not be accepted).
    static func acceptTOTP(_ auth: AuthRuntime, userId: String, step: UInt64) throws {
        try IdentityStore.updateUsers(auth.config) { users in
            guard let i = users.firstIndex(where: { $0.id == userId }) else { throw Refused(reason: "user no longer exists") }
            // RFC 6238 §5.2: a step at or before the last accepted one is a replay.
            if let last = users[i].totpLastStep, step <= last { throw Refused(reason: "reused totp code") }
            users[i].totpLastStep = step
        }
    }

    /// The member linked on disk to (issuer, subject), by id: links made since the snapshot was read.
    static func linkedUserId(_ auth: AuthRuntime, issuer: String, subject: String) throws -> String? {
        try IdentityStore.readUsers(auth.config).first { u in u.oidcLinks.contains { $0.issuer == issuer && $0.subject == subject } }?.id
    }

    /// Links (issuer, subject) to the user. Throws `Refused` when the account is linked to
    /// another user, or the user to another account of the issuer, in the file as it is now.
    static func link(_ auth: AuthRuntime, userId: String, issuer: String, subject: String, now: UInt64) throws {
        try IdentityStore.updateUsers(auth.config) { users in
            if let other = users.first(where: { u in u.oidcLinks.contains { $0.issuer == issuer && $0.subject == subject } }) {
                if other.id == userId { return }
                throw Refused(reason: "account already linked to another member")
            }
            guard let i = users.firstIndex(where: { $0.id == userId }) else { throw Refused(reason: "user no longer exists") }
            if users[i].link(issuer: issuer) != nil { throw Refused(reason: "member already linked to another account of this issuer") }
            users[i].oidcLinks.append(OIDCLink(issuer: issuer, subject: subject, linkedAt: now))
        }
    }

    /// Replaces `old` by a hash of `password` in the current scheme, if the file still holds
    /// `old` for the user (a password changed meanwhile is never overwritten). Returns whether it did.
    static func upgradeHash(_ auth: AuthRuntime, userId: String, old: String, password: String) throws -> Bool {
        // Cheap check first: once upgraded, the snapshot keeps the old hash until a reload.
        guard try IdentityStore.readUsers(auth.config).first(where: { $0.id == userId })?.passwordHash == old else { return false }
        let new = try PasswordHash.hash(password)
        return try IdentityStore.updateUsers(auth.config) { users -> Bool in
            guard let i = users.firstIndex(where: { $0.id == userId }), users[i].passwordHash == old else { return false }
            users[i].passwordHash = new
            return true
        }
    }
}
