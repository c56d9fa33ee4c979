#!/usr/bin/env bash
# Recipe for the small priors that run on a laptop CPU: from nothing but packages to trained
# models and a run of every task on held-out audio.
#
#   bash egs/pnf_small/run.sh [--stage N] [--stop-stage N] [--steps N] [--first-steps N]
#                             [--pieces N] [--sentences N] [--top-fraction F] [--noise-head]
#
# --steps / --first-steps override the training steps of every model (by default those the
# bundled models were trained with: 3000 for the first level and 600 for each other of the
# mu-law piano prior, 2000 and 400 for the linear priors, 2000 and 200 for the mel-conditioned one).
#
# Stages:
#   0  install the Debian packages (fluidsynth, the FluidR3 General MIDI soundfont, espeak-ng)
#   1  render audio: piano pieces from seeded random MIDI files with fluidsynth, speech from
#      seeded random sentences with espeak-ng (several voices); this recipe's own held-out
#      $WORK/heldout/sample_piano.wav and sample_voice.wav come from other seeds and are never
#      trained on (egs/sample_*.wav are real-audio held-out samples: README "Quick start")
#   2  preprocess into dumps (mu-law piano, linear piano, linear voice, mel-conditioned voice)
#   3  train the four priors, each level of its preset's schedule initialised from the previous
#      (checkpoints go to egs/pnf_small/<model>/checkpoints<sigma>/)
#   4  run each task on the held-out samples into egs/pnf_small/work/outputs/
#   5  (only with --stop-stage 5) the mu-law piano prior two ways at equal compute: today's per-level chain and
#      one noise-conditional model trained for as many steps, side by side (one thread each), then
#      their dev loss per level and the quality benchmark's super-resolution and inpainting cases
#      (docs/noise_conditional.md); into $WORK/compare. --top-fraction F
#      trains the noise-conditional model with that share of its crops at the top level (pnf-train
#      --top-fraction; default 0); --noise-head gives its head a sigma input too (preset key noise_head)
#
# Rendered audio and dumps go to $WORK (default egs/pnf_small/work, not committed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
egs=$(dirname "$here")
work=${WORK:-$here/work}
stage=0
stop_stage=4
steps=""            # training steps per level (default: per model, below)
first_steps=""      # steps of the first (highest-sigma) level, trained from scratch
pieces=60           # piano pieces of about 20 s
sentences=400       # spoken sentences of about 3 s
top_fraction=0      # stage 5: share of the noise-conditional model's crops at the top level
noise_head=false    # stage 5: whether the noise-conditional model's head reads sigma too
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --first-steps) first_steps=$2; shift 2 ;;
    --pieces) pieces=$2; shift 2 ;;
    --sentences) sentences=$2; shift 2 ;;
    --top-fraction) top_fraction=$2; shift 2 ;;
    --noise-head) noise_head=true; shift ;;
    *) echo "error: unknown option $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
soundfont=/usr/share/sounds/sf2/FluidR3_GM.sf2
voices=(en-us+m3 en-us+f2 en+m1 en+f3 en-gb+m4 en-us+f4 en+m7)
held_out_voice=en-us+m5
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

