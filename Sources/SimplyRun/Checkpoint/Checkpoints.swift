import Foundation
import SimplyCore

#if !_endian(little)
#error("checkpoints store little-endian float32 and copy tensor memory as is")
#endif

/// One named float32 tensor of the training state.
public struct CheckpointTensor: Sendable {
    public let name: String
    public let tensor: Tensor
    public init(name: String, tensor: Tensor) { self.name = name; self.tensor = tensor }
}

/// Where a simulated failure interrupts `Checkpoints.write` (tests only).
public enum CheckpointWriteFault: Sendable, Equatable {
    case afterShard(Int)     // shard `n` is written, the rest are not
    case beforeManifest      // all shards written
    case beforeRename        // manifest written and synced, directory still .tmp
    case beforeLatest        // renamed to its final name, LATEST not yet updated
}

/// One step of the checkpoint protocol that changes what is on disk. A crash
/// can stop a write before any of them; `CheckpointOptions.crashBefore`
/// stops it there in tests.
public enum CheckpointDiskStep: Sendable, Equatable, CustomStringConvertible {
    case fsync(String)               // a file or directory, once its writes are done
    case rename(String, String)
    case unlink(String)              // a file or a whole directory

    public var description: String {
        switch self {
        case let .fsync(p): return "fsync \(p)"
        case let .rename(a, b): return "rename \(a) -> \(b)"
        case let .unlink(p): return "unlink \(p)"
        }
    }
}

/// What `CheckpointOptions.crashBefore` throws: the write stopped as a killed
/// process would, leaving every file as it was (no clean-up).
public struct CheckpointCrash: Error, CustomStringConvertible {
    public let step: CheckpointDiskStep
    public var description: String { "simulated crash before \(step)" }
}

/// How checkpoints are written. None of these change what is stored: the
/// tensors read back are the same bits for any shard size or level.
public struct CheckpointOptions: Sendable {
    /// A new shard starts when the next tensor would take the current one's
    /// data past this many bytes; a larger tensor gets a shard of its own.
    public var shardBytes: Int = 64 << 20
    /// zstd level (1 fast … 19 small; 3 is zstd's default).
    public var compressionLevel: Int = 3
    /// Complete checkpoints to keep, counting the new one; 0 keeps all.
    public var keepLast: Int = 3
    /// For tests: throw at this point of the write, as a crash would stop it.
    public var simulatedFailure: CheckpointWriteFault? = nil
    /// For tests: this worker's share of a cooperative write fails (as a full disk would).
    public var failingWorker: Int? = nil
    /// For tests: asked before every fsync, rename and unlink of a write;
    /// `true` stops the write there as a crash would (`CheckpointCrash`).
    public var crashBefore: (@Sendable (CheckpointDiskStep) -> Bool)? = nil

    /// Throws `CheckpointCrash` when the test hook stops the write before `step`.
    func disk(_ step: CheckpointDiskStep) throws {
        if let crashBefore, crashBefore(step) { throw CheckpointCrash(step: step) }
    }

    public init(shardBytes: Int = 64 << 20, compressionLevel: Int = 3, keepLast: Int = 3) {
        self.shardBytes = shardBytes
        self.compressionLevel = compressionLevel
        self.keepLast = keepLast
    }
}

/// Checkpoints in the format of docs/design.md:
///
///     RUN/checkpoints/step-00000100/manifest.json
///     RUN/checkpoints/step-00000100/shard-00000.safetensors.zst ...
///     RUN/checkpoints/LATEST            "step-00000100\n"
///
/// A checkpoint is built in step-N.tmp/, every file and the directory
/// fsynced, then renamed to step-N/; only then does LATEST move to it and are
/// old checkpoints pruned. A crash at any point leaves the previous complete
/// checkpoint and LATEST as they were.
public enum Checkpoints {
    public static let latestFileName = "LATEST"
    public static let manifestFileName = "manifest.json"

    /// "step-00000100": the step, zero-padded to at least 8 digits.
    public static func directoryName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The step of a complete checkpoint's directory name ("step-" and digits only).
    public static func step(ofDirectoryName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(digits)
    }

