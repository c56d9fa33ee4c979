#!/usr/bin/env bash
# Everything only a GPU can show, in one run of at most ~8 minutes, for a lent GPU machine
# (the device tool: `run` this script with timeout_s 540). Writes $OUT/gpu_report.md (and logs).
#
#   OUT=/some/folder bash benchmarks/gpu_check.sh
#
# 1. the CUDA tests (tests/test_cuda.py);
# 2. the speed benchmark on the published preset with --device cuda (reference, fp32, bf16 paths);
# 3. the training throughput benchmark on CUDA (float32 against bfloat16 autocast);
# 4. a short torchrun training, one process per GPU (NCCL), and its resume;
# 5. the README's main command with --device cuda (DataParallel over the windows);
# 6. training throughput of a real-audio prior's architecture at the GPU runs' batch (32 crops),
#    eager against compiled (pnf-train --compile): is torch.compile worth its compile time there?
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu_check_outputs}
mkdir -p "$out"
report="$out/gpu_report.md"
device=${DEVICE:-cuda}      # DEVICE=cpu: a dry run of the script's plumbing on a machine without a GPU
gpus=$(python -c "import torch; print(max(1, torch.cuda.device_count()))")
export out gpus
{
  echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/- /'
  python -c "import torch; print(f'- torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)')"
} > "$report"
step() {  # title, seconds, command (an exported shell function is run in a subshell under the timeout)
  local title=$1 limit=$2; shift 2
  echo -e "\n## $title\n" >> "$report"
  local started=$SECONDS
  if timeout "$limit" bash -c '"$@"' _ "$@" > "$out/log_$(echo "$title" | tr ' /' '__').txt" 2>&1; then status=ok; else status="FAILED ($?)"; fi
  echo "$status in $((SECONDS - started)) s; last lines:" >> "$report"
  echo '```' >> "$report"
  tail -n 25 "$out/log_$(echo "$title" | tr ' /' '__').txt" >> "$report"
  echo '```' >> "$report"
}
# Keep the machine's own CUDA build of torch (requirements.txt pins the CPU build CI uses). A lent
# machine that reaches no package index needs the other packages carried as wheels and installed
# first (with PYTHONPATH pointing at them), and the package on PYTHONPATH; then nothing is installed.
if ! python -c "import librosa, soundfile, docopt, nnmnkwii, tqdm, wavenet_vocoder" 2>/dev/null; then
  grep -v '^torch' requirements.txt > "$out/requirements_no_torch.txt"
  python -m pip install -q -r "$out/requirements_no_torch.txt" >/dev/null 2>&1 && python -m pip install -q --no-deps -e . >/dev/null 2>&1
fi
step "CUDA tests" 120 python -m pytest -q tests/test_cuda.py
step "speed on CUDA" 120 python benchmarks/speed.py --device "$device" --window 4000 --batch-size 4 --repeats 3
step "training throughput on CUDA" 90 python benchmarks/train_speed.py --device "$device" --steps 20 --repeats 1 --loss-steps 0
data=$out/data
export data device
python - "$out/audio" <<'PY'
import os, sys
import numpy as np
import soundfile as sf
os.makedirs(sys.argv[1], exist_ok=True)
t = np.arange(22050 * 2) / 22050
for k in range(6):
    sf.write(os.path.join(sys.argv[1], f"t{k}.wav"), 0.5 * np.sin(2 * np.pi * (220 + 40 * k) * t), 22050)
PY
pnf-preprocess "$out/audio" "$data" --preset=egs/pnf_small/mulaw_piano.json --name=t > "$out/log_preprocess.txt" 2>&1
train_nc() {  # steps (python -m: `which pnf-train` may be a pyenv shim, which torchrun cannot run)
  torchrun --standalone --nproc_per_node "$gpus" -m wavenet_vocoder.train "$data/dump" "$out/nc" --preset=egs/pnf_small/mulaw_piano.json \
    --noise-conditional --steps="$1" --eval-interval=100 --no-progress --device="$device"
}
export -f train_nc
step "torchrun training" 60 train_nc 200
step "torchrun resume" 60 train_nc 300
step "main command on CUDA" 120 python wavenet_vocoder/pnf/sgld_superres.py egs/pnf_real/mulaw_piano egs/sample_piano.wav \
  "$out/superres" --preset=egs/pnf_real/mulaw_piano.json --downsample_interval 4 --n-steps 16 \
  --schedule tiled --device "$device" --no-progress
python -c "import json; r = json.load(open('$out/superres/run.json')); print('metrics', r['metrics']['pnf'], 'seconds', r['seconds'])" >> "$report" 2>&1
step "compiled training on CUDA" 180 python benchmarks/train_speed.py --device "$device" \
  --presets egs/pnf_real/mulaw_voice.json --precisions fp32 --batch-size 32 --steps 20 --repeats 2 --loss-steps 0 --compile
echo "report: $report"
