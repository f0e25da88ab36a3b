import ArgumentParser
import Foundation
import SimplyExport

/// `simply export --format hf --checkpoint RUN OUT_DIR`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as a Hugging Face model directory (transformers loads it with no custom code).",
        discussion: """
        Writes model.safetensors (float32, HF Llama names), config.json (LlamaForCausalLM, or \
        LlamaForSequenceClassification for a score-head model), generation_config.json, tokenizer.json and \
        tokenizer_config.json. See docs/export.md.
        """)

    @Option(name: .customLong("format"), help: "Output format: hf.")
    var format: String = "hf"

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Argument(help: "The directory to write (must not exist or be empty).")
    var outDir: String

    func run() throws {
        guard format == "hf" else { fail("--format \(format) is not supported (only hf)") }
        do {
            let s = try HFExport.export(from: URL(fileURLWithPath: checkpoint), to: URL(fileURLWithPath: outDir))
            print("exported \(s.checkpoint.path) (step \(s.step), \(s.parameters) parameters, tokenizer \(s.tokenizer)) "
                  + "as \(s.architecture.rawValue) to \(outDir)")
        } catch { fail("\(error)") }
    }
}
