import ArgumentParser
import Foundation
import SimplyExport
import SimplyPosttraining

/// `simply import HF_DIR OUT`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a Hugging Face Llama checkpoint (safetensors, single or sharded) into a Simply run directory.",
        discussion: """
        OUT holds config.json, experiment.json and checkpoints/step-00000000: use OUT with --checkpoint \
        (simply eval ...) or --load_checkpoint OUT --experiment_config OUT/experiment.json (simply train). \
        Unsupported architectures and options are refused. With --lora_base RUN, HF_DIR is a PEFT LoRA adapter \
        directory (adapter_config.json, adapter_model.safetensors) for the model RUN holds, and OUT a LoRA run \
        directory. See docs/export.md and docs/lora.md.
        """)

    @Argument(help: "A Hugging Face model directory: config.json, model.safetensors or model.safetensors.index.json + shards, tokenizer.json.")
    var hfDir: String

    @Argument(help: "The run directory to create.")
    var out: String

    @Option(name: .customLong("seq_len"), help: "model.seq_len (default: max_position_embeddings, at most \(HFImport.defaultMaxSeqLen)).")
    var seqLen: Int?

    @Option(name: .customLong("tokenizer"), help: "byte or a tokenizer.json to use instead of HF_DIR/tokenizer.json.")
    var tokenizer: String?

    @Option(name: .customLong("lora_base"), help: "HF_DIR is a PEFT adapter directory for the model of this run (e.g. the import of its base).")
    var loraBase: String?

    func run() throws {
        if let base = loraBase {
            do {
                let c = try PEFTAdapter.importAdapter(from: URL(fileURLWithPath: hfDir), base: URL(fileURLWithPath: base),
                                                      to: URL(fileURLWithPath: out), schema: algorithms.schema)
                print("imported the PEFT adapter \(hfDir) onto \(base) to \(c.path)")
            } catch { fail("\(error)") }
            return
        }
        if let s = seqLen, s < 1 { fail("--seq_len must be >= 1") }
        do {
            let s = try HFImport.importModel(from: URL(fileURLWithPath: hfDir), to: URL(fileURLWithPath: out),
                                             options: .init(seqLen: seqLen, tokenizer: tokenizer, schema: algorithms.schema))
            for n in s.notes { log("note: \(n)") }
            let m = s.config.model
            print("imported \(s.architecture.rawValue) (d_model \(m.dModel), \(m.nLayers) layers, \(m.nHeads) heads / "
                  + "\(m.nKVHeads) kv, vocab \(m.vocabSize), tokenizer \(s.config.data.tokenizer)) to \(s.checkpoint.path)")
        } catch { fail("\(error)") }
    }
}
