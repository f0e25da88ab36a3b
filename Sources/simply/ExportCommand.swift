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
        tokenizer_config.json. A LoRA run exports merged (W + (alpha/r)·B·A), or with --format peft as a PEFT \
        adapter directory (adapter_config.json, adapter_model.safetensors). See docs/export.md and docs/lora.md.
        """)

    @Option(name: .customLong("format"), help: "Output format: hf (a whole model), or peft (a LoRA run's adapters).")
    var format: String = "hf"

    @OptionGroup var model: CheckpointOption

    var checkpoint: String { model.checkpoint }

    @Argument(help: "The directory to write (must not exist or be empty).")
    var outDir: String

    func run() throws {
        guard format == "hf" || format == "peft" else { fail("--format \(format) is not supported (hf or peft)") }
        if format == "peft" {
            do {
                let s = try PEFTAdapter.export(from: URL(fileURLWithPath: checkpoint), to: URL(fileURLWithPath: outDir))
                print("exported the LoRA adapters of \(s.checkpoint.path) (rank \(s.config.rank), alpha \(s.config.alpha), "
                      + "\(s.config.targets.map(\.rawValue).joined(separator: ","))) as a PEFT adapter directory to \(outDir)"
                      + (s.base.isEmpty ? "" : "; its base: \(s.base)"))
            } catch { fail("\(error)") }
            return
        }
        do {
            let s = try HFExport.export(from: URL(fileURLWithPath: checkpoint), to: URL(fileURLWithPath: outDir))
            print("exported \(s.checkpoint.path) (step \(s.step), \(s.parameters) parameters, tokenizer \(s.tokenizer)) "
                  + "as \(s.architecture.rawValue) to \(outDir)")
        } catch { fail("\(error)") }
    }
}
