import Foundation
import Testing
import SimplyCore
import SimplyExport
import SimplyModel

/// PEFT's adapter directory (golden/lora/qwen3-peft, written by PEFT 0.21's
/// save_pretrained in tools/reference/lora_reference.py): Simply reads it to
/// the adapters PEFT saved, and writes the same tensor names, shapes and
/// values; a directory Simply wrote reads back bit for bit; bad directories
/// are refused naming the file and key.
@Suite struct PEFTAdapterTests {
    static let golden = repositoryRoot.appendingPathComponent("golden")

    static func qwen3() throws -> ModelConfig {
        try HFConfig.parse(try readJSON(golden.appendingPathComponent("hf/families/qwen3/config.json")), file: "config.json").0
    }

    @Test func readsPEFTsDirectoryAndWritesItsNames() throws {
        let model = try Self.qwen3()
        let peftDir = Self.golden.appendingPathComponent("lora/qwen3-peft")
        let lora = try PEFTAdapter.read(peftDir, model: model, maxRows: 8)
        #expect(lora.config.rank == 4 && lora.config.alpha == 8 && Set(lora.config.targets) == Set(LoRATarget.allCases))
        // The values PEFT trained with (golden/lora/qwen3.safetensors holds them by PEFT's saved names).
        let ref = try SafetensorsFile.read(Self.golden.appendingPathComponent("lora/qwen3.safetensors"))
        for e in lora.entries {
            let got = (0..<e.count).map { lora.params.pointer[e.offset + $0].bitPattern }
            #expect(got == (try ref.tensor(e.name)).toArray().map(\.bitPattern), "\(e.name)")
        }
        // Simply's files: PEFT's tensor names and shapes, the same values.
        let dir = try scratchDirectory("peft-write")
        defer { try? FileManager.default.removeItem(at: dir) }
        for f in PEFTAdapter.files(lora, base: "golden/hf/families/qwen3") {
            try Data(f.bytes).write(to: dir.appendingPathComponent(f.name))
        }
        let theirs = try SafetensorsFile.read(peftDir.appendingPathComponent(PEFTAdapter.weightsFile))
        let ours = try SafetensorsFile.read(dir.appendingPathComponent(PEFTAdapter.weightsFile))
        #expect(ours.names.sorted() == theirs.names.sorted())
        for name in theirs.names {
            #expect(ours.entries[name]?.shape == theirs.entries[name]?.shape, "\(name)")
            #expect(try ours.tensor(name).toArray().map(\.bitPattern) == theirs.tensor(name).toArray().map(\.bitPattern), "\(name)")
        }
        let back = try PEFTAdapter.read(dir, model: model, maxRows: 8)
        #expect(back.config == lora.config)
        #expect(back.params.toArray().map(\.bitPattern) == lora.params.toArray().map(\.bitPattern))
    }

    @Test func badAdapterDirectoriesAreRefused() throws {
        let model = try Self.qwen3()
        let dir = try scratchDirectory("peft-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let peftDir = Self.golden.appendingPathComponent("lora/qwen3-peft")
        let good = try readJSON(peftDir.appendingPathComponent(PEFTAdapter.configFile))
        try FileManager.default.copyItem(at: peftDir.appendingPathComponent(PEFTAdapter.weightsFile),
                                         to: dir.appendingPathComponent(PEFTAdapter.weightsFile))
        func refused(_ json: JSONValue, _ fragments: [String]) throws {
            try writeJSON(json, dir.appendingPathComponent(PEFTAdapter.configFile))
            #expect { try PEFTAdapter.read(dir, model: model, maxRows: 8) } throws: { e in
                let text = "\(e)"
                return !text.contains("\n") && fragments.allSatisfy { text.contains($0) }
            }
        }
        try refused(setting(good, "use_dora", .bool(true)), ["adapter_config.json", "use_dora"])
        try refused(setting(good, "peft_type", .string("IA3")), ["adapter_config.json", "peft_type"])
        try refused(setting(good, "target_modules", .array([.string("lm_head")])), ["target_modules", "lm_head"])
        try refused(setting(good, "r", .int(8)), ["adapter_model.safetensors", "lora_A.weight", "[4, 64]", "[8, 64]"])
        try refused(setting(good, "target_modules", .array([.string("q_proj")])), ["adapter_model.safetensors", "not an adapter"])
    }
}
