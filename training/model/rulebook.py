"""The points rulebook: what marketing ops edits, validated, and compiled onto the feature spec.

A rulebook is YAML without code: **attribute rules** (who the lead is: field equals / in /
range -> points, counted in the *fit* sub-score), **behaviour rules** (what the lead did: an
activity type and optional detail glob -> points per occurrence within a window, with a cap
and an optional decay half-life, counted in the *engagement* sub-score; negative points are
negative rules), **instant-pass** triggers (a quote or demo request hands off at once), the
fit x engagement **grade grid** and the **MQL threshold**.

Rules never read activities themselves: :func:`compile_rules` turns each behaviour rule into a
signal (or a windowed engagement score, when it decays) of the feature spec, so rule points come
out of the same feature pipeline, offline and online, as every model input.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from leadscore.features.spec import (
    CategoricalAttribute,
    CreatedAttribute,
    Engagement,
    FeatureSpec,
    NumericAttribute,
    Signal,
    checked_name,
    normalise_level,
)

DEFAULT_RULEBOOK = Path(__file__).resolve().parent / "default_rulebook.yaml"
FIT_GRADES = ("A", "B", "C", "D")
ENGAGEMENT_GRADES = ("1", "2", "3", "4")
# a rule's name names its feature (rule_<name>), so it follows the spec's rule for names
RuleName = Annotated[str, AfterValidator(checked_name)]


class RulebookError(ValueError):
    """A rulebook that cannot be used; the message names the rule and the field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Model):
    """One attribute test; exactly one of equals / in / range / missing."""

    # bool and int before float: YAML reads `yes` as true and `50` as an integer, and a
    # categorical attribute must see them as written (see :func:`normalised_conditions`)
    equals: str | bool | int | float | None = None
    in_: tuple[str | bool | int | float, ...] | None = Field(None, alias="in")
    range: tuple[float | None, float | None] | None = None  # [low, high): None = open end
    missing: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [k for k in ("equals", "in_", "range", "missing") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "use exactly one operator of equals, in, range, missing "
                f"(found {', '.join(g.rstrip('_') for g in given) or 'none'})"
            )
        return self


class ActivityMatch(_Model):
    type: str
    detail: str | None = None


class Rule(_Model):
    """A points rule: attribute conditions (``when``) or an activity (``activity``), not both."""

    name: RuleName
    label: dict[str, str] = Field(default_factory=dict)  # {"en": ..., "ja": ...}
    when: dict[str, Condition] | None = None
    activity: ActivityMatch | None = None
    points: float
    cap: float | None = None  # most points the rule gives (least, for a negative rule)
    window_days: int = Field(90, gt=0)
    half_life_days: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if (self.when is None) == (self.activity is None):
            raise ValueError("give either 'when' (attribute rule) or 'activity' (behaviour rule)")
        if self.cap is not None and self.cap * self.points <= 0:
            raise ValueError("cap must have the sign of points")
        return self

    @property
    def kind(self) -> Literal["fit", "engagement"]:
        return "fit" if self.when is not None else "engagement"

    def text(self, lang: str = "en") -> str:
        """The label in ``lang``, else in English, else in the one language it has (a rule a
        Japanese team labelled only in Japanese), else the name."""
        only = next(iter(self.label.values()), None)
        return self.label.get(lang) or self.label.get("en") or only or self.name.replace("_", " ")


class InstantPass(_Model):
    """An activity that hands the lead to sales at once, whatever its points."""

    name: RuleName
    label: dict[str, str] = Field(default_factory=dict)
    activity: ActivityMatch
    window_days: int = Field(30, gt=0)


class Grades(_Model):
    """Lowest sub-score for each grade; below the last listed grade is D (fit) or 4."""

    fit: dict[Literal["A", "B", "C"], float]
    engagement: dict[Literal["1", "2", "3"], float]


