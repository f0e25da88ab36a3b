import Foundation
import SimplyFuzz

enum SeedFiles {
    /// The target's seeds as DIR/seed-N (for a libFuzzer corpus directory).
    static func write(_ target: FuzzTarget, to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (i, s) in target.seeds().enumerated() {
            try Data(s).write(to: dir.appendingPathComponent("seed-\(i)"))
        }
    }
}
