"""The `tierplay` command: the TUI by default, plus its subcommands (`SUBCOMMANDS`).

User mistakes print one line and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from engine.config import EngineConfig
from engine.errors import TierplayError
from engine.presets.book import PRESETS_FILE
from tui.config_folder import config_dir

if TYPE_CHECKING:
    from api import ApiSettings
    from engine import Engine

SUBCOMMANDS = ("render", "simulate", "devices", "presets")
API_TOKEN_ENV = "TIERPLAY_API_TOKEN"
DEFAULT_LIBRARY = Path(__file__).resolve().parent.parent / "sample_audio"
"""The sample folder beside the package: played when no path is given, from any folder."""
MAX_RENDER_SLOWDOWN = 100.0


class CliError(Exception):
    """A user mistake: printed as one line, exit status 2."""


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sink", choices=("auto", "sounddevice", "null"), default="auto")
    parser.add_argument("--device", help="output device name or index")
    parser.add_argument(
        "--budget-mb",
        type=float,
        help="memory the engine may hold: cache tiers, source blocks and render scratch "
        f"(default {EngineConfig().process_budget_mb:.0f})",
    )
    parser.add_argument("--chunk-seconds", type=float, help="render chunk length (default 10)")
    parser.add_argument("--state-dir", type=Path, help="where predictor state is kept")
    parser.add_argument(
        "--render-slowdown",
        type=float,
        metavar="N",
        help="model a slower machine: every render costs N times its CPU time (1-100)",
    )
    parser.add_argument(
        "--record", type=Path, metavar="TRACE.jsonl", help="record every command as a trace"
    )


def add_api_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("remote API")
    group.add_argument(
        "--api",
        metavar="[HOST:]PORT",
        help="serve the HTTP API of this player (host 127.0.0.1 unless given)",
    )
    group.add_argument(
        "--api-allow-remote",
        action="store_true",
        help="let other machines use the API (a token is then required)",
    )
    group.add_argument(
        "--api-token",
        help=f"the token clients must send (default ${API_TOKEN_ENV}, else one is generated "
        "and shown when remote access is allowed)",
    )


def api_settings(args: argparse.Namespace) -> ApiSettings | None:
    """The API asked for on the command line, checked; None when it is off."""
    if args.api is None:
        if args.api_allow_remote or args.api_token is not None:
            raise CliError("--api-allow-remote and --api-token need --api [HOST:]PORT")
        return None
    from api import ApiSettings  # the web stack loads only when the API is wanted

    token = args.api_token if args.api_token is not None else os.environ.get(API_TOKEN_ENV)
    return ApiSettings.from_options(args.api, args.api_allow_remote, token or None)


def library_root(paths: Sequence[Path]) -> Path:
    """The folder a recorded trace's paths are relative to (`simulate --library`)."""
    folders = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    return Path(os.path.commonpath(folders)) if folders else Path.cwd()


def start_recording(engine: Engine, args: argparse.Namespace, paths: Sequence[Path]) -> None:
    if args.record is not None:
        if args.record.is_dir():
            raise CliError(f"{args.record}: is a folder (--record needs a file)")
        engine.record_to(args.record, library_root(paths))


def presets_path() -> Path:
    """The listener's presets file, followed while playing (it need not exist)."""
    return config_dir() / PRESETS_FILE


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    config = EngineConfig(state_dir=args.state_dir, presets_file=presets_path())
    # the chunk's length first: the tiers' floors are counted in chunks
    if args.chunk_seconds is not None:
        if not 1.0 <= args.chunk_seconds <= 60.0:
            raise CliError("--chunk-seconds must be between 1 and 60")
        config = EngineConfig(**{**config.__dict__, "chunk_seconds": args.chunk_seconds})
    if args.budget_mb is not None:
        if not args.budget_mb > 0:
            raise CliError("--budget-mb must be a positive number")
        config = config.with_process_budget(args.budget_mb)
    if args.render_slowdown is not None:
        if not 1.0 <= args.render_slowdown <= MAX_RENDER_SLOWDOWN:
            raise CliError(f"--render-slowdown must be between 1 and {MAX_RENDER_SLOWDOWN:g}")
        config = replace(config, render_slowdown=args.render_slowdown)
    return config


def budget_notice(config: EngineConfig, asked_mb: float | None) -> str | None:
    """What to tell a listener whose `--budget-mb` is below what the engine needs to work
    (its source blocks and render scratch, plus the tiers' floors); None otherwise."""
    if asked_mb is None or config.process_budget_mb <= asked_mb + 0.5:
        return None
    return (
        f"--budget-mb {asked_mb:g} is less than the engine needs to work "
        f"({config.working_memory_mb:.0f} MB besides the cache): it holds up to "
        f"{config.process_budget_mb:.0f} MB"
    )


def device_notice(args: argparse.Namespace) -> str | None:
    """A device asked for with the null sink, which plays through none: say so."""
    if args.device is None or args.sink != "null":
        return None
    return f"--device {args.device} is not used: --sink null plays silently, on no device"


