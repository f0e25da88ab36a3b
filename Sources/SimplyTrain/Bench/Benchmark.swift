import Foundation
import SimplyCore
import SimplyModel
import SimplyRun

/// What `simply bench` measures and how long.
public struct BenchOptions: Sendable {
    public var warmupSteps = 2
    public var steps = 10
    public var threads = 2
    public var deterministic = false
    /// Side of the large square product the kernels are also timed at.
    public var squareSize = 1024
    /// Thread counts the kernels are timed at.
    public var kernelThreads = [1, 2]
    /// Least time spent per kernel measurement (the fastest call counts).
    public var kernelSeconds = 0.3
    public var sampleNewTokens = 64
    public init() {}
}

/// Training, forward-only and sampling throughput of one config, peak memory,
/// and the deterministic matmul kernel against OpenBLAS sgemm at the model's
/// shapes and a large square, all in one process.
///
/// FLOP counting (PaLM appendix B, nanoGPT's estimate_mfu): a training token
/// costs 6·P + 12·L·T·d FLOPs (P parameters with a tied embedding counted
/// once, L layers, T = seq_len, d = d_model; attention counted as if not
/// causal); a forward token a third of that. `matmul_flops_per_step` is the
/// exact Σ 2·m·n·k of the products the step runs.
public enum Benchmark {
    /// `initCheckpoint`: the weights to start from, as `simply train --load_checkpoint`.
    public static func run(name: String, config: ExperimentConfig, options o: BenchOptions, algorithms: AlgorithmList,
                           initCheckpoint: URL? = nil, log: (String) -> Void) throws -> JSONValue {
        let runtime = RuntimeOptions(threads: o.threads, deterministic: o.deterministic)
        let parallel = Parallel(threads: o.threads, deterministic: o.deterministic)
        let start = try initCheckpoint.map { try Checkpoints.resolve($0) }
        let objective = try algorithms.makeObjective(ObjectiveContext(config: config, runtime: runtime, initCheckpoint: start))
        let trainer = Trainer(config: config, objective: objective, runtime: runtime)
        if let start { _ = try loadInitialWeights(start, into: trainer) }
        let model = trainer.model, c = config.model
        let params = model.layout.count
        let tokensPerStep = objective.tokensPerStep
        let shards = config.train.gradShards, rows = objective.rowsPerShard
        let flopsPerToken = 6 * Double(params) + 12 * Double(c.nLayers * c.seqLen * c.dModel)
        let memoryBeforeTraining = ProcessMemory.peakBytes

        // The machine's FMA peak, measured here (FMAPeak: a register-only loop on every thread).
        log("bench: measuring the FMA peak (register-only FMA loop, \(FMAPeak.Vector.scalarCount) float lanes, 1 and \(o.threads) thread(s))")
        let peakOne = FMAPeak.measure(threads: 1)
        let peakAll = o.threads == 1 ? peakOne : FMAPeak.measure(threads: o.threads)

        // Training: warm-up steps are not timed; the phase timer runs on the measured ones.
        log("bench: \(params) parameters" + (model.adapters.map { " (LoRA rank \($0.config.rank): \(model.trainableGrads.count) trained)" } ?? "")
            + ", \(tokensPerStep) tokens/step, \(o.threads) thread(s), "
            + (o.deterministic ? "deterministic" : "fast") + "; \(o.warmupSteps) warm-up + \(o.steps) steps")
        for _ in 0..<o.warmupSteps { _ = trainer.trainStep() }
        let timer = PhaseTimer()
        trainer.phaseTimer = timer
        var stepSeconds: [Double] = []
        MatmulClock.start()
        for _ in 0..<o.steps {
            let t0 = monotonicSeconds()
            _ = trainer.trainStep()
            stepSeconds.append(monotonicSeconds() - t0)
        }
        let inStep = MatmulClock.stop()
        trainer.phaseTimer = nil
        // The state hash (StateHasher over parameters and AdamW moments): most
        // pieces are hashed inside AdamW's pass (phase "adamw"), the rest and
        // the root in the phase "state_hash".
        let hashSeconds = (timer.seconds["state_hash"] ?? 0) / Double(max(1, o.steps))
        let hashPieces = trainer.lastStateHashPieces
        let hashBytes = trainer.stateHashTensors.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
        let trainSeconds = stepSeconds.reduce(0, +)
        let trainTokensPerSecond = Double(tokensPerStep * o.steps) / trainSeconds
        let trainPeak = ProcessMemory.peakBytes
        // What the resident training memory holds, buffer by buffer (touched pages).
        var use = trainer.model.memoryUse()
        if let s = trainer.sibling {
            let u = s.memoryUse()
            use.weights += u.weights; use.gradients += u.gradients; use.activations += u.activations; use.scratch += u.scratch
        }
        use.gradients += trainer.tree.allocatedBytes
        let optimizerBytes = trainer.optimizer.m.storage.residentBytes + trainer.optimizer.v.storage.residentBytes
        let accounted = use.weights + use.gradients + optimizerBytes + use.activations + use.scratch

        // Forward only: one gradient shard's rows, as many forwards as the measured steps ran.
        let n = rows * c.seqLen
        var tokens = (0..<n).map { Int32(($0 &* 7919) % c.vocabSize) }
        if let p = objective as? PretrainObjective {
            _ = p.loadBatch(step: 0)
            p.loadShard(0)
            tokens = p.shardInputs
        }
        let targets = Array(tokens.dropFirst()) + [tokens[0]]
        let weights = [Float](repeating: 1 / Float(n), count: n)
        _ = model.forward(tokens: tokens, targets: targets, weights: weights, batch: rows, seqLen: c.seqLen, parallel: parallel)
        let forwards = max(1, o.steps * shards)
        let f0 = monotonicSeconds()
        for _ in 0..<forwards {
            _ = model.forward(tokens: tokens, targets: targets, weights: weights, batch: rows, seqLen: c.seqLen, parallel: parallel)
        }
        let forwardSeconds = (monotonicSeconds() - f0) / Double(forwards)
        // With two shards at once (Trainer.concurrentShardLanes) each shard has half the
        // threads; the breakdown below then assumes the two lanes overlap perfectly.
        let lanes = trainer.concurrentShardLanes
        var laneForwardSeconds = forwardSeconds
        if lanes > 1 {
            let half = Parallel(threads: o.threads / lanes, deterministic: o.deterministic)
            let l0 = monotonicSeconds()
            for _ in 0..<forwards {
                _ = model.forward(tokens: tokens, targets: targets, weights: weights, batch: rows, seqLen: c.seqLen, parallel: half)
            }
            laneForwardSeconds = (monotonicSeconds() - l0) / Double(forwards * lanes)
        }

        // Sampling: batch_size prompts of 8 tokens, temperature 1.
        let promptLength = min(8, c.seqLen - 1)
        let newTokens = max(1, min(o.sampleNewTokens, c.seqLen - promptLength))
        var prompts: [[Int32]] = []
        for b in 0..<config.train.batchSize {
            let start = (b * promptLength) % max(1, n - promptLength)
            prompts.append(Array(tokens[start..<(start + promptLength)]))
        }
        let sampler = Sampler(model: model, maxRows: config.train.batchSize)
        let sampling = SamplingConfig(temperature: 1, maxNewTokens: newTokens, seed: 1)
        _ = sampler.generate(prompts: prompts, config: SamplingConfig(temperature: 1, maxNewTokens: 2, seed: 1), parallel: parallel)
        let s0 = monotonicSeconds()
        let completions = sampler.generate(prompts: prompts, config: sampling, parallel: parallel)
        let sampleSeconds = monotonicSeconds() - s0
        let sampledTokens = completions.reduce(0) { $0 + $1.count }

        // Kernels at the model's shapes and a large square.
        log("bench: timing matrix products (deterministic kernel vs OpenBLAS sgemm, threads \(o.kernelThreads))")
        let shapes = MatmulShape.trainingStep(c, batch: config.train.batchSize, shards: shards,
                                              checkpointEvery: config.train.checkpointEvery)
        let linear = shapes.linear.map { MatmulBench.time($0, threads: o.kernelThreads, minSeconds: o.kernelSeconds) }
        let attention = shapes.attention.map { MatmulBench.time($0, threads: [1], minSeconds: o.kernelSeconds) }
        let q = o.squareSize
        let square = MatmulBench.time(MatmulShape(name: "square", m: q, n: q, k: q, transA: false, transB: false, count: 1),
                                      threads: o.kernelThreads, minSeconds: o.kernelSeconds)

        // Where a step's time goes.
        let stepMean = trainSeconds / Double(o.steps)
        let shardSeconds = (timer.seconds["shard_forward_backward"] ?? 0) / Double(o.steps)
        // The tree phase encloses the shards': report what it adds (the sums and copies).
        var phases: [(String, JSONValue)] = timer.order.map { name in
            let s = timer.seconds[name]! / Double(o.steps)
            return name == "shards_and_tree_sum" ? ("tree_sum", .double(s - shardSeconds)) : (name, .double(s))
        }
        phases.append(("forward_estimate", .double(laneForwardSeconds * Double(shards))))
        phases.append(("backward_estimate", .double(shardSeconds - laneForwardSeconds * Double(shards))))
        let kernel = o.deterministic ? "deterministic" : "openblas"
        let laneThreads = o.threads / lanes
        let kernelThreads = o.kernelThreads.contains(laneThreads) ? laneThreads : o.kernelThreads.max()!
        let linearMatmul = linear.reduce(0.0) { $0 + ($1.seconds[kernel]?[kernelThreads] ?? 0) * Double($1.shape.count) }
            / Double(lanes)
        // Attention products run serially inside the (row, head) loop that the threads split.
        // Timed at full T×T; the causal blocks run only part of each product.
        let attentionMatmul = Attention.causalFraction(seqLen: c.seqLen)
            * attention.reduce(0.0) { $0 + ($1.seconds["deterministic"]?[1] ?? 0) * Double($1.shape.count) }
            / Double(min(o.threads, config.train.batchSize * c.nHeads))
        phases.append(("linear_matmul_estimate", .double(linearMatmul)))
        phases.append(("attention_matmul_estimate", .double(attentionMatmul)))
        phases.append(("other_in_forward_backward_estimate", .double(shardSeconds - linearMatmul - attentionMatmul)))

        let matmulFlops = (shapes.linear + shapes.attention).reduce(0.0) { $0 + $1.flops * Double($1.count) }
        func timingJSON(_ t: MatmulTiming) -> JSONValue {
            var pairs: [(String, JSONValue)] = [
                ("name", .string(t.shape.name)), ("m", .int(t.shape.m)), ("n", .int(t.shape.n)), ("k", .int(t.shape.k)),
                ("trans_a", .bool(t.shape.transA)), ("trans_b", .bool(t.shape.transB)), ("count_per_step", .int(t.shape.count)),
            ]
            for k in MatmulBench.kernels {
                for (threads, s) in (t.seconds[k] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    pairs.append(("\(k)_\(threads)t_gflops", .double(t.shape.flops / s / 1e9)))
                }
            }
            return .object(pairs)
        }
        var kernels: [(String, JSONValue)] = [
            ("model_shapes", .array(linear.map(timingJSON))),
            ("attention_shapes", .array(attention.map(timingJSON))),
            ("square", timingJSON(square)),
        ]
        for k in MatmulBench.kernels {
            for t in o.kernelThreads {
                kernels.append(("model_shapes_\(k)_\(t)t_gflops", .double(MatmulBench.aggregate(linear, kernel: k, threads: t))))
                kernels.append(("square_\(k)_\(t)t_gflops", .double(square.gflops(k, threads: t) ?? 0)))
            }
        }
        let trainGflops = flopsPerToken * trainTokensPerSecond / 1e9
        var ratios: [(String, JSONValue)] = [
            ("train_gflops_over_fma_peak", .double(trainGflops / peakAll.total)),
            ("matmul_in_step_gflops_per_thread_over_fma_peak_per_thread",
             .double(inStep.flops / inStep.threadSeconds / 1e9 / (peakAll.total / Double(o.threads)))),
        ]
        if o.kernelThreads.contains(2) {
            ratios.append(("train_gflops_over_openblas_2t_square", .double(trainGflops / (square.gflops("openblas", threads: 2) ?? .nan))))
            ratios.append(("train_gflops_over_openblas_2t_model_shapes",
                           .double(trainGflops / MatmulBench.aggregate(linear, kernel: "openblas", threads: 2))))
        }

        let sorted = stepSeconds.sorted()
        return .object([
            ("config", .object([
                ("name", .string(name)), ("parameters", .int(params)), ("vocab_size", .int(c.vocabSize)),
                ("d_model", .int(c.dModel)), ("n_layers", .int(c.nLayers)), ("n_heads", .int(c.nHeads)),
                ("n_kv_heads", .int(c.nKVHeads)), ("d_ff", .int(c.dFF)), ("seq_len", .int(c.seqLen)),
                ("batch_size", .int(config.train.batchSize)), ("grad_shards", .int(shards)),
                ("tie_embeddings", .bool(c.tieEmbeddings)), ("training_mode", .string(config.train.mode)),
                ("trained_parameters", .int(model.trainableGrads.count)),
                ("lora_rank", .int(model.adapters?.config.rank ?? 0)),
                ("lora_targets", .string(model.adapters?.config.targets.map(\.rawValue).joined(separator: ",") ?? "")),
            ])),
            ("run", .object([
                ("simply_version", .string(Simply.version)), ("threads", .int(o.threads)),
                ("concurrent_shards", .int(lanes)), ("deterministic", .bool(o.deterministic)), ("warmup_steps", .int(o.warmupSteps)), ("steps", .int(o.steps)),
                ("openblas_core", .string(OpenBLASRuntime.coreName)), ("cpu", .string(cpuModel())),
                ("online_cpus", .int(ProcessInfo.processInfo.activeProcessorCount)),
                ("load_average_1m", .double(loadAverage())),
                ("flops_per_token_formula", .string("6*parameters + 12*n_layers*seq_len*d_model")),
            ])),
            ("train", .object([
                ("tokens_per_step", .int(tokensPerStep)), ("tokens_per_sec", .double(trainTokensPerSecond)),
                ("step_sec_mean", .double(stepMean)), ("step_sec_min", .double(sorted.first!)),
                ("step_sec_median", .double(sorted[sorted.count / 2])), ("step_sec_max", .double(sorted.last!)),
                ("flops_per_token", .double(flopsPerToken)), ("gflops", .double(trainGflops)),
                ("matmul_flops_per_step", .double(matmulFlops)),
                ("matmul_gflops", .double(matmulFlops / stepMean / 1e9)),
                ("phase_sec_per_step", .object(phases)),
                // Every product the measured steps ran (attention's too), timed where it ran.
                ("matmul_in_step", .object([
                    ("thread_sec_per_step", .double(inStep.threadSeconds / Double(o.steps))),
                    ("share_of_thread_time", .double(inStep.threadSeconds / (trainSeconds * Double(o.threads)))),
                    ("gflops_per_thread", .double(inStep.flops / inStep.threadSeconds / 1e9)),
                    ("flops_per_step", .double(inStep.flops / Double(o.steps))),
                ])),
                ("state_hash", .object([
                    ("bytes_per_step", .int(hashBytes)),
                    ("pieces", .int(hashPieces.total)),
                    ("pieces_hashed_in_adamw", .int(hashPieces.inAdamW)),
                    ("sec_per_step_after_adamw", .double(hashSeconds)),
                ])),
            ])),
            ("forward", .object([
                ("tokens_per_call", .int(n)), ("sec_per_call", .double(forwardSeconds)),
                ("tokens_per_sec", .double(Double(n) / forwardSeconds)),
                ("gflops", .double(flopsPerToken / 3 * Double(n) / forwardSeconds / 1e9)),
            ])),
            ("sample", .object([
                ("rows", .int(config.train.batchSize)), ("prompt_tokens", .int(promptLength)),
                ("new_tokens", .int(sampledTokens)), ("sec", .double(sampleSeconds)),
                ("tokens_per_sec", .double(Double(sampledTokens) / sampleSeconds)),
            ])),
            ("memory", .object([
                ("peak_rss_bytes_before_training", .int(memoryBeforeTraining)),
                ("peak_rss_bytes_training", .int(trainPeak)),
                ("peak_rss_bytes_end", .int(ProcessMemory.peakBytes)),
                ("ru_maxrss_bytes_end", .int(ProcessMemory.maxRSSBytes)),
                // Resident right after the timed steps; `other` is the rest of the training
                // peak: the runtime and libraries, the data, objective-owned models, transient
                // per-thread scratch and the allocator.
                ("training_breakdown_bytes", .object([
                    ("weights", .int(use.weights)), ("gradients", .int(use.gradients)),
                    ("optimizer_state", .int(optimizerBytes)), ("activations", .int(use.activations)),
                    ("scratch", .int(use.scratch)), ("other", .int(trainPeak - accounted)),
                ])),
            ])),
            ("fma_peak", .object([
                ("method", .string("register-only loop of 12 independent \(FMAPeak.Vector.scalarCount)-lane FMA chains per thread, all threads at once, best of 5 rounds of 0.2 s")),
                ("vector_lanes", .int(FMAPeak.Vector.scalarCount)),
                ("gflops_1t", .double(peakOne.total)),
                ("threads", .int(o.threads)),
                ("gflops", .double(peakAll.total)),
                ("gflops_per_thread", .array(peakAll.perThread.map { .double($0) })),
            ])),
            ("kernels", .object(kernels)),
            ("ratios", .object(ratios)),
        ])
    }

    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }

    static func loadAverage() -> Double {
        var l = [Double](repeating: 0, count: 3)
        return getloadavg(&l, 3) >= 1 ? l[0] : -1
    }
}
