"""A real-music corpus from Debian packages, for benchmarks that must not run on test tones alone.

The generated `sample_audio/` tracks are short and tame; real releases bring what they miss:
lossy decoders (Vorbis, Opus, MP3), 22.05 and 48 kHz files the engine resamples, tracks of
10+ minutes, masters from -25 to -8 LUFS and decoded peaks above 0 dBFS. Debian ships such
music under free licences in game packages, so anyone can fetch the same files with apt.

Each package is fetched with `apt-get download` into a temporary folder and unpacked with
`dpkg-deb -x`; audio is also taken from the zip archives (.pk3) some games pack it in. Only a
chosen handful per package is kept, flattened into the corpus folder as `<game>-<name>.<ext>`
(about 16 tracks, 70 MB); files already there are not fetched again. The corpus lives in the
user cache folder (`~/.cache/tierplay/corpus` on Linux), never in the repository.

Run: .venv/bin/python -m bench.corpus [--dest DIR] [--no-loudness]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

AUDIO_SUFFIXES = (".ogg", ".flac", ".wav", ".mp3", ".opus")
METADATA_FILE = "corpus.json"
"""Measured figures per file (keyed by name, size and mtime): a re-run reads, not decodes."""


@dataclass(frozen=True)
class Package:
    """A Debian package and which of its audio files to keep (by file name), and why."""

    name: str
    prefix: str
    keep: tuple[str, ...]
    why: str


PACKAGES = (
    Package(
        "asc-music",
        "asc",
        ("frontiers.mp3", "machine_wars.mp3"),
        "MP3 at 22.05 kHz (resampled on load); a 7 min track",
    ),
    Package(
        "hyperrogue-music",
        "hyperrogue",
        ("hr3-crossroads.ogg", "hr-savino-ocean.ogg", "hr3-hell.ogg"),
        "short Vorbis loops (48 s - 2 min): many track changes in little time",
    ),
    Package(
        "nexuiz-music",
        "nexuiz",
        (
            "brokenlight.ogg",
            "stairs.ogg",
            "northern-lights.ogg",
            "subcities.ogg",
            "breakdown-easy.ogg",
            "brainsukker.ogg",
        ),
        "Vorbis in a .pk3 zip: the loudest (-8 LUFS), the quietest (-25 LUFS), 8-10 min ones",
    ),
    Package(
        "warzone2100-music",
        "warzone2100",
        ("track26.opus", "track17.opus", "track1.opus", "menu.opus", "track3_enhanced.opus"),
        "Opus at 48 kHz: a 14 min track, a loud master with +3 dBFS decoded peaks",
    ),
)


@dataclass(frozen=True)
class TrackFigures:
    name: str
    seconds: float
    rate: int
    channels: int
    lufs: float | None
    peak_dbfs: float | None


def corpus_dir() -> Path:
    """Where the corpus lives: the user cache folder, never the repository."""
    return Path(platformdirs.user_cache_dir("tierplay")) / "corpus"


def corpus_tracks(dir: Path | None = None) -> list[Path]:
    """The corpus's audio files, sorted; [] when the folder is absent (benchmarks then skip)."""
    folder = corpus_dir() if dir is None else Path(dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def target_name(package: Package, file_name: str) -> str:
    return f"{package.prefix}-{file_name}"


# -- fetching ------------------------------------------------------------------------------------


class FetchError(Exception):
    """A package that could not be fetched or unpacked: one line for the user."""


def _run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def _last_error(result: subprocess.CompletedProcess[str]) -> str:
    """apt's own reason (its `E:` line), not its warnings or progress."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E:")]
    return (errors or lines or [f"exit status {result.returncode}"])[-1]


class Apt:
    """`apt-get download`, with one `apt-get update` the first time a package is unknown
    (a fresh container has empty package lists)."""

    def __init__(self) -> None:
        self.updated = False

    def download(self, package: str, folder: Path) -> Path:
        result = _run(["apt-get", "download", package], cwd=folder)
        if result.returncode != 0 and not self.updated:
            self.updated = True
            update = _run(["apt-get", "update", "-qq"])
            if update.returncode != 0:
                print(f"apt-get update failed: {_last_error(update)}")
            result = _run(["apt-get", "download", package], cwd=folder)
        if result.returncode != 0:
            raise FetchError(_last_error(result))
        debs = sorted(folder.glob(f"{package}_*.deb"))
        if not debs:
            raise FetchError("apt-get download left no .deb")
        return debs[-1]


def _audio_in_tree(root: Path) -> Iterator[tuple[str, Path | tuple[Path, str]]]:
    """(file name, where) for every audio file under `root` and inside its zip archives."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            yield path.name, path
        elif suffix in (".pk3", ".zip"):
            try:
                with zipfile.ZipFile(path) as archive:
                    for member in archive.namelist():
                        if Path(member).suffix.lower() in AUDIO_SUFFIXES:
                            yield Path(member).name, (path, member)
            except zipfile.BadZipFile:
                continue


def _copy_out(source: Path | tuple[Path, str], target: Path) -> None:
    """Write through a `.part` file, so an interrupted run never leaves a cut track."""
    partial = target.with_name(target.name + ".part")
    if isinstance(source, Path):
        shutil.copyfile(source, partial)
    else:
        archive_path, member = source
        with (
            zipfile.ZipFile(archive_path) as archive,
            archive.open(member) as data,
            partial.open("wb") as out,
        ):
            shutil.copyfileobj(data, out)
    partial.replace(target)


def fetch_package(package: Package, dest: Path, apt: Apt) -> list[Path]:
    """Download, unpack, keep the chosen files; returns what was added."""
    with tempfile.TemporaryDirectory(prefix="tierplay-corpus-") as temp:
        folder = Path(temp)
        deb = apt.download(package.name, folder)
        unpacked = folder / "root"
        result = _run(["dpkg-deb", "-x", str(deb), str(unpacked)])
        if result.returncode != 0:
            raise FetchError(f"dpkg-deb -x failed: {_last_error(result)}")
        found = dict(_audio_in_tree(unpacked))
        missing = [name for name in package.keep if name not in found]
        if len(missing) == len(package.keep):
            raise FetchError(f"none of the chosen files is in it ({len(found)} audio files)")
        if missing:
            print(f"{package.name}: not in this version: {', '.join(missing)}")
        added = []
        for name in package.keep:
            target = dest / target_name(package, name)
            if name in found and not target.exists():
                _copy_out(found[name], target)
                added.append(target)
        return added


# -- a 48 kHz file, if no package brought one -----------------------------------------------------


def ensure_48k(dest: Path) -> Path | None:
    """Make `<name>-48k.flac` from the first 44.1 kHz track when the corpus has no 48 kHz file:
    the engine's resampling from 48 kHz must be measured on music, not only on tones."""
    import numpy as np
    import soundfile as sf
    from scipy.signal import resample_poly

    tracks = corpus_tracks(dest)
    if any(sf.info(str(path)).samplerate == 48_000 for path in tracks):
        return None
    source = next((p for p in tracks if sf.info(str(p)).samplerate == 44_100), None)
    if source is None:
        return None
    target = dest / f"{source.stem}-48k.flac"
    data, _rate = sf.read(str(source), dtype="float32", always_2d=True)
    converted = resample_poly(data, 160, 147, axis=0).astype(np.float32)
    partial = target.with_name(target.name + ".part")
    sf.write(str(partial), np.clip(converted, -1.0, 1.0), 48_000, format="FLAC")
    partial.replace(target)
    return target


# -- figures ---------------------------------------------------------------------------------------


def measure(path: Path, loudness: bool) -> TrackFigures:
    """Duration, rate and channels from the header; integrated LUFS and sample peak decoded."""
    import numpy as np
    import soundfile as sf

    info = sf.info(str(path))
    lufs = peak = None
    if loudness:
        import warnings

        import pyloudnorm

        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lufs = float(pyloudnorm.Meter(rate).integrated_loudness(data.astype(np.float64)))
        top = float(np.max(np.abs(data))) if data.size else 0.0
        peak = 20 * float(np.log10(top)) if top > 0 else float("-inf")
        seconds = len(data) / rate  # decoded length: headers of lossy files can be estimates
    else:
        seconds = info.frames / info.samplerate
    return TrackFigures(path.name, seconds, info.samplerate, info.channels, lufs, peak)


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def figures_for(tracks: list[Path], dest: Path, loudness: bool) -> list[TrackFigures]:
    """Measured once per file version; kept in corpus.json beside the tracks."""
    store = dest / METADATA_FILE
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    figures = []
    for path in tracks:
        entry = known.get(path.name)
        if (
            entry
            and entry["key"] == _file_key(path)
            and (entry["lufs"] is not None or not loudness)
        ):
            figures.append(TrackFigures(**{k: v for k, v in entry.items() if k != "key"}))
            continue
        try:
            figure = measure(path, loudness)
        except Exception as error:  # noqa: BLE001 - one line per unreadable file
            print(f"{path.name}: cannot be measured ({type(error).__name__}: {error})")
            continue
        known[path.name] = {**asdict(figure), "key": _file_key(path)}
        figures.append(figure)
    temp = store.with_name(store.name + ".part")
    temp.write_text(json.dumps(known, indent=1, sort_keys=True))
    temp.replace(store)
    return figures


def print_table(figures: list[TrackFigures]) -> None:
    width = max((len(f.name) for f in figures), default=4)
    print(f"{'file':<{width}}  {'duration':>8}  {'rate':>6}  ch  {'LUFS':>6}  {'peak dBFS':>9}")
    for f in figures:
        minutes, seconds = divmod(round(f.seconds), 60)
        lufs = f"{f.lufs:6.1f}" if f.lufs is not None else f"{'-':>6}"
        peak = f"{f.peak_dbfs:+9.1f}" if f.peak_dbfs is not None else f"{'-':>9}"
        print(
            f"{f.name:<{width}}  {minutes:5d}:{seconds:02d}  {f.rate:6d}  {f.channels:2d}  "
            f"{lufs}  {peak}"
        )
    total = sum(f.seconds for f in figures)
    print(f"{len(figures)} tracks, {total / 60:.1f} min")


def fetch_corpus(dest: Path) -> None:
    """Fetch every package whose chosen files are not all there yet; one line per failure."""
    dest.mkdir(parents=True, exist_ok=True)
    apt = Apt()
    for package in PACKAGES:
        if all((dest / target_name(package, name)).exists() for name in package.keep):
            print(f"{package.name}: already there")
            continue
        try:
            added = fetch_package(package, dest, apt)
        except (FetchError, OSError) as error:
            print(f"{package.name}: skipped ({error})")
            continue
        print(f"{package.name}: {len(added)} files ({package.why})")
    made = ensure_48k(dest)
    if made is not None:
        print(f"no 48 kHz file among the packages: made {made.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="default: " + str(corpus_dir()))
    parser.add_argument(
        "--no-loudness", action="store_true", help="skip decoding for LUFS and peak"
    )
    args = parser.parse_args()
    dest = (args.dest or corpus_dir()).expanduser()
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        print("apt-get and dpkg-deb are needed (a Debian or Ubuntu system); nothing fetched")
    else:
        fetch_corpus(dest)
    tracks = corpus_tracks(dest)
    print(f"corpus: {dest}")
    print_table(figures_for(tracks, dest, not args.no_loudness))


if __name__ == "__main__":
    main()
