#!/usr/bin/env bash
# Continue bundled priors side by side on one lent GPU for a fixed time (docs/real_priors.md: continuing
# a prior on a GPU machine), from the repository's root on that machine:
#
#   bash egs/pnf_real/local/gpu_continue.sh SECONDS PACKED_DIR NAME [NAME ...]
#
# For each NAME (a prior of egs/pnf_real: mulaw_piano, linear_voice, ...) PACKED_DIR/NAME.pkl is
# its dump packed with local/pack_dump.py. Each prior trains from the bundled one
# (pnf-train --continue-from egs/pnf_real/NAME, preset egs/pnf_real/NAME.json; PRIORS=DIR takes
# DIR/NAME and DIR/NAME.json instead), or resumes PACKED_DIR/NAME.tar where there is one
# (a folder this script wrote before, carried back: its Adam state too), batches of 32 crops, one
# process per prior on the same GPU, until SECONDS have passed; then SIGTERM makes each save, and
# the model folders are written as $OUT/NAME.tar (checkpoint_latest.pth, its EMA twin,
# training.json, config.json) with each run's log. COMPILE=1 trains with pnf-train --compile
# (torch.compile; benchmarks/gpu_check.sh measures whether it pays on the GPU). It exits non-zero
# when a run failed before its time was up. Back on the CPU machine, untar a folder and evaluate
# it on the full dev set with pnf-train's usual command and --steps=<the step reached> (it trains
# no further).
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 SECONDS PACKED_DIR NAME [NAME ...]" >&2; exit 2; }
seconds=$1 packed=$2; shift 2
out=${OUT:-gpu_continue_outputs}
device=${DEVICE:-cuda}      # DEVICE=cpu: a dry run of the plumbing on a machine without a GPU
priors=${PRIORS:-egs/pnf_real}
compile=""; [ "${COMPILE:-0}" = 1 ] && compile=--compile
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
for name in "$@"; do
  [ -f "$packed/$name.pkl" ] && [ -f "$priors/$name.json" ] \
    || { echo "error: $packed/$name.pkl or $priors/$name.json is missing" >&2; exit 2; }
  python3 egs/pnf_real/local/pack_dump.py unpack "$packed/$name.pkl" "$work/dump_$name" || exit 2
  if [ -f "$packed/$name.tar" ]; then tar xf "$packed/$name.tar" -C "$work" || exit 2; fi
done
pids=()
for name in "$@"; do
  # one process per prior; the CPU threads split between them
  OMP_NUM_THREADS=4 timeout -s TERM "$seconds" python3 -m wavenet_vocoder.train "$work/dump_$name" "$work/$name" \
    --preset="$priors/$name.json" --noise-conditional --continue-from="$priors/$name" \
    --steps=10000000 --hparams batch_size=32 --save-interval=60 --eval-interval=1000 --seed=1 \
    --no-progress --device="$device" $compile > "$out/train_$name.log" 2>&1 &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
  wait "$pid"; status=$?
  # 124: stopped by the timeout, as planned (the run saved on SIGTERM)
  [ "$status" -eq 0 ] || [ "$status" -eq 124 ] || failed=1
done
for name in "$@"; do
  tail -n 3 "$out/train_$name.log"
  if [ -d "$work/$name" ]; then tar cf "$out/$name.tar" -C "$work" "$name"; fi
done
ls -l "$out"
[ "$failed" -eq 0 ] || { echo "error: a training run failed (see $out/train_*.log)" >&2; exit 1; }