    public static func checkpointsDirectory(_ runDirectory: URL) -> URL {
        runDirectory.appendingPathComponent("checkpoints")
    }

    /// A run directory is an existing directory holding config.json.
    static func requireRunDirectory(_ run: URL) throws {
        guard CheckpointFiles.exists(run.path) else { throw CheckpointError(run.path, "not a run directory (it does not exist)") }
        guard CheckpointFiles.isDirectory(run.path) else { throw CheckpointError(run.path, "not a run directory (not a directory)") }
        guard CheckpointFiles.exists(run.appendingPathComponent("config.json").path) else {
            throw CheckpointError(run.path, "not a run directory (no config.json)")
        }
    }

    // MARK: - Write

    /// Writes the state as checkpoint `step` of the run, in one process.
    /// (SimplyTrain's `write(…, workers:)` writes it with several workers,
    /// each its share of the shards; the files are the same either way.)
    @discardableResult
    public static func write(runDirectory: URL, step: Int, tensors: [CheckpointTensor], configSHA256: String,
                             dataCursor: JSONValue, extra: JSONValue, options: CheckpointOptions = CheckpointOptions()) throws -> URL {
        let (root, name) = try checkWrite(runDirectory: runDirectory, step: step, tensors: tensors, configSHA256: configSHA256,
                                          dataCursor: dataCursor, extra: extra, options: options)
        let final = root.appendingPathComponent(name)
        let tmp = root.appendingPathComponent(name + ".tmp")
        try prepare(root: root, tmp: tmp, options: options)
        do {
            let manifest = try writeShards(tensors, into: tmp, step: step, configSHA256: configSHA256,
                                           dataCursor: dataCursor, extra: extra, options: options)
            try fault(options, .beforeManifest, tmp)
            try commit(manifest, tmp: tmp, final: final, root: root, options: options)
        } catch {
            if !(error is CheckpointCrash) { try? FileManager.default.removeItem(at: tmp) }
            throw error
        }
        try fault(options, .beforeLatest, final)
        try publish(root: root, name: name, options: options)
        return final
    }

