import Foundation
import Testing

/// README.md and docs/ link only to files that exist in the repository (no
/// link leaves it), and cite no file kept outside it.
@Suite struct DocsLinkTests {
    var repo: URL { configsURL.deletingLastPathComponent() }

    func documents() throws -> [URL] {
        var out = [repo.appendingPathComponent("README.md")]
        let docs = repo.appendingPathComponent("docs")
        guard let e = FileManager.default.enumerator(at: docs, includingPropertiesForKeys: nil) else { return out }
        for case let url as URL in e where url.pathExtension == "md" { out.append(url) }
        return out.sorted { $0.path < $1.path }
    }

    @Test func everyLinkResolvesInsideTheRepository() throws {
        let docs = try documents()
        #expect(docs.count >= 10)
        let link = try Regex(#"\]\(([^)\s]+)\)"#)
        var checked = 0
        for doc in docs {
            let text = try String(contentsOf: doc, encoding: .utf8)
            let name = doc.path.replacingOccurrences(of: repo.path + "/", with: "")
            for m in text.matches(of: link) {
                guard let target = m.output[1].substring.map(String.init) else { continue }
                if target.hasPrefix("http://") || target.hasPrefix("https://") || target.hasPrefix("#") || target.hasPrefix("mailto:") { continue }
                let path = String(target.split(separator: "#", maxSplits: 1)[0])
                let url = doc.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
                #expect(url.path.hasPrefix(repo.standardizedFileURL.path + "/"), "\(name): \(target) leaves the repository")
                #expect(FileManager.default.fileExists(atPath: url.path), "\(name): \(target) does not exist")
                checked += 1
            }
            for outside in ["../shared/", "REFERENCE.md", "DESIGN.md"] {
                #expect(!text.contains(outside), "\(name) cites \(outside), which is not in the repository")
            }
        }
        #expect(checked >= 10, "the link pattern finds the links")
    }
}
