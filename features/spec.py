"""The declarative feature spec: what a lead's feature vector is, written once, read by every path.

The spec is YAML that a data scientist reads and edits and that travels with the model. The
offline builder (Ibis, :mod:`features.offline`) and the online path (:mod:`features.online`)
both derive every feature from these objects, so a feature's definition lives here and nowhere
else. Pydantic does the validation: an error names the field path (``signals.3.detail``) and
what was expected, which a hand-written checker would only do worse.

Definitions, for an as-of time ``t`` (a cutoff) and ``lookback_days`` L:

* activity features only see events with ``t - L < occurred_at <= t``;
* ``<signal>_count_<w>d``: events of the signal with ``occurred_at > t - w days``;
* ``<signal>_days_<w>d``: distinct UTC calendar dates among those events;
* ``<signal>_recency_days`` / ``<signal>_first_days``: days from the last / first event to ``t``
  (empty when the signal never fired);
* ``engagement_<name>``: sum over events of ``weight * 0.5 ** (age_days / half_life_days)``;
* ratios: numerator / denominator, empty when the denominator is 0;
* ``lead_age_days``: days from ``created_at`` to ``t``;
* a ``created`` attribute: the weekday (``monday``..``sunday``) or hour (``00``..``23``) of
  ``created_at`` on the clocks of its ``time_zone`` (an IANA name, daylight saving included).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from leadscore.features import schema

DEFAULT_SPEC = Path(__file__).resolve().parent / "default_spec.yaml"
SignalStat = Literal["count", "days", "recency", "first"]
Direction = Literal["up", "down", "free"]
DIRECTIONS = ("up", "down", "free")
ANY_TYPE = "*"
# "na" is not here: it is North America in a region column. A Japanese form's placeholders
# (選択してください, "please select") are as empty as an English form's "Select".
MISSING_MARKERS = (
    "", "select", "n/a", "none", "null", "nan", "-", "--", "---", "unknown", "(blank)",
    "選択してください", "選択して下さい", "未選択", "未入力", "未記入", "不明",
)  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class SpecError(ValueError):
    """A feature spec that cannot be used, with the field path and the fix."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __setstate__(self, state: dict) -> None:
        """A spec pickled before a field existed (directions, spellings) loads with the
        field's default, as its YAML would parse: models trained before still load, and
        dumping their spec reads every field."""
        fields = state.get("__dict__", {})
        for name, field in type(self).model_fields.items():
            if name not in fields and not field.is_required():
                fields[name] = field.get_default(call_default_factory=True)
        super().__setstate__(state)


def _checked_direction(value: object) -> object:
    """``direction`` as written, or an error that says what each choice means."""
    if isinstance(value, str) and value.strip().casefold() in DIRECTIONS:
        return value.strip().casefold()
    raise ValueError(
        f"direction '{value}' is not one of up, down, free: write 'up' when more never lowers "
        "the score (pricing views, demo requests), 'down' when more never raises it (careers "
        "page, unsubscribes), 'free' to let the model decide"
    )


class _Directed(_Model):
    """A signal or numeric attribute that may declare which way it moves the score.

    Why in the spec: the direction is a fact marketing ops and sales know (a pricing view never
    counts against a lead), not something to learn from one period's noise. The models are held
    to it (monotone and sign constraints) and reasons never contradict it. ``free`` (the
    default) leaves the model to decide; ``direction_reason`` says why a direction was chosen
    (``spec infer`` writes it) and does not change the model, so it is not in the fingerprint.
    """

    direction: Direction = "free"
    direction_reason: str | None = None

    @field_validator("direction", mode="before")
    @classmethod
    def _known_direction(cls, value: object) -> object:
        return _checked_direction(value)

    @property
    def sign(self) -> int:
        """+1 for up, -1 for down, 0 for free."""
        return {"up": 1, "down": -1}.get(self.direction, 0)


# levels rarer than this share of training rows read as one (__other__), unless a spec says
DEFAULT_MIN_SHARE = 0.005