render_piano() {  # midi-dir wav-dir
  mkdir -p "$2"
  for mid in "$1"/*.mid; do
    fluidsynth -ni -q -g 0.8 -o synth.sample-rate=22050 -F "$2/$(basename "${mid%.mid}").wav" "$soundfont" "$mid"
  done
}

if run_stage 0; then
  echo "stage 0: Debian packages"
  if ! command -v fluidsynth >/dev/null || ! command -v espeak-ng >/dev/null || [ ! -f "$soundfont" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth fluid-soundfont-gm espeak-ng
  fi
fi

if run_stage 1; then
  echo "stage 1: render audio into $work/audio"
  rm -rf "$work/midi" "$work/audio"
  python "$here/local/make_midi.py" "$work/midi/train" "$pieces" 1 20
  render_piano "$work/midi/train" "$work/audio/piano"
  mkdir -p "$work/audio/voice"
  i=0
  python "$here/local/make_sentences.py" "$sentences" 1 | while IFS= read -r line; do
    voice=${voices[$((i % ${#voices[@]}))]}
    espeak-ng -v "$voice" -s $((130 + (i * 7) % 50)) -p $((35 + (i * 11) % 40)) -w "$work/audio/voice/s$(printf %04d $i).wav" "$line"
    i=$((i + 1))
  done
  # Held out: another MIDI seed, another sentence seed and a voice not used for training.
  python "$here/local/make_midi.py" "$work/midi/heldout" 1 1000 6
  render_piano "$work/midi/heldout" "$work/audio/heldout"
  espeak-ng -v "$held_out_voice" -s 150 -p 50 -w "$work/audio/heldout/voice.wav" \
    "$(python "$here/local/make_sentences.py" 1 1000)"
  mkdir -p "$work/heldout"
  python - "$work/audio/heldout" "$work/heldout" <<'EOF'
import sys
import numpy as np
import soundfile as sf
from wavenet_vocoder.audio import load_audio, save_wav, trim_silence
folder, out = sys.argv[1], sys.argv[2]
piano = trim_silence(load_audio(f"{folder}/piece1000_000.wav", 22050))[:4 * 22050]
voice = trim_silence(load_audio(f"{folder}/voice.wav", 22050))
n = min(piano.size, voice.size)                    # the same length, so the two can be mixed
save_wav(f"{out}/sample_piano.wav", piano[:n] / np.abs(piano[:n]).max(), 22050)
save_wav(f"{out}/sample_voice.wav", voice[:n] / np.abs(voice[:n]).max(), 22050)
print(f"held-out samples: {n / 22050:.2f} s each")
EOF
fi

if run_stage 2; then
  echo "stage 2: preprocess into $work/data"
  pnf-preprocess "$work/audio/piano" "$work/data/mulaw_piano" --preset="$here/mulaw_piano.json" --name=piano
  pnf-preprocess "$work/audio/piano" "$work/data/linear_piano" --preset="$here/linear_piano.json" --name=piano
  pnf-preprocess "$work/audio/voice" "$work/data/linear_voice" --preset="$here/linear_voice.json" --name=voice
  pnf-preprocess "$work/audio/voice" "$work/data/mel_voice" --preset="$here/mel_voice.json" --name=voice
  # The held-out voice, normalised with the training statistics, is the spectrogram task's input.
  mkdir -p "$work/audio/heldout_voice"
  cp "$work/heldout/sample_voice.wav" "$work/audio/heldout_voice/"
  rm -rf "$here/mel_voice/dump_norm"
  pnf-preprocess "$work/audio/heldout_voice" "$work/data/heldout_voice" --preset="$here/mel_voice.json" \
    --name=sample_voice --stats="$work/data/mel_voice/meanvar.npy"
  mkdir -p "$here/mel_voice/dump_norm"
  cp -r "$work/data/heldout_voice/dump_norm/dev" "$here/mel_voice/dump_norm/dev"
  cp "$work/data/mel_voice/meanvar.npy" "$here/mel_voice/meanvar.npy"
fi

if run_stage 3; then
  echo "stage 3: train the four priors"
  train() {  # model dump-subfolder default-first-steps default-steps
    # float32, as the bundled priors were trained (--precision auto would use bfloat16 where native)
    pnf-train "$work/data/$1/$2" "$here/$1" --preset="$here/$1.json" \
      --first-steps="${first_steps:-$3}" --steps="${steps:-$4}" --eval-interval=500 --precision=fp32 --no-progress
  }
  train mulaw_piano dump 3000 600
  train linear_piano dump 2000 400
  train linear_voice dump 2000 400
  train mel_voice dump_norm 2000 200     # mel conditioning makes a step about 6x dearer
fi

if run_stage 4; then
  out="$work/outputs"
  echo "stage 4: every task on the held-out samples into $out"
  pnf-superres "$here/mulaw_piano" "$work/heldout/sample_piano.wav" "$out/superres" \
    --preset="$here/mulaw_piano.json" --downsample_interval=4 --n-steps=16 --step-scale=1.0 --schedule=tiled
  pnf-inpainting "$here/mulaw_piano" "$work/heldout/sample_piano.wav" "$out/inpainting" \
    --preset="$here/mulaw_piano.json" --gap=1.0,1.1 --sample-size=44100 --n-steps=32 --step-scale=1.0 \
    --schedule=tiled --plot
  pnf-separation "$here/linear_piano" "$here/linear_voice" "$work/heldout/sample_piano.wav" "$work/heldout/sample_voice.wav" \
    "$out/separation" --preset="$here/linear_piano.json" --sample-size=44100 --n-steps=32 --step-scale=1.0 \
    --implicit-mixture --schedule=tiled --plot
  pnf-spectrogram "$here/mel_voice" "$here/mel_voice/dump_norm/dev" "$out/spectrogram" \
    --preset="$here/mel_voice.json" --sample-size=44032 --n-steps=32 --step-scale=1.0 --schedule=tiled --plot
fi

if run_stage 5; then
  out="$work/compare"
  echo "stage 5: per-level chain against one noise-conditional prior at equal compute, into $out"
  mkdir -p "$out/models_chain" "$out/models_nc"
  OMP_NUM_THREADS=1 pnf-train "$work/data/mulaw_piano/dump" "$out/chain" --preset="$here/mulaw_piano.json" \
    --first-steps="${first_steps:-3000}" --steps="${steps:-600}" --eval-interval=500 --precision=fp32 --no-progress &
  OMP_NUM_THREADS=1 pnf-train "$work/data/mulaw_piano/dump" "$out/nc" --preset="$here/mulaw_piano.json" \
    --noise-conditional --steps=$(( ${first_steps:-3000} + 5 * ${steps:-600} )) --eval-interval=500 --precision=fp32 \
    --top-fraction="$top_fraction" --hparams="noise_head=$noise_head" --no-progress &
  wait
  python "$egs/../benchmarks/compare_priors.py" "$out/chain" "$out/nc"
  python "$egs/../benchmarks/compare_priors.py" --equal-time "$out/chain" "$out/nc"
  ln -sfn "$out/chain" "$out/models_chain/mulaw_piano"
  cp "$here/mulaw_piano.json" "$out/models_chain/mulaw_piano.json"
  ln -sfn "$out/nc" "$out/models_nc/mulaw_piano"
  cp "$out/nc/config.json" "$out/models_nc/mulaw_piano.json"
  for models in models_chain models_nc; do
    # (as docs/noise_conditional.md measured it: this recipe's held-out piano, from noise)
    python "$egs/../benchmarks/quality.py" --models "$out/$models" --tasks superres,inpainting --out "$out/bench_$models" \
      --piano "$work/heldout/sample_piano.wav" --init noise --step-scale 1.0
  done
fi
