import DrawbridgeConfig
import Foundation
import Glibc

/// What the gateway, `check-config` and the identity commands refuse about where the
/// configuration and the security state live (as sshd's StrictModes does for ~/.ssh):
///
/// - the configuration directory and every directory holding a state file: a directory that
///   group or others can write lets them replace any file in it (or plant a sign-out list);
/// - `drawbridge.json5` and the state files (users, API keys, secrets, mode cut-offs, sign-outs):
///   writable by group or others, or owned by another user than root or the gateway's own;
/// - a state file that is a symbolic link: reads and writes would land elsewhere than the
///   operator believes (the files are also opened with `O_NOFOLLOW`).
///
/// The master key file has its own, stricter rule (`MasterKey`: not even readable by others).
public enum StatePermissions {
    /// Every problem, as "file: problem" issues (empty: all is well).
    public static func check(configDirectory: String, config: GatewayConfig) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        func standard(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let main = standard(configDirectory) + "/" + ConfigLoader.mainFileName
        // The configuration file, and with an auth section every state file (`StateFiles`, the one list).
        let files = config.auth.map { StateFiles.all(configDirectory: configDirectory, auth: $0).map(\.path) } ?? [main]
        var directories = [standard(configDirectory)]
        for file in files {
            let dir = standard((file as NSString).deletingLastPathComponent)
            if !directories.contains(dir) { directories.append(dir) }
        }
        for dir in directories {
            if let problem = directoryProblem(dir) { issues.append(ConfigIssue(file: dir, path: "", message: problem)) }
        }
        for file in files {
            // The main configuration file may be a link (its target is judged); a state file may not.
            if let problem = fileProblem(file, allowLink: file == main) { issues.append(ConfigIssue(file: file, path: "", message: problem)) }
        }
        return issues
    }

    /// Why `path` may not hold configuration or state, or nil.
    public static func directoryProblem(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return "cannot inspect the directory: \(String(cString: strerror(errno)))" }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return "not a directory" }
        return accessProblem(st, what: "directory", path: path)
    }

    /// Why the file at `path` may not be used, or nil (also when it does not exist yet).
    /// `allowLink`: the main configuration file may be a link (its target is judged).
    public static func fileProblem(_ path: String, allowLink: Bool) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            return errno == ENOENT ? nil : "cannot inspect the file: \(String(cString: strerror(errno)))"
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            guard allowLink else {
                return "is a symbolic link; refused (a state file must be a regular file where the configuration names it; "
                    + "move the file here, or point the configuration at the real path)"
            }
            guard stat(path, &st) == 0 else { return "cannot inspect the file: \(String(cString: strerror(errno)))" }
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return "not a regular file" }
        return accessProblem(st, what: "file", path: path)
    }

    private static func accessProblem(_ st: stat, what: String, path: String) -> String? {
        let mode = st.st_mode & 0o7777
        if mode & 0o022 != 0 {
            let who = mode & 0o002 != 0 ? "everyone" : "its group"
            return "\(what) is writable by \(who) (mode \(String(mode, radix: 8))); refused, as anyone who can write it can change "
                + "the gateway's security state: run `chmod go-w \(path)`"
        }
        let me = geteuid()
        if st.st_uid != me && st.st_uid != 0 {
            return "\(what) is owned by uid \(st.st_uid), neither root nor the gateway's user (uid \(me)); refused: "
                + "run `chown \(me) \(path)`"
        }
        return nil
    }
}
