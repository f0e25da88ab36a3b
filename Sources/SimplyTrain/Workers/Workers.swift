import CMPI
import Foundation
import SimplyRun

/// The processes of a data-parallel run (docs/design.md, Workers): Open MPI ranks
/// when started by `mpirun`, else one process that is the only worker.
/// Every collective here moves bytes in rank order; none of them adds
/// numbers, so the worker count never reaches a sum (the fixed tree does,
/// see GradientExchange).
public final class Workers: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Ranks on this host (for the default thread count).
    public let localSize: Int
    let mpi: Bool
    public var isRoot: Bool { rank == 0 }

    /// An error every worker throws together, having agreed on it through a
    /// collective (see `abortTogether`).
    public struct SharedFailure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    init(rank: Int, size: Int, localSize: Int, mpi: Bool) {
        self.rank = rank; self.size = size; self.localSize = localSize; self.mpi = mpi
    }

    /// One process, no MPI.
    public static let single = Workers(rank: 0, size: 1, localSize: 1, mpi: false)

    /// Whether `mpirun` started this process (Open MPI sets OMPI_COMM_WORLD_SIZE).
    public static var launchedByMPI: Bool { ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil }

    /// MPI_Init when started by mpirun, else `single`. Call once, from the main thread.
    public static func start() -> Workers {
        guard launchedByMPI else { return single }
        var provided: Int32 = 0
        // Only the main thread calls MPI; the kernels' threads never do.
        guard MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided) == MPI_SUCCESS else {
            FileHandle.standardError.write(Data("error: MPI_Init failed\n".utf8))
            exit(1)
        }
        var r: Int32 = 0, n: Int32 = 0
        MPI_Comm_rank(simply_mpi_comm_world(), &r)
        MPI_Comm_size(simply_mpi_comm_world(), &n)
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? Int(n)
        return Workers(rank: Int(r), size: Int(n), localSize: max(1, local), mpi: true)
    }

    /// MPI_Finalize (after a run that ended normally, on every rank).
    public func finish() {
        if mpi { MPI_Finalize() }
    }

    /// Ends the whole job: prints `message` naming this rank, then MPI_Abort
    /// (which makes mpirun stop every other rank). One process just exits.
    public func abort(_ message: String) -> Never {
        let who = size > 1 ? "rank \(rank) of \(size): " : ""
        FileHandle.standardError.write(Data("error: \(who)\(message)\n".utf8))
        if mpi { MPI_Abort(simply_mpi_comm_world(), 1) }
        exit(1)
    }

    /// Ends the job for an error every worker met together (a bad config, a
    /// checkpoint the workers agreed failed): worker 0 reports it and aborts;
    /// the others wait for that, so the message appears once. Should worker 0
    /// not abort within a minute, this worker does.
    public func abortTogether(_ message: String) -> Never {
        if isRoot || !mpi { abort(message) }
        for _ in 0..<600 { usleep(100_000) }
        abort(message)
    }

    public func barrier() {
        if mpi { MPI_Barrier(simply_mpi_comm_world()) }
    }

    /// True on every rank when `flag` is true on any rank.
    public func anyTrue(_ flag: Bool) -> Bool {
        guard mpi else { return flag }
        var mine: Int32 = flag ? 1 : 0, any: Int32 = 0
        MPI_Allreduce(&mine, &any, 1, simply_mpi_int(), simply_mpi_max(), simply_mpi_comm_world())
        return any != 0
    }

    /// Every rank's bytes, in rank order, on every rank.
    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
        guard mpi else { return [bytes] }
        var mine = Int32(bytes.count)
        var counts = [Int32](repeating: 0, count: size)
        MPI_Allgather(&mine, 1, simply_mpi_int(), &counts, 1, simply_mpi_int(), simply_mpi_comm_world())
        var offsets = [Int32](repeating: 0, count: size)
        for i in 1..<max(size, 1) { offsets[i] = offsets[i - 1] + counts[i - 1] }
        let total = Int(offsets[size - 1] + counts[size - 1])
        var all = [UInt8](repeating: 0, count: max(total, 1))
        bytes.withUnsafeBytes { b in
            _ = MPI_Allgatherv(b.baseAddress, mine, simply_mpi_byte(), &all, counts, offsets, simply_mpi_byte(),
                               simply_mpi_comm_world())
        }
        return (0..<size).map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + counts[$0])]) }
    }

    /// Rank 0's bytes on every rank.
    public func broadcast(_ bytes: [UInt8]) -> [UInt8] {
        guard mpi else { return bytes }
        var n = Int32(isRoot ? bytes.count : 0)
        MPI_Bcast(&n, 1, simply_mpi_int(), 0, simply_mpi_comm_world())
        var out = isRoot ? bytes : [UInt8](repeating: 0, count: Int(n))
        if n > 0 { MPI_Bcast(&out, n, simply_mpi_byte(), 0, simply_mpi_comm_world()) }
        return out
    }

    public func broadcast(_ text: String) -> String {
        String(decoding: broadcast(Array(text.utf8)), as: UTF8.self)
    }

    /// MPI_Alltoallv of floats: `sendCounts[s]` floats from `send + sendOffsets[s]` go to rank s,
    /// rank q's floats land at `receive + receiveOffsets[q]`.
    func allToAll(send: UnsafePointer<Float>, sendCounts: [Int], sendOffsets: [Int],
                  receive: UnsafeMutablePointer<Float>, receiveCounts: [Int], receiveOffsets: [Int]) {
        precondition(mpi && size > 1)
        let sc = int32s(sendCounts), sd = int32s(sendOffsets), rc = int32s(receiveCounts), rd = int32s(receiveOffsets)
        MPI_Alltoallv(send, sc, sd, simply_mpi_float(), receive, rc, rd, simply_mpi_float(), simply_mpi_comm_world())
    }

    /// MPI_Allgatherv in place: rank q's `counts[q]` floats at `buffer + offsets[q]` reach every rank.
    func allGatherInPlace(_ buffer: UnsafeMutablePointer<Float>, counts: [Int], offsets: [Int]) {
        precondition(mpi && size > 1)
        MPI_Allgatherv(simply_mpi_in_place(), 0, simply_mpi_float(), buffer, int32s(counts), int32s(offsets),
                       simply_mpi_float(), simply_mpi_comm_world())
    }

    func int32s(_ xs: [Int]) -> [Int32] {
        xs.map {
            precondition($0 >= 0 && $0 <= Int(Int32.max), "an MPI count or offset of \($0) floats is past MPI's 32-bit limit")
            return Int32($0)
        }
    }
}
