"""A generation run folder (script.json, timeline.json, audio files) as a Composition.

The format is documented field by field in docs/generation-run.md. Every
problem is a GenerationRunError naming the file, the field path and what was
expected. The composition renders on the built-in ``standard`` template
(renderlib/templates/standard), which gets the scenes as props; audio paths are
absolute so they stay inside the run folder while the page is served from the
template's folder.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from renderlib.audio import probe_audio, track_end
from renderlib.composition import (
    MAX_FPS,
    MAX_HEIGHT,
    MAX_WIDTH,
    AudioTrack,
    Composition,
    OutputSettings,
    frame_count,
)
from renderlib.errors import AudioError, GenerationRunError

TEMPLATE_DIR = Path(__file__).parent / "templates" / "standard"
TRANSITIONS = ("fade", "slide", "wipe")
LAYERS = ("title", "bullets", "captions", "progress")
_REQUIRED = object()


def load_generation_run(run_dir: Path | str) -> Composition:
    """Read, validate and convert the generation run in ``run_dir``."""
    run_dir = Path(run_dir).resolve()
    if not run_dir.is_dir():
        raise GenerationRunError(f"{run_dir}: not a generation run folder")
    script = _read_json(run_dir, "script.json")
    timeline = _read_json(run_dir, "timeline.json")
    meta, scenes = _parse_script(_Fields("script.json"), script)
    timeline_fields = _Fields("timeline.json")
    tracks = _parse_timeline(timeline_fields, timeline, run_dir)

    ends = [meta.get("duration", 0.0), scenes[-1]["end"]]
    for track, source_duration, _ in tracks:
        end = track_end(track, source_duration)
        if end is not None:
            ends.append(end)
    duration = max(ends)
    fps = meta["fps"]
    frames = frame_count(duration, fps)
    for track, _, where in tracks:
        # Only a clip that loops to the video's end can start after it.
        if track.start >= frames / fps:
            raise timeline_fields.error(
                f"{where}.start", f"a time before the video's end ({frames / fps:g} s)", track.start
            )
    poster = meta.get("poster")
    poster_frame = None if poster is None else min(round(poster * fps), frames - 1)
    props = {
        "title": meta.get("title", ""),
        "duration": frames / fps,
        "theme": meta.get("theme", {}),
        "scenes": scenes,
    }
    return Composition(
        page="index.html",
        width=meta["width"],
        height=meta["height"],
        fps=fps,
        duration=duration,
        props=props,
        audio=tuple(track for track, _, _ in tracks),
        output=OutputSettings(poster_frame=poster_frame),
        pure=True,
        base_dir=TEMPLATE_DIR,
    )


def _read_json(run_dir: Path, name: str) -> Any:
    path = run_dir / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenerationRunError(f"{path}: missing; a generation run needs {name}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GenerationRunError(f"{path}: not valid JSON ({exc})") from exc


class _Fields:
    """Typed reads from one JSON file; each failure names the file and the field path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, where: str, expected: str, got: Any = _REQUIRED) -> GenerationRunError:
        found = "it is missing" if got is _REQUIRED else f"got {json.dumps(got)}"
        return GenerationRunError(f"{self.at(where)}: expected {expected}, {found}")

    def at(self, where: str) -> str:
        return f"{self.file}: {where}" if where else self.file

    def object(self, value: Any, where: str, required: tuple, optional: tuple = ()) -> dict:
        if not isinstance(value, dict):
            raise self.error(where, "a JSON object", value)
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            allowed = ", ".join(required + optional)
            raise GenerationRunError(
                f"{self.at(where)}: unknown field(s) {', '.join(unknown)}; allowed: {allowed}"
            )
        for name in required:
            if name not in value:
                raise self.error(_at(where, name), "a value (required)")
        return value

    def list(self, data: dict, key: str, where: str, *, non_empty: bool = False) -> list:
        value = data.get(key, [])
        if not isinstance(value, list) or (non_empty and not value):
            expected = "a non-empty list" if non_empty else "a list"
            raise self.error(_at(where, key), expected, value)
        return value

    def number(
        self,
        data: dict,
        key: str,
        where: str,
        *,
        default: Any = _REQUIRED,
        minimum: float | None = None,
        above: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = data.get(key, default)
        if value is _REQUIRED:
            raise self.error(_at(where, key), "a number (required)")
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
        ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
        ok = ok and (maximum is None or value <= maximum)
        if not ok:
            raise self.error(_at(where, key), _number_range(minimum, above, maximum), value)
        return float(value)

    def integer(self, data: dict, key: str, where: str, *, maximum: int) -> int:
        value = data.get(key, _REQUIRED)
        if value is _REQUIRED:
            raise self.error(_at(where, key), "a whole number of pixels (required)")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
            raise self.error(_at(where, key), f"a whole number from 2 to {maximum}", value)
        if value % 2:
            raise self.error(_at(where, key), "an even number (H.264 needs one)", value)
        return value

    def string(self, data: dict, key: str, where: str, *, default: Any = _REQUIRED) -> str:
        value = data.get(key, default)
        if value is _REQUIRED:
            raise self.error(_at(where, key), "a string (required)")
        if not isinstance(value, str):
            raise self.error(_at(where, key), "a string", value)
        return value

    def choice(self, data: dict, key: str, where: str, choices: tuple) -> str:
        value = data.get(key, _REQUIRED)
        if value not in choices:
            raise self.error(_at(where, key), f"one of {', '.join(choices)}", value)
        return value

    def color(self, data: dict, key: str, where: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not (
            isinstance(value, str)
            and len(value) == 7
            and value[0] == "#"
            and all(c in "0123456789abcdefABCDEF" for c in value[1:])
        ):
            raise self.error(_at(where, key), 'a colour like "#1e3a5f"', value)
        return value

    def boolean(self, data: dict, key: str, where: str, *, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(_at(where, key), "true or false", value)
        return value


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _number_range(minimum: float | None, above: float | None, maximum: float | None) -> str:
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum:g}")
    if above is not None:
        parts.append(f"> {above:g}")
    if maximum is not None:
        parts.append(f"<= {maximum:g}")
    return "a number" + (" " + " and ".join(parts) if parts else "")


# --- script.json --------------------------------------------------------------


def _parse_script(f: _Fields, script: Any) -> tuple[dict, list[dict]]:
    f.object(script, "", required=("meta", "scenes"))
    meta = _parse_meta(f, script["meta"])
    scenes: list[dict] = []
    for index, raw in enumerate(f.list(script, "scenes", "", non_empty=True)):
        scene = _parse_scene(f, raw, f"scenes[{index}]")
        if scenes and scene["start"] < scenes[-1]["end"]:
            previous = scenes[-1]
            raise f.error(
                f"scenes[{index}].start",
                f"a time >= {previous['end']:g}, the end of the scene before "
                f"({previous['id']!r}); scenes must be in order and must not overlap",
                scene["start"],
            )
        if any(s["id"] == scene["id"] for s in scenes):
            raise f.error(f"scenes[{index}].id", "an id no other scene has", scene["id"])
        scenes.append(scene)
    return meta, scenes


def _parse_meta(f: _Fields, raw: Any) -> dict:
    where = "meta"
    f.object(
        raw,
        where,
        required=("width", "height", "fps"),
        optional=("title", "duration", "poster", "theme"),
    )
    meta: dict[str, Any] = {
        "width": f.integer(raw, "width", where, maximum=MAX_WIDTH),
        "height": f.integer(raw, "height", where, maximum=MAX_HEIGHT),
        "fps": f.number(raw, "fps", where, above=0, maximum=MAX_FPS),
        "title": f.string(raw, "title", where, default=""),
    }
    if "duration" in raw:
        meta["duration"] = f.number(raw, "duration", where, above=0)
    if "poster" in raw:
        meta["poster"] = f.number(raw, "poster", where, minimum=0)
    if "theme" in raw:
        theme = f.object(
            raw["theme"], "meta.theme", required=(), optional=("background", "text", "accent")
        )
        meta["theme"] = {key: f.color(theme, key, "meta.theme") for key in theme}
    return meta


def _parse_scene(f: _Fields, raw: Any, where: str) -> dict:
    f.object(
        raw,
        where,
        required=("id", "title", "start", "end"),
        optional=("background", "layers", "cues", "transition"),
    )
    scene: dict[str, Any] = {
        "id": f.string(raw, "id", where),
        "title": f.string(raw, "title", where),
        "start": f.number(raw, "start", where, minimum=0),
    }
    if not scene["id"]:
        raise f.error(f"{where}.id", "a non-empty id", scene["id"])
    end = f.number(raw, "end", where, minimum=0)
    if end <= scene["start"]:
        raise f.error(f"{where}.end", f"a time after the scene's start ({scene['start']:g})", end)
    scene["end"] = end
    scene["background"] = f.color(raw, "background", where)
    scene["layers"] = [
        _parse_layer(f, layer, f"{where}.layers[{i}]")
        for i, layer in enumerate(f.list(raw, "layers", where))
    ]
    scene["cues"] = [
        _parse_cue(f, cue, f"{where}.cues[{i}]", scene)
        for i, cue in enumerate(f.list(raw, "cues", where))
    ]
    scene["transition"] = None
    if raw.get("transition") is not None:
        scene["transition"] = _parse_transition(f, raw["transition"], f"{where}.transition", scene)
    return scene


def _parse_layer(f: _Fields, raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise f.error(where, "a JSON object", raw)
    kind = f.choice(raw, "type", where, LAYERS)
    if kind == "title":
        f.object(raw, where, required=("type",), optional=("subtitle",))
        return {"type": kind, "subtitle": f.string(raw, "subtitle", where, default="")}
    if kind == "bullets":
        f.object(raw, where, required=("type",), optional=("reveal",))
        return {"type": kind, "reveal": f.number(raw, "reveal", where, default=0.4, minimum=0)}
    if kind == "progress":
        f.object(raw, where, required=("type",), optional=("interval",))
        return {"type": kind, "interval": f.number(raw, "interval", where, default=0.5, above=0)}
    f.object(raw, where, required=("type",))
    return {"type": kind}


def _parse_cue(f: _Fields, raw: Any, where: str, scene: dict) -> dict:
    f.object(raw, where, required=("text", "start", "end"), optional=("id", "bullets", "segments"))
    start = f.number(raw, "start", where, minimum=0)
    if not scene["start"] <= start < scene["end"]:
        raise f.error(
            f"{where}.start",
            f"a time inside its scene ({scene['start']:g} to {scene['end']:g})",
            start,
        )
    end = f.number(raw, "end", where, minimum=0)
    if end <= start:
        raise f.error(f"{where}.end", f"a time after the cue's start ({start:g})", end)
    bullets = f.list(raw, "bullets", where)
    for i, bullet in enumerate(bullets):
        if not isinstance(bullet, str):
            raise f.error(f"{where}.bullets[{i}]", "a string", bullet)
    segments = []
    for i, segment in enumerate(f.list(raw, "segments", where)):
        at = f"{where}.segments[{i}]"
        f.object(segment, at, required=("text", "start", "end"))
        seg_start = f.number(segment, "start", at, minimum=start)
        seg_end = f.number(segment, "end", at, above=seg_start)
        segments.append({"text": f.string(segment, "text", at), "start": seg_start, "end": seg_end})
    return {
        "id": f.string(raw, "id", where, default=""),
        "text": f.string(raw, "text", where),
        "start": start,
        "end": end,
        "bullets": bullets,
        "segments": segments,
    }


def _parse_transition(f: _Fields, raw: Any, where: str, scene: dict) -> dict:
    f.object(raw, where, required=("type", "duration"))
    kind = f.choice(raw, "type", where, TRANSITIONS)
    length = scene["end"] - scene["start"]
    duration = f.number(raw, "duration", where, above=0, maximum=length)
    return {"type": kind, "duration": duration}


# --- timeline.json ------------------------------------------------------------


def _parse_timeline(
    f: _Fields, timeline: Any, run_dir: Path
) -> list[tuple[AudioTrack, float, str]]:
    """The clips as AudioTracks (src absolute), each with its source's duration and
    where it stands in timeline.json."""
    f.object(timeline, "", required=("tracks",))
    raw_tracks = f.list(timeline, "tracks", "")
    names: list[str] = []
    for index, raw in enumerate(raw_tracks):
        where = f"tracks[{index}]"
        f.object(raw, where, required=("name", "clips"), optional=("duck",))
        name = f.string(raw, "name", where)
        if not name or name in names:
            raise f.error(f"{where}.name", "a non-empty name no other track has", name)
        names.append(name)
    result: list[tuple[AudioTrack, float, str]] = []
    for index, raw in enumerate(raw_tracks):
        where = f"tracks[{index}]"
        duck_under, duck_volume = None, 0.3
        if raw.get("duck") is not None:
            duck = f.object(raw["duck"], f"{where}.duck", required=("under",), optional=("volume",))
            duck_under = f.string(duck, "under", f"{where}.duck")
            if duck_under not in names or duck_under == raw["name"]:
                others = [n for n in names if n != raw["name"]]
                raise f.error(
                    f"{where}.duck.under",
                    f"the name of another track ({', '.join(others) or 'there is none'})",
                    duck_under,
                )
            duck_volume = f.number(
                duck, "volume", f"{where}.duck", default=0.3, minimum=0, maximum=1
            )
        for c, clip in enumerate(f.list(raw, "clips", where)):
            at = f"{where}.clips[{c}]"
            track, source_duration = _parse_clip(
                f, clip, at, run_dir, raw["name"], duck_under, duck_volume
            )
            result.append((track, source_duration, at))
    return result


def _parse_clip(
    f: _Fields,
    raw: Any,
    where: str,
    run_dir: Path,
    track: str,
    duck_under: str | None,
    duck_volume: float,
) -> tuple[AudioTrack, float]:
    f.object(
        raw,
        where,
        required=("src", "start"),
        optional=("id", "duration", "volume", "fade_in", "fade_out", "loop", "offset"),
    )
    f.string(raw, "id", where, default="")
    src = f.string(raw, "src", where)
    path = (run_dir / src).resolve()
    if Path(src).is_absolute() or not path.is_relative_to(run_dir):
        raise f.error(f"{where}.src", "a path inside the run folder", src)
    try:
        source_duration = probe_audio(path)
    except AudioError as exc:
        raise GenerationRunError(f"{f.file}: {where}.src: {exc}") from exc
    duration = None
    if raw.get("duration") is not None:
        duration = f.number(raw, "duration", where, above=0)
    track_clip = AudioTrack(
        src=str(path),
        start=f.number(raw, "start", where, minimum=0),
        duration=duration,
        volume=f.number(raw, "volume", where, default=1.0, minimum=0),
        fade_in=f.number(raw, "fade_in", where, default=0.0, minimum=0),
        fade_out=f.number(raw, "fade_out", where, default=0.0, minimum=0),
        loop=f.boolean(raw, "loop", where, default=False),
        offset=f.number(raw, "offset", where, default=0.0, minimum=0),
        track=track,
        duck_under=duck_under,
        duck_volume=duck_volume,
    )
    if track_clip.offset >= source_duration:
        raise f.error(
            f"{where}.offset",
            f"less than the file's length ({source_duration:g} s)",
            track_clip.offset,
        )
    return track_clip, source_duration
