import Foundation
import Testing
import SimplyCore
import SimplyRun
import SimplyTrain

/// A model small enough to train for a few steps inside a test.
func microConfig(steps: Int = 4, shards: Int = 2, batch: Int = 4) throws -> ExperimentConfig {
    try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL, overrides: [
        "model.d_model=32", "model.n_layers=2", "model.n_heads=4", "model.n_kv_heads=2", "model.d_ff=48",
        "model.seq_len=16", "model.vocab_size=259", "train.batch_size=\(batch)", "train.grad_shards=\(shards)",
        "train.steps=\(steps)", "train.warmup_steps=1", "data.synthetic_bytes=20000",
    ])
}

@Suite struct TrainerTests {
    func records(_ config: ExperimentConfig, threads: Int) throws -> [String] {
        let data = try TrainingData.load(config)
        let trainer = try Trainer(config: config, data: data, runtime: RuntimeOptions(threads: threads, deterministic: true))
        return (0..<config.train.steps).map { _ in trainer.trainStep().hashLine.serialized() }
    }

    @Test func sameHashesOnOneTwoAndThreeThreads() throws {
        let config = try microConfig(steps: 4, shards: 2)
        let one = try records(config, threads: 1)
        #expect(one.count == 4)
        #expect(try records(config, threads: 2) == one)
        #expect(try records(config, threads: 3) == one)
        #expect(try records(config, threads: 1) == one)
        // Another seed gives other bits: the hashes do see the state.
        var other = config
        other.train.seed = 7
        #expect(try records(other, threads: 1) != one)
    }

    /// The options of the imported families (Qwen2's q/k/v biases, Qwen3's q/k
    /// norms and explicit head_dim, Llama 3's rope scaling, Mistral's sliding
    /// window) train with the same bits on 1, 2 and 3 threads, and each one
    /// changes the bits (it is not silently ignored).
    @Test func architectureOptionsKeepTheBits() throws {
        var config = try microConfig(steps: 3, shards: 2)
        let plain = try records(config, threads: 1)
        config.model.qkvBias = true
        config.model.qkNorm = true
        config.model.headDimension = 12
        config.model.ropeScaling.type = "llama3"
        config.model.ropeScaling.factor = 8
        config.model.ropeScaling.originalMaxPosition = 8
        config.model.slidingWindow = 5
        try config.validate()
        let one = try records(config, threads: 1)
        #expect(try records(config, threads: 2) == one)
        #expect(try records(config, threads: 3) == one)
        #expect(one != plain)
        for change in [{ (c: inout ExperimentConfig) in c.model.qkvBias = false }, { $0.model.qkNorm = false },
                       { $0.model.headDimension = 0 }, { $0.model.ropeScaling.type = "none" }, { $0.model.slidingWindow = 0 }] {
            var other = config
            change(&other)
            #expect(try records(other, threads: 2) != one)
        }
    }

    /// Two threads or more run sibling shards at once on a second model that
    /// shares the parameters; the hashes equal one thread's for 2, 3 and 4
    /// shards (one pair; a pair and a lone leaf; two pairs).
    @Test(arguments: [2, 3, 4])
    func concurrentShardsKeepTheBits(shards: Int) throws {
        let config = try microConfig(steps: 3, shards: shards, batch: 12)
        let data = try TrainingData.load(config)
        let two = try Trainer(config: config, data: data, runtime: RuntimeOptions(threads: 2, deterministic: true))
        #expect(two.concurrentShardLanes == 2)
        let one = try Trainer(config: config, data: data, runtime: RuntimeOptions(threads: 1, deterministic: true))
        #expect(one.concurrentShardLanes == 1)
        for _ in 0..<config.train.steps {
            #expect(two.trainStep().hashLine.serialized() == one.trainStep().hashLine.serialized())
        }
    }

