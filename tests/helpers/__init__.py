"""What the tests share besides fixtures: fake clocks, polling, generated audio files and
engines held at a known point. Fixtures stay in tests/conftest.py, which pytest loads."""
