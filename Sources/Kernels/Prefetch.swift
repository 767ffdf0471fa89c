import CCacheHints

// Software prefetches. A store to a line this core does not own waits for the line to be read first;
// a kernel that writes a large output in bursts between compute phases (the transformed 3×3 conv's
// stores after its tile products) stalls on those reads unless they were asked for earlier.

/// Whether the transformed 3×3 convs ask for their lines ahead: on AMD Zen (the EPYC guest) that made
/// them faster; on Intel's Sapphire Rapids guest, steps ran faster without (figures in BENCHMARKS.md).
let prefetchesPay = nntop_cpu_is_amd() != 0

/// Asks for the 64-byte lines holding p[0 ..< count] in a state ready to be written.
@inline(__always)
func prefetchForWriting(_ p: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i < count { nntop_prefetch_write(p + i); i += 16 }
}

/// Asks for the 64-byte lines holding p[0 ..< count] to be read.
@inline(__always)
func prefetchForReading(_ p: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i < count { nntop_prefetch_read(p + i); i += 16 }
}