class CategoricalAttribute(_Model):
    """A lead attribute with levels: text is read as :func:`normalise_level` reads it (one
    Unicode form, case folded, spaces trimmed) and aliases merged.

    Levels rarer than ``min_share`` of training rows are grouped into ``__other__`` and levels
    never seen in training read as ``__other__`` too; both are learned at fit time, not here.

    ``spellings`` shows a level as the export writes it (``web広告: Web広告``, ``linkedin:
    LinkedIn``), for the words a rep reads; it never changes a feature. Why: folding is what
    lets ``ＩＴ`` and ``it`` meet, but a reason reading 'Linkedin' or 'WEB広告' is not what the
    rep's CRM shows.
    """

    name: str
    column: str
    kind: Literal["categorical"] = "categorical"
    aliases: dict[str, str] = Field(default_factory=dict)
    min_share: float = Field(DEFAULT_MIN_SHARE, ge=0, lt=1)
    spellings: dict[str, str] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _normalised_aliases(cls, value: dict[str, str]) -> dict[str, str]:
        return {fold_text(k): fold_text(v) for k, v in value.items()}

    @field_validator("spellings")
    @classmethod
    def _folded_levels(cls, value: dict[str, str]) -> dict[str, str]:
        return {fold_text(k): v for k, v in value.items()}


class NumericAttribute(_Directed):
    """A numeric lead attribute; an empty value stays empty and the model decides whether
    that is good or bad (a declared direction holds the value, never its absence)."""

    name: str
    column: str
    kind: Literal["numeric"] = "numeric"


class CreatedAttribute(_Model):
    """When the lead was created, as a level: the weekday or the hour on ``time_zone``'s clocks.

    Why: the moment a lead arrives says something about who it is - a Tuesday 10:00 form fill
    from an office, a Sunday night sign-up from home. Read from ``created_at``, so it exists
    from the lead's first second and never changes; ``time_zone`` is an IANA name
    (``Asia/Tokyo``, ``America/New_York``), daylight saving included, because 09:00 UTC is
    the start of a New York working day in summer and an hour before it in winter.

    Both parts are categorical: the weekday reads ``monday``..``sunday`` and the hour
    ``00``..``23``. Why the hour too, not a number: its effect is not monotone (office hours
    against the night, and 23:00 sits next to 00:00), which a logistic regression cannot read
    from one number; as 24 levels it gets a weight per hour, with rare night hours grouped by
    ``min_share``, and LightGBM's categorical split groups hours by their effect where it would
    have cut bands from a number. A band (morning, afternoon) would fix edges no data chose.
    """

    name: str
    kind: Literal["created"] = "created"
    part: Literal["weekday", "hour"]
    time_zone: str = "UTC"
    min_share: float = Field(DEFAULT_MIN_SHARE, ge=0, lt=1)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"'{value}' is not an IANA time zone name; write one such as 'Asia/Tokyo', "
                "'America/New_York' or 'UTC'"
            ) from None
        return value

    @property
    def column(self) -> str:
        """The leads column it is read from, as for the other attributes."""
        return schema.CREATED_AT

    def level(self, moment: datetime) -> str:
        """The level of a zone-aware moment (the online path; the builder's twin is
        :func:`features.offline.created_expr`)."""
        local = moment.astimezone(ZoneInfo(self.time_zone))
        return WEEKDAYS[local.weekday()] if self.part == "weekday" else f"{local.hour:02d}"


def _attribute_kind(value: object) -> object:
    """An attribute's ``kind``: categorical when not written, so errors name the right one."""
    if isinstance(value, dict):
        return value.get("kind", "categorical")
    return getattr(value, "kind", None)


Attribute = Annotated[
    Annotated[CategoricalAttribute, Tag("categorical")]
    | Annotated[NumericAttribute, Tag("numeric")]
    | Annotated[CreatedAttribute, Tag("created")],
    Discriminator(_attribute_kind),
]


class Signal(_Directed):
    """A kind of activity: one or more activity types, optionally narrowed by a detail pattern.

    ``detail`` is a glob on the activity's detail where ``*`` matches anything (``/pricing*``,
    ``/case-studies/*``); matching is case-sensitive, as page paths are. ``direction`` says
    which way more of it moves the score (see :class:`_Directed`, and
    :func:`training.model.scorer.input_signs` for each stat's constraint).
    """

    name: str
    activity_types: tuple[str, ...]
    detail: str | None = None
    stats: tuple[SignalStat, ...] = ("count", "recency")
    windows: tuple[int, ...] | None = None

    @field_validator("activity_types")
    @classmethod
    def _some_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one activity type, or '*' for any")
        return value


class Engagement(_Model):
    """A decay-weighted engagement score: recent, weighty actions count most.

    ``window_days`` optionally ignores actions older than that (a rulebook's decayed rule).
    """

    name: str
    half_life_days: float = Field(gt=0)
    weights: dict[str, float]
    window_days: int | None = Field(None, gt=0)


