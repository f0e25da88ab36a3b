import Foundation
import SimplyCore

// Debian's OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads, and
// otherwise falls back to its slowest kernel on CPUs it does not know. So pick
// the core type here and re-execute once with it set (see OpenBLAS.swift).
if getenv("OPENBLAS_CORETYPE") == nil, let core = OpenBLASRuntime.recommendedCoreType() {
    setenv("OPENBLAS_CORETYPE", core, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // execv only returns on failure: carry on with the library's own choice.
}

SimplyCommand.main()
