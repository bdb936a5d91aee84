#ifndef TRUBIZONE_FUZZ_DRIVER_H
#define TRUBIZONE_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt), linked in by -sanitize=fuzzer. SwiftPM gives every
/// executable its own entry point, so each fuzzer's `main` hands control to libFuzzer here.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

/// Runs libFuzzer with the process's arguments (`-max_total_time=30`, corpus folders, …) on `test`.
static inline int trubizone_fuzz(int argc, char **argv, int (*test)(const uint8_t *data, size_t size)) {
    return LLVMFuzzerRunDriver(&argc, &argv, test);
}

#endif