class Rulebook(_Model):
    version: Literal[1] = 1
    mql_threshold: float
    grades: Grades
    rules: tuple[Rule, ...]
    instant_pass: tuple[InstantPass, ...] = ()
    # an instant pass hands the lead to sales whatever the model says, unless set to false
    instant_pass_hands_off: bool = True

    @model_validator(mode="after")
    def _unique(self) -> Rulebook:
        names = [r.name for r in self.rules] + [p.name for p in self.instant_pass]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule names: {', '.join(duplicates)}")
        return self

    def fingerprint(self) -> str:
        payload = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    @property
    def attribute_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.kind == "fit"]

    @property
    def behaviour_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.kind == "engagement"]


def _describe(errors: list[dict], raw: dict) -> str:
    problems = []
    for error in errors:
        location = list(error["loc"])
        where = ".".join(str(p) for p in location) or "(top level)"
        if len(location) >= 2 and location[0] in ("rules", "instant_pass"):
            try:
                name = raw[location[0]][location[1]].get("name", f"#{location[1] + 1}")
                where = f"rule '{name}', field {'.'.join(str(p) for p in location[2:]) or '-'}"
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        message = error["msg"]
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden" and "when" in location:
            message = f"unknown operator '{location[-1]}' (use equals, in, range or missing)"
        elif error["type"] == "extra_forbidden":
            message = f"unknown field '{location[-1]}'"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def parse_rulebook(raw: dict, source: str = "rulebook") -> Rulebook:
    try:
        return Rulebook.model_validate(raw)
    except ValidationError as exc:
        raise RulebookError(f"{source}: {_describe(exc.errors(), raw)}") from None


class _RulebookLoader(yaml.SafeLoader):
    """YAML with numbers only in plain decimal form; anything else stays the text written.

    Why: YAML 1.1 reads an industry code ``0111`` as the octal number 73, ``12:30`` as 750
    and ``0x1A`` as 26, so a rule would silently compare with a level no export has. Kept
    as text, a code matches its level; where a number is due (points, a threshold) the
    text is read as a decimal number, and ``12:30`` is refused. ``.inf`` and ``.nan`` stay
    numbers: ``rules suggest`` writes an unreachable threshold as ``.inf``.
    """


