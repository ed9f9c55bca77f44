"""renderlib.estimate: the model's arithmetic, given its inputs (no timing measured)."""

from __future__ import annotations

import pytest

from renderlib.cost import FargatePrices, TaskSize, run_cost
from renderlib.estimate import Model, Sample, browsers_per_task, fan_in_seconds, predict

PRICES = FargatePrices(vcpu_hour=0.04, gb_hour=0.004, storage_gb_hour=0, billed_startup_seconds=0)
MODEL = Model(
    task=TaskSize(2, 4),
    prices=PRICES,
    provisioning_seconds=100,
    cpu_efficiency=0.5,
    transfer_bytes_per_second=1000,
    join_bytes_per_second=2000,
)
# 0.25 CPU-s a frame at half a vCPU: 2 frames/s a browser, 4 frames/s a 2-vCPU task.
PURE = Sample(
    frames=2400,
    seconds=1,  # its audio: 192,000 bytes of WAV parts, 80 a frame
    pure=True,
    cpu_seconds_per_frame=0.25,
    browser_start_seconds=3,
    step_seconds_per_frame=0.01,
    audio_mix_seconds=5,
    join_fixed_seconds=1,
    bytes_per_frame=10,
)


def test_one_task_is_start_plus_capture_plus_fan_in():
    p = predict(PURE, MODEL, 1)
    # Fan-in: audio 5 + join 1 + 24,000 bytes joined at 2000/s (12) and uploaded at 1000/s (24).
    assert p.fan_in_seconds == pytest.approx(42)
    # 2 browsers of 1200 frames at 2 frames/s, after a 3 s start.
    assert p.task_seconds == pytest.approx(3 + 600 + 42)
    assert p.wall_seconds == pytest.approx(100 + 645)
    assert p.cost_usd == pytest.approx(645 / 3600 * (2 * 0.04 + 4 * 0.004))
    assert (p.tasks, p.chunk_frames, p.stepping_seconds) == (1, 2400, 0)


def test_ten_chunks_mix_their_own_audio_and_add_transfers_and_start_ups():
    p = predict(PURE, MODEL, 10)
    # Start, 120 frames a browser, a tenth of the 5 s audio mix, segment + audio upload.
    chunk = 3 + 120 / 2 + 5 / 10 + 240 * (10 + 80) / 1000
    # No mix: the finisher downloads the segments and audio parts, joins, uploads.
    fan_in = 1 + 24_000 / 2000 + (2 * 24_000 + 192_000) / 1000
    assert p.fan_in_seconds == pytest.approx(fan_in)
    # The dispatcher splits the job at claim time: one provisioning, all chunks at once.
    assert p.wall_seconds == pytest.approx(100 + chunk + fan_in)
    assert p.task_seconds == pytest.approx(10 * chunk + fan_in)
    expected = run_cost(MODEL.task, PRICES, [chunk] * 9 + [chunk + fan_in]).cost_usd
    assert p.cost_usd == pytest.approx(expected)
    assert p.chunk_frames == 240


def test_an_impure_page_steps_through_the_frames_before_each_browser():
    impure = Sample(**{**PURE.__dict__, "pure": False})
    one, four = predict(impure, MODEL, 1), predict(impure, MODEL, 4)
    # One task: its second browser steps 1200 frames at 10 ms.
    assert one.stepping_seconds == pytest.approx(12)
    # Four chunks of 600: browsers start at 300, 600+300, 1200+300, 1800+300 after their
    # chunk's own start; each chunk's slowest browser steps start + 300 frames.
    assert four.stepping_seconds == pytest.approx((300 + 900 + 1500 + 2100) * 0.01)
    pure_four = predict(PURE, MODEL, 4)
    assert four.task_seconds == pytest.approx(pure_four.task_seconds + four.stepping_seconds)
    # The last chunk steps furthest and sets the wall time.
    assert four.wall_seconds == pytest.approx(pure_four.wall_seconds + 21)


def test_short_chunks_get_fewer_browsers_and_tasks_their_minimum_minute():
    assert browsers_per_task(TaskSize(4, 16), 1000) == 4
    assert browsers_per_task(TaskSize(4, 16), 59) == 1
    tiny = Sample(**{**PURE.__dict__, "frames": 60})
    p = predict(tiny, MODEL, 2)
    assert p.cost_usd >= 2 * 60 / 3600 * (2 * 0.04 + 4 * 0.004) - 1e-12


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="tasks must be from 1"):
        predict(PURE, MODEL, 0)
    with pytest.raises(ValueError, match="cpu_efficiency"):
        Model(task=TaskSize(1, 2), prices=PRICES, cpu_efficiency=1.5)
    assert fan_in_seconds(PURE, MODEL, 1) < fan_in_seconds(PURE, MODEL, 2)
