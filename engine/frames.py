"""The array types audio travels in through the engine.

Apart from engine/vocabulary.py because it needs numpy, which the audio process, re-running
`tui.cli`'s imports (and so the config's vocabulary), must never load.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]
"""Interleaved stereo at the engine rate, shape (frames, 2)."""
Planar = npt.NDArray[np.float32]
"""Channel-major float32 audio shaped (channels, frames), as pedalboard uses it."""
