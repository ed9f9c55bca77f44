"""Benchmark: renderlib against the naive way, and against bare capture, in one run.

    python bench/render_speed.py [--frames 150] [--skip-memory] [--composition FILE]

(a) naive: WebDriver PNG screenshots written to disk, then MoviePy
    ImageSequenceClip.write_videofile (libx264, one browser);
(b) renderlib.render with its default workers;
(c) bare capture: the same number of browsers doing only what a frame needs
    from the browser (seek the clock + draw and capture the frame as JPEG), no encoding.
All on examples/showcase (1280x720, 30 fps) unless another composition is given.
Then peak memory (RSS summed over the whole process tree: Python, Chromium,
ffmpeg) of a 10 s and a 60 s render, which must stay flat because frames are
streamed.
Targets on 2 cores: (b) >= 3x (a); (b) >= 85% of (c).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from measure import tree_rss_bytes
from moviepy import ImageSequenceClip
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from renderlib import Composition, render
from renderlib.browser import CONTAINER_FLAGS, Browser
from renderlib.page_server import AssetServer, RefusingProxy
from renderlib.renderer import default_workers

SHOWCASE = Path(__file__).resolve().parents[1] / "examples" / "showcase" / "composition.json"
NAIVE_FLAGS = ("--headless=new", *CONTAINER_FLAGS)


def naive(composition: Composition, frames: int, out_dir: Path) -> float:
    """Frames per second of screenshot-to-PNG-files plus MoviePy, as the old system did.

    A plain headless Chromium through Selenium, WebDriver PNG screenshots taken as fast
    as they come (the old system slept between them, so this is the generous version).
    """
    started = time.monotonic()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in NAIVE_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory() as profile, AssetServer(composition.base_dir) as assets:
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={composition.width},{composition.height}")
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            driver.get(assets.url_for(composition.page_path))
            paths = []
            for frame in range(frames):
                path = out_dir / f"frame-{frame:05d}.png"
                path.write_bytes(driver.get_screenshot_as_png())
                paths.append(str(path))
        finally:
            driver.quit()
    clip = ImageSequenceClip(paths, fps=composition.fps)
    clip.write_videofile(
        str(out_dir / "naive.mp4"), codec="libx264", preset="veryfast", audio=False, logger=None
    )
    return frames / (time.monotonic() - started)


def bare_capture(composition: Composition, frames: int, workers: int, quality: int) -> float:
    """Frames per second of W browsers seeking and capturing JPEGs, encoding nothing."""
    with AssetServer(composition.base_dir) as assets, RefusingProxy() as proxy:
        url = assets.url_for(composition.page_path)

        def one(rng: range) -> None:
            with Browser(
                width=composition.width,
                height=composition.height,
                allowed_origin=assets.origin,
                proxy_origin=proxy.origin,
            ) as browser:
                browser.open(
                    url,
                    frame_rate=composition.frame_rate,
                    props=composition.props,
                    hold_timeout=30,
                )
                for frame in rng:
                    browser.seek(frame)
                    browser.capture_jpeg(quality)

        bounds = [frames * i // workers for i in range(workers + 1)]
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, [range(bounds[i], bounds[i + 1]) for i in range(workers)]))
        return frames / (time.monotonic() - started)


def peak_memory(composition: Composition, seconds: float, out: Path) -> tuple[int, float]:
    """Peak process-tree RSS while rendering ``seconds`` of the composition, and its fps."""
    longer = dataclasses.replace(composition, duration=seconds, frames=None)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(os.getpid()))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = render(longer, out)
    finally:
        done.set()
        sampler.join()
    return peak, result.frames / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--composition", type=Path, default=SHOWCASE)
    args = parser.parse_args()
    composition = Composition.load(args.composition)
    composition = dataclasses.replace(composition, duration=args.frames / composition.fps)
    workers = default_workers(args.frames)
    quality = composition.output.resolved()["jpeg_quality"]
    print(
        f"{composition.width}x{composition.height} @ {composition.fps:g} fps, {args.frames} "
        f"frames, {os.cpu_count()} cores, renderlib workers: {workers}"
    )
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        naive_fps = naive(composition, args.frames, work)
        print(f"(a) naive (PNG files + MoviePy):     {naive_fps:6.2f} frames/s")
        result = render(composition, work / "renderlib.mp4")
        renderlib_fps = result.frames / result.seconds
        print(f"(b) renderlib (end to end):          {renderlib_fps:6.2f} frames/s")
        bare_fps = bare_capture(composition, args.frames, workers, quality)
        print(f"(c) bare capture, no encoding:       {bare_fps:6.2f} frames/s")
        print(
            f"renderlib / naive = {renderlib_fps / naive_fps:.2f}x (target >= 3x); "
            f"renderlib / bare capture = {100 * renderlib_fps / bare_fps:.0f}% (target >= 85%)"
        )
        if not args.skip_memory:
            for seconds in (10, 60):
                peak, fps = peak_memory(composition, seconds, work / f"memory-{seconds}.mp4")
                print(
                    f"peak memory, {seconds:2d} s render: {peak / 2**20:6.0f} MiB "
                    f"(process tree; {fps:.1f} frames/s)"
                )


if __name__ == "__main__":
    main()