    /// Gradient checkpointing (`train.checkpoint_activations`: layer, or every
    /// k layers) trains with the bits of the run that keeps every activation
    /// (two shards in one gradient buffer: the second adds into the first);
    /// it is not part of the run's identity, and a bad value is a one-line
    /// error naming the key.
    @Test func checkpointedActivationsKeepTheBits() throws {
        var plain = try microConfig(steps: 3, shards: 2)
        plain.model.nLayers = 3
        let expected = try records(plain, threads: 1)
        for value in ["layer", "2", "3"] {
            var config = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL,
                                                      overrides: ["train.checkpoint_activations=\(value)"])
            var c = plain
            c.train.checkpointEvery = config.train.checkpointEvery
            #expect(c.train.checkpointEvery == (value == "layer" ? 1 : Int(value)!))
            #expect(c.identitySHA256 == plain.identitySHA256)
            let trainer = try Trainer(config: c, data: try TrainingData.load(c), runtime: RuntimeOptions(threads: 2, deterministic: true))
            #expect(trainer.inPlaceShardPair && trainer.concurrentShardLanes == 1)
            #expect(try records(c, threads: 1) == expected, "checkpoint_activations=\(value), 1 thread")
            #expect(try records(c, threads: 2) == expected, "checkpoint_activations=\(value), 2 threads")
        }
        #expect(plain.json().serialized().contains("checkpoint_activations") == false)
        for bad in ["0", "all", "-1"] {
            #expect(throws: ConfigError.self) {
                _ = try ExperimentConfig.resolve(experiment: "tiny", configDirectory: configsURL,
                                                 overrides: ["train.checkpoint_activations=\(bad)"])
            }
        }
    }

    /// Each record's state hash is the state right after its step (what
    /// stateHash() gives then), and every step's differs.
    @Test func recordStateHashIsTheStepsState() throws {
        let config = try microConfig(steps: 5, shards: 2)
        let trainer = try Trainer(config: config, data: try TrainingData.load(config),
                                  runtime: RuntimeOptions(threads: 2, deterministic: true))
        var records: [StepRecord] = [], states: [String] = []
        for _ in 0..<config.train.steps {
            records.append(trainer.trainStep())
            states.append(trainer.stateHash())
        }
        #expect(records.map(\.stateSHA256) == states)
        #expect(Set(states).count == states.count)
    }

    /// A step's gradient norm (taken from the gradient tree's last addition
    /// where there is one) has the bits of globalNorm over the summed gradient.
    @Test(arguments: [1, 2, 3, 4])
    func stepGradNormIsTheGlobalNormOfTheSum(shards: Int) throws {
        let config = try microConfig(steps: 2, shards: shards, batch: 12)
        let runtime = RuntimeOptions(threads: 2, deterministic: true)
        let a = try Trainer(config: config, data: try TrainingData.load(config), runtime: runtime)
        let b = try Trainer(config: config, data: try TrainingData.load(config), runtime: runtime)
        let norm = a.trainStep().gradNorm
        _ = b.batchGradient()
        #expect(norm.bitPattern == globalNorm(b.model.trainableGrads, parallel: .serial).bitPattern, "\(shards) shards")
    }

    @Test func lossFallsOnTheBuiltInCorpus() throws {
        var config = try microConfig(steps: 40, shards: 1)
        config.train.lr = 1e-2
        config.train.minLR = 1e-3
        let trainer = try Trainer(config: config, data: try TrainingData.load(config),
                                  runtime: RuntimeOptions(threads: 2, deterministic: true))
        var losses: [Float] = []
        for _ in 0..<config.train.steps { losses.append(trainer.trainStep().loss) }
        let first = losses.prefix(3).reduce(0, +) / 3, last = losses.suffix(3).reduce(0, +) / 3
        #expect(first > 5.0)                 // ≈ ln(259) at random init
        #expect(last < first - 1.5, "loss \(first) -> \(last)")
    }

    @Test func hashLineHasOnlyBitExactFields() throws {
        let config = try microConfig(steps: 1)
        let line = try records(config, threads: 1)[0]
        let v = try JSONValue.parse(line)
        guard case let .object(pairs) = v else { Issue.record("not an object"); return }
        #expect(pairs.map(\.0).sorted() == ["batch_sha256", "loss_bits", "state_sha256", "step"])
        #expect(v["loss_bits"]?.stringValue?.count == 8)
        #expect(v["state_sha256"]?.stringValue?.count == 64)
    }
}
