import DrawbridgeConfig
import Foundation
import Glibc

/// Where the master key comes from: exactly one of
///
/// - configured (`auth`, at most one): `masterKeyFile`, `masterKeyCredential` (a systemd
///   credential in `$CREDENTIALS_DIRECTORY`), `masterKeyCommand` (a key vault's command);
/// - else from the environment: the systemd credential `drawbridge-master-key`, or
///   `DRAWBRIDGE_MASTER_KEY`.
///
/// More than one present is an error naming them (never a silent preference: in the middle of a
/// rotation it would pick the wrong key). This is the one loader: serve, reload, the backup
/// scheduler and every CLI command get the key here. The key is read once per source and kept in
/// memory for the life of the process: a reload or a scheduled backup neither re-runs a vault
/// command nor needs the credential or file to still be there.
extension MasterKey {
    /// The credential looked for in `$CREDENTIALS_DIRECTORY` when the configuration names no source.
    public static let defaultCredentialName = "drawbridge-master-key"
    public static let credentialsDirectoryVariable = "CREDENTIALS_DIRECTORY"

    /// The key for `auth`. `environment`: nil = this process's environment (the variable is taken
    /// out of it once read, and keys are kept); a dictionary (tests) is read afresh each time.
    public static func load(_ auth: AuthConfig, environment: [String: String]? = nil) throws(ConfigErrors) -> MasterKey {
        // Taken out of the environment first, whatever the source: a vault command run below must
        // not inherit it, nor may a child process later.
        let variable = environment.map { $0[environmentVariable] } ?? fromProcessEnvironment()
        let variableSet = variable.map { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? false
        let credentials = environment.map { $0[credentialsDirectoryVariable] } ?? getenv(credentialsDirectoryVariable).map { String(cString: $0) }
        // lstat: a default credential that is a link counts as present (and is then refused), not as absent.
        var st = stat()
        let defaultCredential = credentials.flatMap { dir -> String? in
            let path = dir + "/" + defaultCredentialName
            // Read before (kept): still the source, even if the file has gone since.
            let known = environment == nil && isCached("credential\0" + path)
            return dir.hasPrefix("/") && (known || lstat(path, &st) == 0) ? path : nil
        }

        var present: [String] = []
        if let configured = auth.masterKeySource { present.append(configured.configKey) }
        if defaultCredential != nil, auth.masterKeySource != .credential(defaultCredentialName) {
            present.append("the systemd credential \(defaultCredentialName) ($\(credentialsDirectoryVariable)/\(defaultCredentialName))")
        }
        if variableSet { present.append("$\(environmentVariable)") }
        guard present.count <= 1 else {
            throw error("master key", "more than one source: \(present.joined(separator: " and ")); keep exactly one "
                            + "(docs/KEYS.md, \"Where the master key comes from\")")
        }

        switch auth.masterKeySource {
        case .file(let path)?:
            return try cached("file\0" + path, environment) { () throws(ConfigErrors) in try load(file: path) }
        case .credential(let name)?:
            guard let dir = credentials, !dir.isEmpty else {
                throw error("auth.masterKeyCredential \"\(name)\"",
                            "$\(credentialsDirectoryVariable) is not set: this process was not started by systemd with "
                                + "LoadCredential= or LoadCredentialEncrypted=\(name) (for a CLI command: run it with "
                                + "`systemd-run --pipe --wait -p LoadCredentialEncrypted=\(name):…`, see docs/KEYS.md)")
            }
            return try cached("credential\0" + (dir.hasSuffix("/") ? dir : dir + "/") + name, environment) { () throws(ConfigErrors) in
                try load(credential: name, directory: dir)
            }
        case .command(let argv, let timeout)?:
            return try cached("command\0" + argv.joined(separator: "\0"), environment) { () throws(ConfigErrors) in
                try KeyCommand.run(argv, timeoutSeconds: timeout)
            }
        case nil:
            if let dir = credentials, defaultCredential != nil {
                return try cached("credential\0" + dir + "/" + defaultCredentialName, environment) { () throws(ConfigErrors) in
                    try load(credential: defaultCredentialName, directory: dir)
                }
            }
            guard let variable, variableSet else {
                throw error("master key", "none configured: set auth.masterKeyFile, auth.masterKeyCredential or auth.masterKeyCommand, "
                                + "or give the process the systemd credential \(defaultCredentialName) or the variable \(environmentVariable) "
                                + "(create a key with `drawbridge master-key generate FILE`, outside the configuration directory; docs/KEYS.md)")
            }
            return try MasterKey(text: variable, source: "$" + environmentVariable)
        }
    }

    // MARK: - Kept for the life of the process

    nonisolated(unsafe) private static var keys: [String: MasterKey] = [:]
    private static let keysLock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    private static func isCached(_ source: String) -> Bool {
        pthread_mutex_lock(keysLock); defer { pthread_mutex_unlock(keysLock) }
        return keys[source] != nil
    }

    /// One read per source and process, under a lock (the backup scheduler's thread and the main
    /// thread may ask at once; a vault command runs once). Not with an injected environment.
    private static func cached(_ source: String, _ environment: [String: String]?,
                               _ read: () throws(ConfigErrors) -> MasterKey) throws(ConfigErrors) -> MasterKey {
        guard environment == nil else { return try read() }
        pthread_mutex_lock(keysLock); defer { pthread_mutex_unlock(keysLock) }
        if let key = keys[source] { return key }
        let key = try read()
        keys[source] = key
        return key
    }

    // MARK: - The environment variable

    nonisolated(unsafe) private static var environmentKey: String?
    nonisolated(unsafe) private static var environmentRead = false
    private static let environmentLock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    /// `DRAWBRIDGE_MASTER_KEY`, taken out of the environment the first time it is read: the bytes
    /// are overwritten where the kernel put them and the variable is unset, so neither
    /// /proc/<pid>/environ, a core dump nor a child process shows it. Later calls (reloads) get
    /// the copy kept from the first read. The gateway first reads it on the main thread before
    /// starting any other (unsetenv is not thread-safe).
    static func fromProcessEnvironment() -> String? {
        pthread_mutex_lock(environmentLock); defer { pthread_mutex_unlock(environmentLock) }
        if environmentRead { return environmentKey }
        environmentRead = true
        guard let value = getenv(environmentVariable) else { return nil }
        let length = strlen(value)
        environmentKey = String(cString: value)
        // The "NAME=value" string of the initial environment: wipe all of it, name included.
        let entry = value - (environmentVariable.utf8.count + 1)
        if strncmp(entry, environmentVariable + "=", environmentVariable.utf8.count + 1) == 0 {
            memset(entry, 0, environmentVariable.utf8.count + 1 + length)
        } else {
            memset(value, 0, length)
        }
        unsetenv(environmentVariable)
        return environmentKey
    }

    // MARK: - Files: the key file and the systemd credential

    /// Reads a key file, refusing a symbolic link (O_NOFOLLOW on the path as written: a link
    /// could be pointed at another key), a file owned by another user, and one that group or
    /// others can read or write (as ssh does with private keys).
    public static func load(file: String) throws(ConfigErrors) -> MasterKey {
        try readKeyFile(file, origin: "auth.masterKeyFile \(file)", what: "master key file",
                        linkHint: "point auth.masterKeyFile at the key file itself", credential: false)
    }

    /// Reads `$CREDENTIALS_DIRECTORY/<name>`, as systemd leaves it there: a regular file (never a
    /// link: O_NOFOLLOW), owned by the service's user or by root (systemd writes credentials as
    /// root, mode 0400, and grants the service's user read access with an ACL, which shows as the
    /// group's read bit), that nobody else can write and others cannot read.
    static func load(credential name: String, directory: String) throws(ConfigErrors) -> MasterKey {
        guard directory.hasPrefix("/") else {
            throw error("$\(credentialsDirectoryVariable)", "must be an absolute path, got \"\(directory)\"")
        }
        let path = (directory.hasSuffix("/") ? directory : directory + "/") + name
        return try readKeyFile(path, origin: "systemd credential \(name) (\(path))", what: "credential",
                               linkHint: "systemd never places a link there", credential: true)
    }

    private static func readKeyFile(_ path: String, origin: String, what: String, linkHint: String,
                                    credential: Bool) throws(ConfigErrors) -> MasterKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "it is a symbolic link (refused: \(linkHint))" : String(cString: strerror(errno))
            let hint = errno == ENOENT && !credential ? "; create it with `drawbridge master-key generate \(path)`" : ""
            throw error(path, "cannot read the master key: \(reason)\(hint)")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw error(path, "\(what) is not a regular file")
        }
        // Someone else's file is not ours to trust: they could replace its contents at will.
        guard st.st_uid == geteuid() || (credential && st.st_uid == 0) else {
            throw error(path, "\(what) is owned by uid \(st.st_uid), not by the user running drawbridge (uid \(geteuid()))"
                            + (credential ? " or root" : "; run `chown \(geteuid()) \(path)`"))
        }
        // A key others can read is no longer secret; one others can write can be swapped for theirs.
        let refused: mode_t = credential ? 0o026 : 0o077
        guard st.st_mode & refused == 0 else {
            throw error(path, "\(what) is accessible by \(credential ? "others" : "group or others") "
                            + "(mode \(String(st.st_mode & 0o777, radix: 8)))" + (credential ? "" : "; run `chmod 600 \(path)`"))
        }
        var data = [UInt8](repeating: 0, count: maximumTextBytes + 1)
        defer { data.wipeBytes() }
        var count = 0
        while count < data.count {
            let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw error(path, "cannot read the master key: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            count += n
        }
        guard count <= maximumTextBytes else { throw error(path, "\(what) is too large (a key is one line)") }
        var text = Array(data[0..<count])
        defer { text.wipeBytes() }
        return try MasterKey(utf8: text, source: path, origin: origin, fix: credential
            ? "put a key made by `drawbridge master-key generate FILE` in the credential (docs/KEYS.md)"
            : "create a new one with `drawbridge master-key generate FILE`")
    }
}
