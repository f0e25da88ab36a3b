import Foundation
import Testing
import SimplyCore

/// Locates a file under golden/ from this source file's path, so the tests
/// run from any working directory.
func goldenURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("golden").appendingPathComponent(name)
}

@Suite struct PhiloxTests {
    @Test func knownAnswerVectors() throws {
        let text = try String(contentsOf: goldenURL("philox4x32-10-kat.txt"), encoding: .utf8)
        var checked = 0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count == 12, f[0] == "philox4x32", f[1] == "10" else { continue }
            let v = f[2...].map { UInt32($0, radix: 16)! }
            let out = Philox.block((v[0], v[1], v[2], v[3]), key: (v[4], v[5]))
            #expect([out.0, out.1, out.2, out.3] == [v[6], v[7], v[8], v[9]], "\(line)")
            checked += 1
        }
        #expect(checked == 3)
    }

    @Test func streamsDifferByNameAndSeed() {
        let a = RandomStream(seed: 1, name: "init")
        let b = RandomStream(seed: 1, name: "data")
        let c = RandomStream(seed: 2, name: "init")
        #expect(a != b && a != c && b != c)
        #expect(a.uint64(5, 7) == RandomStream(seed: 1, name: "init").uint64(5, 7))
        #expect(a.uint64(5, 7) != a.uint64(5, 8))
    }

    @Test func uniformAndNormalMoments() {
        let s = RandomStream(seed: 42, name: "moments")
        let n = 100_000
        var su = 0.0, sn = 0.0, sn2 = 0.0
        for i in 0..<n {
            let u = s.uniform(UInt64(i))
            #expect(u >= 0 && u < 1)
            su += Double(u)
            let z = Double(s.normal(UInt64(i), 1))
            sn += z; sn2 += z * z
        }
        #expect(abs(su / Double(n) - 0.5) < 0.01)
        #expect(abs(sn / Double(n)) < 0.02)
        #expect(abs(sn2 / Double(n) - 1) < 0.02)
    }
}