    /// Everything a write is given, checked before the disk is touched; the
    /// checkpoints directory and the checkpoint's name.
    package static func checkWrite(runDirectory: URL, step: Int, tensors: [CheckpointTensor], configSHA256: String,
                                   dataCursor: JSONValue, extra: JSONValue, options: CheckpointOptions) throws -> (root: URL, name: String) {
        try requireRunDirectory(runDirectory)
        let root = checkpointsDirectory(runDirectory)
        let name = directoryName(step: step)
        let final = root.appendingPathComponent(name)
        func bad(_ field: String, _ message: String) -> CheckpointError { CheckpointError(final.path, field: field, message) }
        guard step >= 0 else { throw bad("step", "\(step) is negative") }
        guard options.shardBytes > 0 else { throw bad("shard_bytes", "\(options.shardBytes) must be positive") }
        guard options.keepLast >= 0 else { throw bad("keep_last", "\(options.keepLast) must be >= 0") }
        guard CheckpointZstd.levels.contains(options.compressionLevel) else {
            throw bad("compression_level", "\(options.compressionLevel) is outside \(CheckpointZstd.levels)")
        }
        guard isSHA256Hex(configSHA256) else { throw bad("config_sha256", "must be 64 lowercase hex digits, got \"\(configSHA256)\"") }
        guard case .object = dataCursor else { throw bad("data_cursor", "must be a JSON object") }
        guard case .object = extra else { throw bad("extra", "must be a JSON object") }
        var names = Set<String>()
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__" else { throw bad("tensors", "\"\(t.name)\" is not a valid tensor name") }
            guard names.insert(t.name).inserted else { throw bad("tensors", "\"\(t.name)\" appears twice") }
        }
        return (root, name)
    }

    /// Creates checkpoints/ if needed, removes what an interrupted write left, creates `tmp`.
    package static func prepare(root: URL, tmp: URL, options: CheckpointOptions) throws {
        let fm = FileManager.default
        if !CheckpointFiles.isDirectory(root.path) {
            do { try fm.createDirectory(at: root, withIntermediateDirectories: false) } catch {
                throw CheckpointError(root.path, "cannot create directory (\(error.localizedDescription))")
            }
        }
        try removeLeftovers(root, options: options)
        do { try fm.createDirectory(at: tmp, withIntermediateDirectories: false) } catch {
            throw CheckpointError(tmp.path, "cannot create directory (\(error.localizedDescription))")
        }
    }

    /// Writes and syncs the manifest into `tmp`, then renames `tmp` to `final`.
    package static func commit(_ manifest: CheckpointManifest, tmp: URL, final: URL, root: URL, options: CheckpointOptions) throws {
        let manifestPath = tmp.appendingPathComponent(manifestFileName).path
        try CheckpointFiles.writeSynced(manifest.fileBytes, to: manifestPath, before: { try options.disk(.fsync(manifestPath)) })
        try options.disk(.fsync(tmp.path))
        try CheckpointFiles.syncDirectory(tmp.path)
        try fault(options, .beforeRename, tmp)
        if CheckpointFiles.exists(final.path) {
            // The same step again (e.g. a stop signal right after a periodic
            // checkpoint): the new copy replaces the old one.
            let old = root.appendingPathComponent(final.lastPathComponent + ".replaced.tmp")
            try options.disk(.rename(final.path, old.path))
            try CheckpointFiles.rename(final.path, old.path)
            try options.disk(.rename(tmp.path, final.path))
            try CheckpointFiles.rename(tmp.path, final.path)
            try options.disk(.fsync(root.path))
            try CheckpointFiles.syncDirectory(root.path)
            try options.disk(.unlink(old.path))
            try? FileManager.default.removeItem(at: old)
        } else {
            try options.disk(.rename(tmp.path, final.path))
            try CheckpointFiles.rename(tmp.path, final.path)
            try options.disk(.fsync(root.path))
            try CheckpointFiles.syncDirectory(root.path)
        }
    }

    /// Points LATEST at the complete checkpoint `name`, then prunes old ones.
    package static func publish(root: URL, name: String, options: CheckpointOptions) throws {
        try pointLatest(root: root, name: name, options: options)
        try prune(root, keep: options.keepLast, newest: name, options: options)
    }

    /// Points LATEST at `name`: written to LATEST.tmp, fsynced, renamed.
    package static func pointLatest(root: URL, name: String, options: CheckpointOptions) throws {
        let latest = root.appendingPathComponent(latestFileName)
        let latestTmp = root.appendingPathComponent(latestFileName + ".tmp")
        try CheckpointFiles.writeSynced(Array((name + "\n").utf8), to: latestTmp.path,
                                        before: { try options.disk(.fsync(latestTmp.path)) })
        try options.disk(.rename(latestTmp.path, latest.path))
        try CheckpointFiles.rename(latestTmp.path, latest.path)
        try options.disk(.fsync(root.path))
        try CheckpointFiles.syncDirectory(root.path)
    }

    package static func fault(_ options: CheckpointOptions, _ point: CheckpointWriteFault, _ dir: URL) throws {
        if options.simulatedFailure == point {
            throw CheckpointError(dir.path, "simulated failure (\(point)) for a test")
        }
    }

    /// Removes what an interrupted write or prune left: step-*.tmp and LATEST.tmp.
    static func removeLeftovers(_ root: URL, options: CheckpointOptions = CheckpointOptions()) throws {
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: root.path) } catch {
            throw CheckpointError(root.path, "cannot list (\(error.localizedDescription))")
        }
        for e in entries.sorted() where (e.hasPrefix("step-") && e.hasSuffix(".tmp")) || e == latestFileName + ".tmp" {
            let url = root.appendingPathComponent(e)
            try options.disk(.unlink(url.path))
            do { try FileManager.default.removeItem(at: url) } catch {
                throw CheckpointError(url.path, "cannot remove the leftover of an interrupted checkpoint (\(error.localizedDescription))")
            }
        }
    }

    /// Keeps the newest `keep` complete checkpoints by step (always `newest`,
    /// the one just written). Each is renamed to *.tmp first, so a crash
    /// mid-delete never leaves a half-deleted directory that looks complete.
    static func prune(_ root: URL, keep: Int, newest: String, options: CheckpointOptions = CheckpointOptions()) throws {
        guard keep > 0 else { return }
        let others = try listCheckpoints(root).filter { $0.url.lastPathComponent != newest }
        let doomed = others.dropLast(keep - 1)
        if doomed.isEmpty { return }
        var trash: [URL] = []
        for c in doomed {
            let t = root.appendingPathComponent(c.url.lastPathComponent + ".pruned.tmp")
            try options.disk(.rename(c.url.path, t.path))
            try CheckpointFiles.rename(c.url.path, t.path)
            trash.append(t)
        }
        try options.disk(.fsync(root.path))
        try CheckpointFiles.syncDirectory(root.path)
        for t in trash {
            try options.disk(.unlink(t.path))
            do { try FileManager.default.removeItem(at: t) } catch {
                throw CheckpointError(t.path, "cannot remove a pruned checkpoint (\(error.localizedDescription))")
            }
        }
    }

    /// Packs the tensors in order into shards, writes each as one zstd frame
    /// of a safetensors file, and returns the manifest describing them.
    static func writeShards(_ tensors: [CheckpointTensor], into dir: URL, step: Int, configSHA256: String,
                            dataCursor: JSONValue, extra: JSONValue, options: CheckpointOptions) throws -> CheckpointManifest {
        let groups = shardGroups(tensors, shardBytes: options.shardBytes)
        let state = StateHasher()
        let written = try writeShardFiles(tensors, groups: groups, only: Array(groups.indices), into: dir,
                                          options: options, state: state)
        return CheckpointManifest(formatVersion: CheckpointManifest.currentFormatVersion, step: step,
                                  configSHA256: configSHA256, stateSHA256: state.finalizeHex(), dataCursor: dataCursor,
                                  extra: extra, tensors: written.flatMap(\.tensors), shards: written.map(\.shard))
    }

    /// Shard boundaries, a function of the tensors' sizes and `shardBytes`
    /// alone: a new shard when the next tensor would pass shardBytes.
    package static func shardGroups(_ tensors: [CheckpointTensor], shardBytes: Int) -> [[Int]] {
        var groups: [[Int]] = []
        var current = 0
        for (i, t) in tensors.enumerated() {
            let bytes = 4 * t.tensor.count
            if groups.isEmpty || (current > 0 && current + bytes > shardBytes) {
                groups.append([])
                current = 0
            }
            groups[groups.count - 1].append(i)
            current += bytes
        }
        return groups
    }

    /// Writes the shards `only` (indices into `groups`, ascending) into `dir`;
    /// returns each one's manifest entries. `state`, when given, is fed every
    /// tensor's bytes in order (the state hash, when all shards are written).
    package static func writeShardFiles(_ tensors: [CheckpointTensor], groups: [[Int]], only: [Int], into dir: URL,
                                options: CheckpointOptions, state: StateHasher?)
        throws -> [(tensors: [CheckpointManifest.TensorEntry], shard: CheckpointManifest.ShardEntry)] {
        let compressor = try CheckpointZstd.Compressor(level: options.compressionLevel)
        var out: [(tensors: [CheckpointManifest.TensorEntry], shard: CheckpointManifest.ShardEntry)] = []
        // One raw and one compressed buffer, reused for every shard.
        var rawCapacity = 0, raw = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        var zstCapacity = 0, zst = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        defer { raw.deallocate(); zst.deallocate() }

        for s in only {
            let group = groups[s]
            let file = CheckpointManifest.shardFileName(s)
            let path = dir.appendingPathComponent(file).path
            let header = safetensorsHeader(group.map { (tensors[$0].name, tensors[$0].tensor.shape, tensors[$0].tensor.count) })
            let dataBytes = group.reduce(0) { $0 + 4 * tensors[$1].tensor.count }
            let rawBytes = header.count + dataBytes
            if rawBytes > rawCapacity {
                raw.deallocate()
                raw = .allocate(byteCount: rawBytes, alignment: 64)
                rawCapacity = rawBytes
            }
            let bound = CheckpointZstd.Compressor.bound(rawBytes)
            if bound > zstCapacity {
                zst.deallocate()
                zst = .allocate(byteCount: bound, alignment: 64)
                zstCapacity = bound
            }
            header.withUnsafeBytes { raw.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: header.count) }
            var offset = 0
            var entries: [CheckpointManifest.TensorEntry] = []
            for i in group {
                let t = tensors[i]
                let length = 4 * t.tensor.count
                let tensorHash = SHA256Hasher()
                t.tensor.withBytes { bytes in
                    if length > 0 { (raw.baseAddress! + header.count + offset).copyMemory(from: bytes.baseAddress!, byteCount: length) }
                    tensorHash.update(bytes)
                    state?.update(bytes)
                }
                entries.append(.init(name: t.name, dtype: "F32", shape: t.tensor.shape, shard: s, offset: offset,
                                     length: length, sha256: tensorHash.finalizeHex()))
                offset += length
            }
            let n = try compressor.compress(UnsafeRawBufferPointer(rebasing: raw[0..<rawBytes]),
                                            into: UnsafeMutableRawBufferPointer(rebasing: zst[0..<bound]), name: path)
            let frame = UnsafeRawBufferPointer(rebasing: zst[0..<n])
            try CheckpointFiles.writeSynced(frame, to: path, before: { try options.disk(.fsync(path)) })
            let fileHash = SHA256Hasher()
            fileHash.update(frame)
            out.append((entries, .init(file: file, sha256: fileHash.finalizeHex(), bytes: n, rawBytes: rawBytes)))
            try fault(options, .afterShard(s), dir)
        }
        return out
    }

    /// The 8-byte length and JSON header of a safetensors file holding these
    /// float32 tensors in this order: the same bytes `SafetensorsWriter.encode`
    /// writes before its data (sorted keys, space-padded to 8 bytes).
    static func safetensorsHeader(_ tensors: [(name: String, shape: [Int], count: Int)]) -> [UInt8] {
        var pairs: [(String, JSONValue)] = []
        var offset = 0
        for t in tensors {
            pairs.append((t.name, .object([("dtype", .string("F32")), ("shape", .array(t.shape.map { .int($0) })),
                                           ("data_offsets", .array([.int(offset), .int(offset + 4 * t.count)]))])))
            offset += 4 * t.count
        }
        var header = Array(JSONValue.object(pairs).serialized().utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        return out
    }

    // MARK: - Find

    /// The newest complete checkpoint, as named by RUN/checkpoints/LATEST.
    public static func latest(runDirectory: URL) throws -> URL {
        try requireRunDirectory(runDirectory)
        let root = checkpointsDirectory(runDirectory)
        let latest = root.appendingPathComponent(latestFileName)
        guard let name = try latestName(latest) else { throw CheckpointError(latest.path, "missing (no complete checkpoint)") }
        let dir = root.appendingPathComponent(name)
        guard CheckpointFiles.isDirectory(dir.path) else {
            throw CheckpointError(latest.path, "names \(name), but \(dir.path) "
                                  + (CheckpointFiles.exists(dir.path) ? "is not a directory" : "does not exist"))
        }
        guard CheckpointFiles.exists(dir.appendingPathComponent(manifestFileName).path) else {
            throw CheckpointError(dir.appendingPathComponent(manifestFileName).path, "missing (named by LATEST, but not a complete checkpoint)")
        }
        return dir
    }

    /// The checkpoint name a LATEST file holds (text, "step-" and digits), or
    /// nil when there is no LATEST; any other content is an error naming it.
    static func latestName(_ latest: URL) throws -> String? {
        guard let size = try CheckpointFiles.size(latest.path) else { return nil }
        guard size <= 256 else { throw CheckpointError(latest.path, "\(size) bytes, too long to name a checkpoint (damaged)") }
        guard let text = String(validating: try CheckpointFiles.read(latest.path), as: UTF8.self) else {
            throw CheckpointError(latest.path, "not text (damaged)")
        }
        let name = text.hasSuffix("\n") ? String(text.dropLast()) : text
        guard step(ofDirectoryName: name) != nil else {
            throw CheckpointError(latest.path, "does not name a checkpoint (\"\(name.prefix(80))\"; expected step-NNNNNNNN)")
        }
        return name
    }

    /// The complete checkpoints (step-N directories with a manifest.json), by ascending step.
    public static func list(runDirectory: URL) throws -> [(step: Int, url: URL)] {
        try requireRunDirectory(runDirectory)
        let root = checkpointsDirectory(runDirectory)
        guard CheckpointFiles.exists(root.path) else { return [] }
        guard CheckpointFiles.isDirectory(root.path) else { throw CheckpointError(root.path, "not a directory") }
        return try listCheckpoints(root)
    }

    static func listCheckpoints(_ root: URL) throws -> [(step: Int, url: URL)] {
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: root.path) } catch {
            throw CheckpointError(root.path, "cannot list (\(error.localizedDescription))")
        }
        var out: [(step: Int, url: URL)] = []
        for e in entries {
            guard let s = step(ofDirectoryName: e) else { continue }
            let url = root.appendingPathComponent(e)
            if CheckpointFiles.isDirectory(url.path), CheckpointFiles.exists(url.appendingPathComponent(manifestFileName).path) {
                out.append((s, url))
            }
        }
        return out.sorted { ($0.step, $0.url.lastPathComponent) < ($1.step, $1.url.lastPathComponent) }
    }

    // MARK: - Read

    /// Reads and checks the manifest alone (no shards).
    public static func manifest(_ checkpoint: URL, expectedConfigSHA256: String? = nil) throws -> CheckpointManifest {
        let path = checkpoint.appendingPathComponent(manifestFileName).path
        if !CheckpointFiles.isDirectory(checkpoint.path) {
            throw CheckpointError(checkpoint.path, CheckpointFiles.exists(checkpoint.path) ? "not a checkpoint directory" : "missing")
        }
        guard let size = try CheckpointFiles.size(path) else { throw CheckpointError(path, "missing (not a complete checkpoint)") }
        guard size <= 1 << 30 else { throw CheckpointError(path, "\(size) bytes: too large for a manifest") }
        let m = try CheckpointManifest.parse(try CheckpointFiles.read(path), file: path)
        let dirName = checkpoint.standardizedFileURL.lastPathComponent
        if let s = step(ofDirectoryName: dirName), s != m.step {
            throw CheckpointError(path, field: "step", "\(m.step) does not match the directory name \(dirName)")
        }
        if let expected = expectedConfigSHA256, expected != m.configSHA256 {
            throw CheckpointError(path, field: "config_sha256",
                                  "\(m.configSHA256) differs from this run's \(expected): a checkpoint from a different config")
        }
        return m
    }

    /// Reads and checks everything: the manifest, each shard's size, sha256,
    /// zstd frame and safetensors header, each tensor's place, shape and
    /// sha256, and the state hash over all tensors in order.
    public static func read(_ checkpoint: URL, expectedConfigSHA256: String?) throws -> (manifest: CheckpointManifest, tensors: [String: Tensor]) {
        let m = try manifest(checkpoint, expectedConfigSHA256: expectedConfigSHA256)
        var out: [String: Tensor] = [:]
        // Allocated only once the shard has shown it holds that many bytes.
        try readShards(checkpoint, m) { entry in
            let t = Tensor(shape: entry.shape)
            out[entry.name] = t
            return t
        }
        return (m, out)
    }

    /// Fills the caller's tensors by name, with every check of `read`. The
    /// checkpoint may hold more tensors than asked for (e.g. optimizer state
    /// when only weights are wanted); those are checked, not kept. Each
    /// requested tensor must be present with the same shape. On an error the
    /// requested tensors may be partly filled.
    @discardableResult
    public static func load(_ checkpoint: URL, into: [CheckpointTensor], expectedConfigSHA256: String?) throws -> CheckpointManifest {
        let m = try manifest(checkpoint, expectedConfigSHA256: expectedConfigSHA256)
        let path = checkpoint.appendingPathComponent(manifestFileName).path
        var stored: [String: CheckpointManifest.TensorEntry] = [:]
        for t in m.tensors { stored[t.name] = t }
        var destinations: [String: Tensor] = [:]
        for t in into {
            guard destinations[t.name] == nil else { throw CheckpointError(path, field: "tensor \(t.name)", "requested twice") }
            guard let e = stored[t.name] else { throw CheckpointError(path, field: "tensor \(t.name)", "not in this checkpoint") }
            guard e.shape == t.tensor.shape else {
                throw CheckpointError(path, field: "tensor \(t.name)", "has shape \(e.shape), the model expects \(t.tensor.shape)")
            }
            destinations[t.name] = t.tensor
        }
        try readShards(checkpoint, m) { destinations[$0.name] }
        return m
    }

    /// Decodes every shard in order, checks it against the manifest and
    /// copies each tensor for which `destination` gives a tensor (of its shape).
    static func readShards(_ checkpoint: URL, _ m: CheckpointManifest,
                           destination: (CheckpointManifest.TensorEntry) -> Tensor?) throws {
        let manifestPath = checkpoint.appendingPathComponent(manifestFileName).path
        let state = StateHasher()
        var next = 0   // index into m.tensors; they come shard by shard, in order
        for (s, shard) in m.shards.enumerated() {
            let path = checkpoint.appendingPathComponent(shard.file).path
            let frame = try CheckpointFiles.read(path, expected: shard.bytes)
            let fileHash = sha256Hex(frame)
            guard fileHash == shard.sha256 else {
                throw CheckpointError(path, "sha256 is \(fileHash), manifest.json says \(shard.sha256): the file is damaged")
            }
            let raw = try CheckpointZstd.decompress(frame, name: path, expectedSize: shard.rawBytes)
            let file: SafetensorsFile
            do { file = try SafetensorsFile.parse(raw, name: path + " (decompressed)") } catch {
                throw CheckpointError(path, "not a valid safetensors file inside the zstd frame: \(error)")
            }
            let dataStart = 8 + raw.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
            var expectedNames: [String] = []
            while next < m.tensors.count, m.tensors[next].shard == s {
                let t = m.tensors[next]
                next += 1
                expectedNames.append(t.name)
                guard let e = file.entries[t.name] else { throw CheckpointError(path, field: "tensor \(t.name)", "missing from the shard") }
                guard e.dtype == "F32", e.shape == t.shape, e.begin == t.offset, e.end == t.offset + t.length else {
                    throw CheckpointError(path, field: "tensor \(t.name)",
                                          "is \(e.dtype)\(e.shape) at [\(e.begin), \(e.end)), manifest.json says F32\(t.shape) at [\(t.offset), \(t.offset + t.length))")
                }
                let tensorHash = SHA256Hasher()
                try raw.withUnsafeBytes { all in
                    let bytes = UnsafeRawBufferPointer(rebasing: all[(dataStart + t.offset)..<(dataStart + t.offset + t.length)])
                    tensorHash.update(bytes)
                    state.update(bytes)
                    let h = tensorHash.finalizeHex()
                    guard h == t.sha256 else {
                        throw CheckpointError(path, field: "tensor \(t.name)", "sha256 is \(h), manifest.json says \(t.sha256)")
                    }
                    if let d = destination(t), t.length > 0 {
                        UnsafeMutableRawPointer(d.pointer).copyMemory(from: bytes.baseAddress!, byteCount: t.length)
                    }
                }
            }
            guard file.names.count == expectedNames.count else {
                let extra = Set(file.names).subtracting(expectedNames).sorted()
                throw CheckpointError(path, "holds tensors manifest.json does not list: \(extra.prefix(5).joined(separator: ", "))")
            }
        }
        let h = state.finalizeHex()
        guard h == m.stateSHA256 else {
            throw CheckpointError(manifestPath, field: "state_sha256", "is \(m.stateSHA256), but the tensors hash to \(h)")
        }
    }
}
