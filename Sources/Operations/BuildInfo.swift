import CAnydnsSystem

/// What this binary is: `anydns --version`, `/health` and the `anydns_build_info` metric.
public enum BuildInfo {
    /// The release version; `make deb` names the package after it (README "Installing").
    public static let version = "0.6.0"
    /// The git commit built from, stamped by `make` (scripts/stamp-build-info.sh), or "unknown".
    public static let commit = String(cString: anydns_build_commit())
    /// `anydns 0.6.0 (commit 1a2b3c4d5e6f)`.
    public static var description: String { "anydns \(version) (commit \(commit))" }
}
