"""Request bodies (validated: a NaN, an out-of-range number or an unknown preset is a 422)
and the documented shapes of the responses, for the OpenAPI schema.

Responses are the engine's own dicts sent as they are (docs/architecture.md fixes their names), so
the response models here describe them for clients and the schema fuzz test; they allow
extra fields, since the engine adds honest detail (Brier score, latency samples, ...).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config import EngineConfig
from engine.presets.toml_file import NAME_PATTERN
from engine.vocabulary import PRESET_ORDER

Preset = Annotated[str, Field(pattern=f"^{NAME_PATTERN.pattern}$", examples=list(PRESET_ORDER))]
"""A preset's name: the built-ins, or the listener's own (`GET /api/presets` lists them;
a name the engine does not know is a 422 from the route)."""
TierName = Literal["l1", "l2", "l3"]
MAX_SEEK_SECONDS = EngineConfig().max_track_seconds
"""No track is longer, so no seek step needs to be."""

ZeroToOne = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class Body(BaseModel):
    """A request body: unknown fields are mistakes, not ignored."""

    model_config = ConfigDict(extra="forbid")


def _number_only(schema: dict[str, Any]) -> None:
    """Document an optional number as a number: leaving it out is how it is optional."""
    options = schema.pop("anyOf")
    schema.pop("default", None)
    schema.update(next(option for option in options if option.get("type") != "null"))


class SeekRequest(Body):
    """Exactly one of `position` (absolute seconds) or `delta` (seconds from now)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["position"]}, {"required": ["delta"]}]},
    )
    position: float | None = Field(
        None,
        ge=0.0,
        le=MAX_SEEK_SECONDS,
        allow_inf_nan=False,
        description="Seconds from the start of the track (at most its duration)",
        json_schema_extra=_number_only,
    )
    delta: float | None = Field(
        None,
        ge=-MAX_SEEK_SECONDS,
        le=MAX_SEEK_SECONDS,
        allow_inf_nan=False,
        description="Seconds to move from the current position (past the end: next track)",
        json_schema_extra=_number_only,
    )

    @model_validator(mode="after")
    def one_target(self) -> Self:
        if (self.position is None) == (self.delta is None):
            raise ValueError('give exactly one of "position" or "delta" (seconds)')
        return self


class PresetRequest(Body):
    preset: Preset


class IntensityRequest(Body):
    intensity: ZeroToOne


# -- documented responses ------------------------------------------------------------------
class Shape(BaseModel):
    """A response shape: the fields docs/architecture.md fixes are required, more may follow."""

    model_config = ConfigDict(extra="allow")


class TierStats(Shape):
    size_mb: float
    count: int
    hits: int
    misses: int
    hit_rate: float
    utilization: float
    max_mb: float


class OverallStats(Shape):
    total_hits: int
    total_misses: int
    overall_hit_rate: float
    total_size_mb: float


class PredictionStats(Shape):
    accuracy: float
    top3_accuracy: float
    predictions_made: int
    switches_in_session: int
    session_duration_minutes: float


class CacheStats(Shape):
    l1: TierStats
    l2: TierStats
    l3: TierStats
    overall: OverallStats
    prediction: PredictionStats


class PresetProbability(Shape):
    preset: Preset
    probability: float


class Predictions(Shape):
    """Probabilities sum to 1 over the presets other than the current one."""

    current_preset: Preset
    current_position: float
    predictions: list[PresetProbability]


class CacheEntry(Shape):
    track_id: str
    preset: Preset
    chunk_idx: int
    intensity: float
    tier: TierName
    access_count: int
    probability: float
    size_bytes: int


class CacheContents(Shape):
    l1_entries: list[CacheEntry]
    l2_entries: list[CacheEntry]
    l3_entries: list[CacheEntry]
    total_entries: int


class CacheCheck(Shape):
    """`estimated_latency_ms` is the median measured switch latency from that tier (or
    from a miss), None until a switch has been served from there."""

    track_id: str
    preset: Preset
    chunk_idx: int
    intensity: float
    is_cached: bool
    tier: TierName | None
    estimated_latency_ms: float | None


class WorkerHealth(Shape):
    threads: int
    alive: int
    paused: bool
    queue_depth: int
    renders_total: int
    renders_per_second: float
    failures: int
    timeouts: int
    abandoned: int
    restarts: int
    busy_percent: float
    last_error: str
    real_time_factor: float | None
    behind: int


class CacheHealth(Shape):
    status: Literal["healthy", "warning", "critical"]
    message: str
    l1_hit_rate: float
    overall_hit_rate: float
    total_memory_mb: float
    memory_limit_mb: float
    memory_utilization: float
    prediction_accuracy: float
    underruns: int
    worker: WorkerHealth


class Cleared(BaseModel):
    tier: Literal["all", "l1", "l2", "l3"]
    cleared_chunks: int


class TrackInfo(BaseModel):
    id: str
    title: str
    """The title tag, else the file's name without its extension."""
    artist: str
    album: str
    album_artist: str
    track_number: int | None
    disc_number: int | None
    file: str
    """The file's name only: the API never shows or takes a path."""
    duration_seconds: float
    chunks: int


class PresetInfo(BaseModel):
    name: str
    place: int
    """1-based, in the order shown everywhere; keys 1-9 choose the first nine."""
    key: str | None
    """The listener's own key for it, if presets.toml gives one."""
    description: str
    origin: Literal["built-in", "yours", "yours, replacing the built-in"]


class NowPlaying(TrackInfo):
    index: int
    """0-based place in the playlist."""


class PlayerState(BaseModel):
    playing: bool
    track: NowPlaying | None
    track_count: int
    position_seconds: float
    chunk_index: int
    preset: Preset
    """The preset being heard."""
    requested_preset: Preset
    """The preset asked for; differs from `preset` while a missed switch renders."""
    intensity: float
    volume: float
    muted: bool
    output: str
    output_notice: str
    underruns: int


class ErrorReport(BaseModel):
    """One distinct failure from the player's error log."""

    kind: str
    """What failed: track, engine, output, state, trace."""
    message: str
    """The latest one-line message, as the event log shows it."""
    count: int
    first_seen_seconds_ago: float
    last_seen_seconds_ago: float


class Problem(BaseModel):
    """Every error but a 422: `message` in one line, `detail` the same line."""

    message: str
    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """A 422: `message` in one line, `detail` per field."""

    message: str
    detail: list[FieldProblem]
