import Foundation
import Testing

/// docs/design.md is the contract: its module table is Package.swift's
/// dependency graph (the Swift library and tool targets; C modules, products
/// and tests left out), and nothing in the repository cites a file kept outside it.
@Suite struct DesignDocTests {
    var repo: URL { configsURL.deletingLastPathComponent() }

    /// module -> its Swift dependencies, from Package.swift's `.target(name:, dependencies: [...])` entries.
    func packageGraph() throws -> [String: Set<String>] {
        let text = try String(contentsOf: repo.appendingPathComponent("Package.swift"), encoding: .utf8)
        let target = try Regex(#"\.(?:target|executableTarget)\(name: "([^"]+)",\s*dependencies: \[([^\]]*)\]"#)
        let quoted = try Regex(#"^\s*"([^"]+)""#)
        var graph: [String: Set<String>] = [:]
        for m in text.matches(of: target) {
            guard let name = m.output[1].substring.map(String.init), let deps = m.output[2].substring else { continue }
            if name == "simply-fuzz" { continue }
            // Plain string entries only: `.product(...)` entries are packages, C modules start with C.
            let names = deps.split(separator: ",").compactMap { part -> String? in
                guard let q = String(part).firstMatch(of: quoted)?.output[1].substring else { return nil }
                let s = String(q)
                return s.hasPrefix("C") && s.dropFirst().first?.isUppercase == true ? nil : s
            }
            graph[name] = Set(names)
        }
        return graph
    }

    func documentedGraph() throws -> [String: Set<String>] {
        let text = try String(contentsOf: repo.appendingPathComponent("docs/design.md"), encoding: .utf8)
        var graph: [String: Set<String>] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, cells[0] != "module", !cells[0].hasPrefix("---") else { continue }
            graph[cells[0]] = cells[1] == "—" ? [] : Set(cells[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        return graph
    }

    /// The table's order is the layering: a module depends only on rows above it.
    @Test func dependenciesPointUpTheTable() throws {
        let text = try String(contentsOf: repo.appendingPathComponent("docs/design.md"), encoding: .utf8)
        var above = Set<String>()
        for line in text.split(separator: "\n") where line.hasPrefix("| Simply") || line.hasPrefix("| simply") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let deps = cells[1] == "—" ? [] : cells[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for d in deps { #expect(above.contains(d), "\(cells[0]) depends on \(d), which is not above it") }
            above.insert(cells[0])
        }
        #expect(above.count >= 9)
    }

    @Test func moduleTableIsPackageSwift() throws {
        let package = try packageGraph(), documented = try documentedGraph()
        #expect(package.count >= 9, "the Package.swift pattern finds the targets: \(package.keys.sorted())")
        #expect(Set(package.keys) == Set(documented.keys), "modules: Package.swift \(package.keys.sorted()), design.md \(documented.keys.sorted())")
        for (name, deps) in package {
            #expect(documented[name] == deps, "\(name): Package.swift depends on \(deps.sorted()), design.md says \(documented[name].map { $0.sorted() } ?? [])")
        }
    }

    /// Sources, Tests, tools, configs and the docs cite no file outside the repository.
    @Test func nothingCitesAFileOutsideTheRepository() throws {
        var checked = 0
        for folder in ["Sources", "Tests", "tools", "docs", "configs", ".ci"] {
            guard let e = FileManager.default.enumerator(at: repo.appendingPathComponent(folder), includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in e where ["swift", "md", "py", "sh", "json", ""].contains(url.pathExtension) {
                guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
                let name = url.path.replacingOccurrences(of: repo.path + "/", with: "")
                if name == "Tests/SimplyTrainTests/DesignDocTests.swift" || name == "Tests/SimplyTrainTests/DocsLinkTests.swift" { continue }
                for outside in ["../shared/", "REFERENCE.md", "DESIGN.md"] {
                    #expect(!text.contains(outside), "\(name) cites \(outside), which is not in the repository")
                }
                checked += 1
            }
        }
        #expect(checked >= 200)
    }
}
