#!/usr/bin/env bash
# Regenerates the audio of the example generation run (examples/narrated/audio)
# with free tools: espeak-ng speaks each cue's text from script.json (one clip per
# cue, named after the cue id, as timeline.json expects), sox makes the music bed
# and the sound effects, ffmpeg encodes everything as small Ogg Vorbis files.
# Needs: espeak-ng, sox, ffmpeg, python3. The cue timings in script.json were
# laid out for these clips (espeak-ng 1.51, en-us, 170 words a minute).
set -euo pipefail
cd "$(dirname "$0")/../examples/narrated"
mkdir -p audio
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

encode() { # encode SOURCE.wav NAME: mono Ogg Vorbis, small
  ffmpeg -nostdin -v error -y -i "$1" -ac 1 -ar 22050 -c:a libvorbis -q:a 2 "audio/$2.ogg"
}

# Narration: one clip per cue.
python3 -c '
import json
for scene in json.load(open("script.json"))["scenes"]:
    for cue in scene.get("cues", []):
        print(cue["id"] + "\t" + cue["text"])
' | while IFS=$'\t' read -r id text; do
  espeak-ng -v en-us -s 170 -w "$work/$id.wav" "$text" </dev/null
  encode "$work/$id.wav" "$id"
done

# Music bed: four soft chords (Am F C G), 2 s each, an 8 s loop.
chords=("220 261.63 329.63" "174.61 220 261.63" "196 261.63 329.63" "196 246.94 293.66")
parts=()
for i in "${!chords[@]}"; do
  read -r a b c <<<"${chords[$i]}"
  sox -n -r 48000 -c 3 "$work/chord$i.wav" synth 2 sine "$a" sine "$b" sine "$c" \
    remix - fade h 0.15 2 0.15 vol 0.25
  parts+=("$work/chord$i.wav")
done
sox "${parts[@]}" "$work/music-bed.wav"
encode "$work/music-bed.wav" music-bed

# Sound effects: a two-note chime and a short filtered-noise whoosh.
sox -n -r 48000 -c 2 "$work/chime.wav" synth 0.9 sine 1318.5 sine 1975.5 \
  remix - fade p 0.005 0.9 0.85 vol 0.35
encode "$work/chime.wav" chime
sox -n -r 48000 -c 1 "$work/whoosh.wav" synth 0.5 pinknoise band 1200 800 \
  fade t 0.2 0.5 0.3 vol 0.8
encode "$work/whoosh.wav" whoosh

du -sh audio
