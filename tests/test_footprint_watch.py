"""The footprint bench's watcher: the sound server's shared memory is told apart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from bench.footprint_watch import MB, pss_and_sound_server


def waiting(code: str) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", f"{code}\nprint('ready', flush=True)\nimport time; time.sleep(30)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        yield child
    finally:
        child.kill()
        child.wait()


def test_a_process_without_audio_maps_no_sound_server_memory() -> None:
    for child in waiting("import json"):
        total, shared = pss_and_sound_server(child.pid)
        assert total > 0 and shared == 0.0


def test_a_jack_client_maps_the_servers_memory_and_it_is_part_of_its_pss(
    jack_device: int,
) -> None:
    for child in waiting("import sounddevice"):  # PortAudio connects to the server
        total, shared = pss_and_sound_server(child.pid)
        assert 0 < shared < psutil.Process(child.pid).memory_full_info().pss / MB
        assert shared < total


def test_a_vanished_process_is_an_os_error() -> None:
    with pytest.raises(OSError):
        pss_and_sound_server(2**22 + 12345)
