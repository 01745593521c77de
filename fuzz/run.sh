#!/bin/sh
# Run every cargo-fuzz target for N seconds each (default 60), growing its
# corpus under fuzz/corpus/TARGET; a crash stops the run and leaves its
# input in fuzz/artifacts/TARGET. Needs nightly and cargo-fuzz
# (`cargo install cargo-fuzz`). tests/fuzz_corpus.rs replays the corpora
# on stable.
#   fuzz/run.sh [SECONDS] [TARGET...]
set -eu
cd "$(dirname "$0")"
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-gofer_protocol gofer_server elf_loader syscall_args}
for t in $targets; do
    echo "== $t: ${secs}s"
    cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -max_len=8192 -print_final_stats=1
done