def parse_device(value: str | None) -> str | int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def run_player(argv: Sequence[str], exiting: bool = False) -> int:
    """The player; `exiting`: the process ends when this returns, so renders still
    running are not waited for."""
    parser = argparse.ArgumentParser(
        prog="tierplay",
        description="Terminal music player with a predictive multi-tier buffer. "
        f"Subcommands: {', '.join(SUBCOMMANDS)} (tierplay SUBCOMMAND --help).",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="files, folders or .m3u/.m3u8 playlists to play (default: the sample folder)",
    )
    parser.add_argument("--version", action="version", version=f"tierplay {tierplay_version()}")
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="check keymap.toml in the config folder, print each problem, and exit",
    )
    add_common_options(parser)
    add_api_options(parser)
    args = parser.parse_args(argv)
    if args.check_config:
        return check_config()
    paths = args.paths or [DEFAULT_LIBRARY]
    if not args.paths and not DEFAULT_LIBRARY.is_dir():
        raise CliError("no path given and no sample folder installed: tierplay PATH ...")
    for path in paths:
        if not path.exists():
            raise CliError(f"{path}: no such file or folder")
    # The engine loads here, not with this module: `--help`, `--check-config` and the
    # errors above answer without it.
    from engine import Engine
    from engine.library.scan import scan
    from engine.runtime import tune_runtime_for_audio

    found, _skipped = scan(paths)  # a walk, no file opened: quick for thousands of files
    if not found:
        raise CliError("no playable audio files in " + ", ".join(map(str, paths)))
    config = config_from_args(args)
    settings = api_settings(args)
    listener = None
    if settings is not None:  # bound before anything starts: a busy port is a plain error
        from api.address import open_listener

        listener = open_listener(settings.address, settings.allow_remote)
    tune_runtime_for_audio()
    engine = Engine(config, sink=args.sink, device=parse_device(args.device))
    for notice in (budget_notice(config, args.budget_mb), device_notice(args)):
        if notice is not None:
            engine.log(notice)
    server = None
    try:
        if settings is not None and listener is not None:
            from api.server import ApiServer

            server = ApiServer(engine, settings, listener)
        start_recording(engine, args, paths)
        from tui.library_opening import LibraryOpening

        # The library opens (headers of every file) and starts playing in a thread while
        # Textual loads and draws; the app's progress bar follows it, and with nothing
        # playable there the app ends with return code 2 and says why.
        opening = LibraryOpening(engine, paths, play=True)
        from tui.app import TierplayApp  # Textual loads only when the UI is wanted

        recording = args.record if engine.recording else None
        from tui.quick_exit import quick_exit_driver

        driver = quick_exit_driver() if exiting else None  # the process ends right after
        app = TierplayApp(
            engine,
            recording=recording,
            api=server,
            opening=opening,
            mpris=True,
            driver_class=driver,
        )
        app.run()
        return app.return_code or 0
    finally:
        if listener is not None:
            listener.close()  # the app has stopped the server; this is for early exits
        engine.close(wait_for_work=not exiting)


def tierplay_version() -> str:
    try:
        return metadata.version("tierplay")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown (not installed)"


def check_config() -> int:
    """Each problem of the keymap on its own line naming the file; 1 if there is one."""
    from tui.app import load_app_keymap  # Textual, for the app's bindings
    from tui.keymap import keymap_path

    path = keymap_path()
    if not path.exists():
        print(f"{path}: not there, the default keys are in use")
        return 0
    loaded = load_app_keymap(path)
    for problem in loaded.problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if loaded.problems:
        return 1
    count = len(loaded.keymap)
    print(f"{path}: ok, {count} binding{'' if count == 1 else 's'} remapped")
    return 0


def run_devices(argv: Sequence[str]) -> int:
    argparse.ArgumentParser(prog="tierplay devices", description="List output devices.").parse_args(
        argv
    )
    from engine.playback.sinks.output import list_output_devices

    try:
        devices = list_output_devices()
    except OSError as error:  # PortAudio library missing
        raise CliError(f"PortAudio is not available ({error})") from error
    if not devices:
        print("no output devices (Tierplay will use the null sink)")
    for device in devices:
        print(
            f"{device['index']:>3}  {device['name']}  [{device['hostapi']}]  "
            f"{device['channels']} ch, {device['default_samplerate']:.0f} Hz"
        )
    return 0


COMMAND_FUNCTIONS = {
    "devices": "tui.cli:run_devices",
    "render": "tui.commands.render:run_render",
    "simulate": "tui.commands.simulate:run_simulate",
    "presets": "tui.commands.presets:run_presets",
}
"""Each subcommand's function, imported only when it is asked for: the player does not
load the simulation rigs or the offline renderer."""


def subcommand(name: str) -> Callable[[Sequence[str]], int]:
    module, function = COMMAND_FUNCTIONS[name].split(":")
    run: Callable[[Sequence[str]], int] = getattr(importlib.import_module(module), function)
    return run


def main(argv: Sequence[str] | None = None, exiting: bool = False) -> int:
    """`exiting`: the process ends when this returns (the `tierplay` script)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return subcommand(argv[0])(argv[1:])
        return run_player(argv, exiting)
    except (CliError, TierplayError) as error:
        print(f"tierplay: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """numpy's BLAS starts a worker thread per core when it loads, and any call of it (a
    matrix product) would set them against the render threads for the cores. The engine
    makes no such call while playing; one thread makes sure a stray one does not. Set
    before numpy loads; a listener's own setting wins."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def script() -> NoReturn:
    """The `tierplay` command. Once `main` has saved the state, stopped the sound and closed
    every file, the process ends at once: the interpreter's teardown of a few hundred
    modules, and renders left mid-chunk, would add half a second to every quit."""
    one_blas_thread()
    code = main(exiting=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":
    one_blas_thread()
    sys.exit(main())