class Ratio(_Model):
    """numerator / denominator of two other features, empty when the denominator is 0."""

    name: str
    numerator: str
    denominator: str


class CutoffPolicy(_Model):
    """When a lead is scored in the training set.

    A snapshot every ``every_days`` from ``created_at`` while the lead is open (not yet SQL, not
    older than ``max_lead_age_days``, before the export's end), and optionally at every activity
    of the types in ``at_activity_types`` (``'*'`` for all), as an MA system would call on events.
    """

    every_days: float = Field(7, gt=0)
    max_lead_age_days: float = Field(182, gt=0)
    at_activity_types: tuple[str, ...] = ()


class FeatureSpec(_Model):
    """The whole feature definition of a model; see the module docstring for the semantics."""

    version: Literal[1] = 1
    sql_within_days: int = Field(30, gt=0, description="label horizon H")
    lookback_days: int = Field(365, gt=0)
    windows: tuple[int, ...] = (7, 30, 90)
    lead_age: bool = True
    cutoffs: CutoffPolicy = CutoffPolicy()
    exclude_activity_types: tuple[str, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    signals: tuple[Signal, ...] = ()
    engagement: tuple[Engagement, ...] = ()
    ratios: tuple[Ratio, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        names = [a.name for a in self.attributes] + [s.name for s in self.signals]
        names += [e.name for e in self.engagement] + [r.name for r in self.ratios]
        for name in names:
            checked_name(name)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate names: {', '.join(duplicates)}")
        windows = [*self.windows, *(w for s in self.signals for w in s.windows or ())]
        windows += [e.window_days for e in self.engagement if e.window_days]
        for window in windows:
            if not 0 < window <= self.lookback_days:
                raise ValueError(f"window {window} must be within 1..lookback_days")
        signals = {s.name for s in self.signals}
        for score in self.engagement:
            unknown = sorted(set(score.weights) - signals)
            if unknown:
                raise ValueError(f"engagement '{score.name}' weights unknown signals {unknown}")
        features = set(self.feature_names())
        for ratio in self.ratios:
            for part in (ratio.numerator, ratio.denominator):
                if part not in features:
                    raise ValueError(f"ratio '{ratio.name}' refers to unknown feature '{part}'")
        return self

    # ------------------------------------------------------------------------------ names

    def signal_windows(self, signal: Signal) -> tuple[int, ...]:
        return signal.windows or self.windows

    def signal_features(self, signal: Signal) -> list[str]:
        """Feature names of one signal, in a fixed order."""
        names = []
        for window in self.signal_windows(signal):
            if "count" in signal.stats:
                names.append(f"{signal.name}_count_{window}d")
            if "days" in signal.stats:
                names.append(f"{signal.name}_days_{window}d")
        if "recency" in signal.stats:
            names.append(f"{signal.name}_recency_days")
        if "first" in signal.stats:
            names.append(f"{signal.name}_first_days")
        return names

    def activity_feature_names(self) -> list[str]:
        names = [n for s in self.signals for n in self.signal_features(s)]
        return names + [f"engagement_{e.name}" for e in self.engagement]

    def feature_names(self) -> list[str]:
        """Every feature, in the column order of the training set."""
        names = [a.name for a in self.attributes]
        names += ["lead_age_days"] if self.lead_age else []
        names += self.activity_feature_names()
        return names + [r.name for r in self.ratios]

    def categorical_features(self) -> list[str]:
        """Attributes whose values are levels: categorical ones and the creation weekday/hour."""
        return [a.name for a in self.attributes if a.kind in ("categorical", "created")]

    def numeric_features(self) -> list[str]:
        categorical = set(self.categorical_features())
        return [n for n in self.feature_names() if n not in categorical]

    def fingerprint(self) -> str:
        """A short hash of the spec's meaning, for MLflow params and the model's metadata.

        A ``free`` direction and every ``direction_reason`` are left out, so a spec that
        declares no direction has the fingerprint it had before directions existed, and the
        models trained with it still load.
        """
        payload = json.dumps(_without_defaults(self.model_dump(mode="json"), True), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _without_defaults(dumped: dict, reasons_too: bool = False) -> dict:
    """A dumped spec without ``direction: free`` (when ``reasons_too``) and empty
    ``direction_reason`` and ``spellings`` entries; ``reasons_too`` drops every reason and
    every spelling, which word a feature without changing it (a fingerprint holds meaning)."""
    for key in ("attributes", "signals"):
        for entry in dumped.get(key, ()):
            if reasons_too:
                entry.pop("direction_reason", None)
                entry.pop("spellings", None)
                if entry.get("direction") == "free":
                    entry.pop("direction")
            else:
                if "direction_reason" in entry and entry["direction_reason"] is None:
                    entry.pop("direction_reason")
                if "spellings" in entry and not entry["spellings"]:
                    entry.pop("spellings")
    return dumped


def load_spec(path: str | Path) -> FeatureSpec:
    """Read a spec from YAML; errors name the file and the field path."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read the feature spec ({exc})") from None
    return parse_spec(raw or {}, source=str(path))


def parse_spec(raw: dict, source: str = "spec") -> FeatureSpec:
    try:
        return FeatureSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise SpecError(f"{source}: invalid feature spec: {problems}") from None


def dump_spec(spec: FeatureSpec, path: str | Path | None = None, header: str = "") -> str:
    """The spec as readable YAML (defaults included, so every knob is visible to edit)."""
    text = yaml.safe_dump(
        _without_defaults(spec.model_dump(mode="json")),
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    text = header + text
    if path is not None:
        Path(path).write_text(text)
    return text


def normalise_level(value: object, aliases: dict[str, str]) -> str | None:
    """A categorical value as the spec sees it: :func:`fold_text`, aliased; None when empty.

    The offline builder runs this very function on each distinct spelling (see
    :func:`features.offline.normalise_expr`), and the property test holds the two paths to
    equality.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = fold_text(str(value))
    if text in MISSING_MARKERS:
        return None
    return aliases.get(text, text)


def fold_text(text: str) -> str:
    """Text in one form whatever the keyboard: Unicode NFKC (full-width ``ＩＴ`` is ``IT``,
    half-width ``ｶﾅ`` is ``カナ``), case folded where a script has case (``Straße`` and
    ``STRASSE`` meet), runs of white space as one space, trimmed.

    Why never by keeping ``[a-z0-9]``: text from users is data in any script; a Japanese job
    title is a level, not noise to strip.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return re.sub(r"\s+", " ", folded).strip(" ")


def _word_character(character: str) -> bool:
    """A letter, a mark (the vowel signs of Devanagari, the dakuten of kana) or a digit, of
    any script."""
    return unicodedata.category(character)[0] in "LMN"


def name_slug(text: str) -> str:
    """``job_title`` from "Job Title", ``役職`` from "役職", ``it部門`` from "ＩＴ部門": the
    text folded (:func:`fold_text`) with every run of other characters (spaces, punctuation,
    symbols) as one ``_``; empty when nothing is left."""
    folded = fold_text(str(text))
    pieces = "".join(c if _word_character(c) else " " for c in folded)
    return "_".join(pieces.split())


def feature_name(text: str) -> str:
    """A feature name from a column or an activity type, keeping the letters of every script
    (:func:`name_slug`); ``f_`` goes first when it would not start with a letter.

    Why these characters and no others: a feature name is a data frame column, a LightGBM
    feature name (which refuses JSON's ``"``, ``,``, ``:``, ``[``, ``]``, ``{``, ``}``), an
    MLflow signature name and a SQL column; letters, marks, digits and ``_`` suit all four.
    """
    name = name_slug(text)
    return name if name[:1].isalpha() else f"f_{name}"


def checked_name(name: str) -> str:
    """``name`` when :func:`is_feature_name` holds; else an error that says what to write."""
    if not is_feature_name(name):
        raise ValueError(
            f"name '{name}' must be lower_snake_case: letters of any script, digits and _, "
            f"starting with a letter (write '{feature_name(name)}')"
        )
    return name


def is_feature_name(name: str) -> bool:
    """Whether ``name`` is lower_snake_case in any script: folded (:func:`fold_text`), a letter
    first, then letters, marks, digits and ``_``."""
    return (
        name[:1].isalpha()
        and name == fold_text(name)
        and all(c == "_" or _word_character(c) for c in name)
    )


def glob_to_regex(pattern: str) -> str:
    """A detail glob (``*`` = anything) as an anchored regular expression."""
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


def types_of(signal: Signal, spec: FeatureSpec) -> tuple[str, ...] | None:
    """The activity types a signal matches, or None for any type not excluded by the spec."""
    return None if ANY_TYPE in signal.activity_types else signal.activity_types