_PLAIN_DECIMAL = re.compile(
    r"[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


def _number_as_written(constructor):  # type: ignore[no-untyped-def]
    def construct(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
        if _PLAIN_DECIMAL.fullmatch(node.value):
            return constructor(loader, node)
        return node.value

    return construct


_RulebookLoader.add_constructor(
    "tag:yaml.org,2002:int", _number_as_written(yaml.SafeLoader.construct_yaml_int)
)
_RulebookLoader.add_constructor(
    "tag:yaml.org,2002:float", _number_as_written(yaml.SafeLoader.construct_yaml_float)
)


def load_rulebook(path: str | Path = DEFAULT_RULEBOOK) -> Rulebook:
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_RulebookLoader) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulebookError(f"{path}: cannot read the rulebook ({exc})") from None
    if not isinstance(raw, dict):
        raise RulebookError(f"{path}: a rulebook is a mapping with mql_threshold, grades, rules")
    return parse_rulebook(raw, source=path.name)


def dump_rulebook(rulebook: Rulebook, header: str = "") -> str:
    data = rulebook.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["mql_threshold"] = _whole(data["mql_threshold"])
    for rule in data["rules"]:
        for key in ("points", "cap"):
            if key in rule:
                rule[key] = _whole(rule[key])
        if "when" in rule:
            rule.pop("window_days", None)
        for condition in (rule.get("when") or {}).values():
            for key in ("equals", "in", "range", "missing"):
                condition.setdefault(key, None)
            for key in [k for k, v in condition.items() if v is None]:
                del condition[key]
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


# ------------------------------------------------------------------------- onto the spec


def rule_signal(name: str) -> str:
    return f"rule_{name}"


def rule_feature(rule: Rule | InstantPass) -> str:
    """The feature column a behaviour rule or instant pass reads."""
    if isinstance(rule, Rule) and rule.half_life_days:
        return f"engagement_{rule_signal(rule.name)}"
    return f"{rule_signal(rule.name)}_count_{rule.window_days}d"


def compile_rules(rulebook: Rulebook, spec: FeatureSpec) -> FeatureSpec:
    """The spec plus one signal per behaviour rule and instant pass; checks attribute fields.

    Attribute rules name spec attributes (their values are compared after the spec's own
    normalisation, so 'IT' in a rule matches ' it ' in the data).
    """
    attributes = {a.name: a for a in spec.attributes}
    for rule in rulebook.attribute_rules:
        for field in rule.when or {}:
            if field not in attributes:
                raise RulebookError(
                    f"rule '{rule.name}', field '{field}': not an attribute of the feature spec "
                    f"(attributes: {', '.join(attributes) or 'none'})"
                )
            condition = (rule.when or {})[field]
            values = [condition.equals, *(condition.in_ or ())]
            if not isinstance(attributes[field], NumericAttribute) and any(
                isinstance(v, bool) for v in values
            ):
                raise RulebookError(
                    f"rule '{rule.name}', field '{field}': YAML reads yes/no/true/false as a "
                    "truth value, not as a level of a categorical attribute. Write the level "
                    "in quotes as the export spells it, such as equals: 'yes'"
                )
    signals = list(spec.signals)
    engagement = list(spec.engagement)
    taken = {s.name for s in signals} | {e.name for e in engagement}
    for rule in [*rulebook.behaviour_rules, *rulebook.instant_pass]:
        name = rule_signal(rule.name)
        if name in taken:
            continue
        assert rule.activity is not None
        points = rule.points if isinstance(rule, Rule) else 1.0  # an instant pass only helps
        signals.append(
            Signal(
                name=name,
                activity_types=(rule.activity.type,),
                detail=rule.activity.detail,
                stats=("count",),
                windows=(rule.window_days,),
                # the models read the rule's activity the way its points do
                direction="up" if points > 0 else "down" if points < 0 else "free",
            )
        )
        if isinstance(rule, Rule) and rule.half_life_days:
            engagement.append(
                Engagement(
                    name=name,
                    half_life_days=rule.half_life_days,
                    weights={name: 1.0},
                    window_days=rule.window_days,
                )
            )
    return spec.model_copy(update={"signals": tuple(signals), "engagement": tuple(engagement)})


def normalised_conditions(rule: Rule, spec: FeatureSpec) -> dict[str, Condition]:
    """The rule's conditions with values normalised like the attribute's data.

    A categorical attribute's levels are text, so a number in a rule is compared as the
    export writes it: ``employee_band: {equals: 50}`` matches the level '50'; a creation hour
    of 9 is the level '09'.
    """
    attributes = {a.name: a for a in spec.attributes}
    conditions = {}
    for field, condition in (rule.when or {}).items():
        attribute = attributes[field]
        if not isinstance(attribute, NumericAttribute):
            update: dict[str, object] = {}
            if condition.equals is not None:
                update["equals"] = _level(condition.equals, attribute)
                if update["equals"] is None:  # 'unknown', '-': the spec reads them as empty
                    update = {"equals": None, "missing": True}
            if condition.in_ is not None:
                update["in_"] = tuple(_level(v, attribute) for v in condition.in_)
            condition = condition.model_copy(update=update)
        conditions[field] = condition
    return conditions


def _level(
    value: str | bool | int | float, attribute: CategoricalAttribute | CreatedAttribute
) -> object:
    """A rule's value as a level of ``attribute``: text normalised, a whole number as an
    integer ('50', never '50.0'), a creation hour in two digits ('09'); NaN stays NaN and a
    missing marker becomes None, both of which ``in`` reads as "missing"."""
    if isinstance(value, float) and value != value:
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(attribute, CreatedAttribute):
        level = normalise_level(value, {})
        if attribute.part == "hour" and level is not None and level.isdigit():
            return f"{int(level):02d}"
        return level
    return normalise_level(value, attribute.aliases)
