import Foundation

/// Where a named config (`--experiment_config tiny`) is looked up when
/// `--config_dir` is not given, so `simply` works from any folder: ./configs,
/// then $SIMPLY_HOME/configs, then the configs/ of the checkout this binary
/// was built in (found from the binary's real path, .../.build/.../simply).
func configDirectory(_ explicit: String?, for name: String) -> URL {
    if let explicit { return URL(fileURLWithPath: explicit) }
    let candidates = configDirectoryCandidates()
    return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("\(name).json").path) }
        ?? candidates.first { FileManager.default.fileExists(atPath: $0.path) }
        ?? URL(fileURLWithPath: "configs")
}

func configDirectoryCandidates() -> [URL] {
    var out = [URL(fileURLWithPath: "configs")]
    if let home = ProcessInfo.processInfo.environment["SIMPLY_HOME"], !home.isEmpty {
        out.append(URL(fileURLWithPath: home).appendingPathComponent("configs"))
    }
    // /proc/self/exe is the binary itself, with any symlink (/usr/local/bin/simply) resolved.
    var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            out.append(dir.appendingPathComponent("configs"))
            break
        }
        dir = dir.deletingLastPathComponent()
    }
    return out
}
