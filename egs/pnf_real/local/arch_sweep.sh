#!/usr/bin/env bash
# Architecture sweep for the real-audio priors: several WaveNet sizes, each a noise-conditional
# mu-law piano prior trained for the same number of seconds on one thread, then their dev loss
# per level side by side (docs/real_priors.md, "Architecture, chosen by measurement").
#
#   bash egs/pnf_real/local/arch_sweep.sh <dump-dir> <out-dir> [seconds-per-candidate]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dump=$1
out=$2
seconds=${3:-600}
# name: preset overrides (receptive field in samples at 22.05 kHz)
candidates=(
  "l20s2k3c32:layers=20,stacks=2,kernel_size=3"                                             # 4093
  "l22s2k2c32:layers=22,stacks=2,kernel_size=2"                                             # 4095
  "l20s2k3c48:layers=20,stacks=2,kernel_size=3,residual_channels=48,gate_channels=96,skip_out_channels=48"
  "l30s3k3c32:layers=30,stacks=3,kernel_size=3"                                             # 6139
  "l10s1k3c64:layers=10,stacks=1,kernel_size=3,residual_channels=64,gate_channels=128,skip_out_channels=64"  # 2047
)
for entry in "${candidates[@]}"; do
  name=${entry%%:*}
  OMP_NUM_THREADS=1 pnf-train "$dump" "$out/$name" --preset="$here/mulaw_piano.json" --hparams="${entry#*:}" \
    --steps=1000000 --max-seconds="$seconds" --eval-interval=100 --precision=auto --no-progress
done
python "$here/local/sweep_table.py" "$out"/*/
