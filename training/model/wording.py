"""The words a rep reads: the reason catalog, made whole for one model, and its texts.

The catalog (``reason_catalog.yaml``) names the concepts of the canonical vocabulary (a pricing
page, a demo request, a webinar) and words them in Japanese and English with the lead's own
values. An export we did not write brings signals, attributes and rules the catalog has never
heard of (Marketo's "Visit Web Page", a Japanese tool's 配信停止, a column 役職): for those
:func:`model_catalog` writes concepts of their own from the spec, by the catalog's ``phrases``,
so that every reason reads as words ("直近30日間に「配信停止」が1回"), never as a feature name
("配信停止 recency days: 144.8"), and an empty field reads as "not recorded", never "Unknown".

The same words serve the hand-off sheet's timeline (:func:`activity_words`): an activity is
named by the most specific concept it belongs to ("Viewed the pricing page"), else by the
catalog's words for its type ("Opened an email"), else as the export writes it.
"""

from __future__ import annotations

import fnmatch
import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from leadscore.features.spec import (
    ANY_TYPE,
    Attribute,
    CategoricalAttribute,
    FeatureSpec,
    Signal,
    fold_text,
    glob_to_regex,
)
from leadscore.training.model.rulebook import Rulebook
from leadscore.training.model.scorer import INSTANT_PASS, RULE_POINTS

CATALOG = Path(__file__).resolve().parent / "reason_catalog.yaml"
PATTERN = "activity_pattern"  # where the parts of terms against their direction go (explain)
LANGUAGES = ("en", "ja")
NUMBER = re.compile(r"\{(\w+)[^}]*\}")
# kana, kanji and half-width katakana: text a Japanese reader reads as Japanese
_JAPANESE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


@dataclass(frozen=True)
class Concept:
    """Something a rep knows (a pricing-page visit, a job level) and how to say it.

    ``count``: the feature that says whether it happened (its ``none`` text is read when it
    did not: a count of 0, or, when ``timed``, a time since that is empty). ``missing``
    texts are read when a value the text names was not recorded.
    """

    key: str
    features: tuple[str, ...]
    rules: tuple[str, ...]
    texts: dict[str, str]
    none_texts: dict[str, str]
    count: str | None
    labels: dict[str, str] = field(default_factory=dict)  # the concept's name in a rule
    words: dict[str, dict[str, str]] = field(default_factory=dict)  # per language, level -> word
    for_texts: dict[str, str] = field(default_factory=dict)  # when it counts for the lead
    missing_texts: dict[str, str] = field(default_factory=dict)
    zero_texts: dict[str, dict[str, str]] = field(default_factory=dict)  # value -> lang -> text
    timed: bool = False

    def matches(self, term: str) -> bool:
        return term in self.features or any(fnmatch.fnmatchcase(term, p) for p in self.features)


@dataclass(frozen=True)
class Phrases:
    """The catalog's sentence frames: for what it has no concept of, relative words, blanks."""

    frames: dict[str, dict[str, str]]  # name -> lang -> frame
    activities: dict[str, dict[str, str]]  # canonical activity type -> lang -> words
    names: dict[str, str] = field(default_factory=dict)  # an MA tool's name, folded -> type

    def __call__(self, name: str, lang: str, **values: object) -> str:
        frame = self.frames[name]
        return (frame.get(lang) or frame["en"]).format(**values)

    def known_type(self, activity_type: str) -> str | None:
        """The canonical type an export's activity type is, by its name or by a name MA
        tools write for it (Marketo's ``Fill Out Form``, a Japanese tool's フォーム送信)."""
        if activity_type in self.activities:
            return activity_type
        return self.names.get(fold_text(activity_type))


def _texts(entry: dict, suffix: str = "") -> dict[str, str]:
    return {lang: entry[f"{lang}{suffix}"] for lang in LANGUAGES if f"{lang}{suffix}" in entry}


def parse_catalog(document: dict) -> dict[str, Concept]:
    """The ``concepts`` of a catalog document."""
    return {
        key: Concept(
            key=key,
            features=tuple(entry.get("features", ())),
            rules=tuple(entry.get("rules", ())),
            texts=_texts(entry),
            none_texts=_texts(entry, "_none"),
            count=entry.get("key"),
            labels=dict(entry.get("label", {})),
            words={lang: dict(levels) for lang, levels in entry.get("words", {}).items()},
            for_texts=_texts(entry, "_for"),
            missing_texts=_texts(entry, "_missing"),
            zero_texts={name: dict(texts) for name, texts in entry.get("zero", {}).items()},
            timed=bool(entry.get("timed", False)),
        )
        for key, entry in document["concepts"].items()
    }


@lru_cache(maxsize=8)
def load_catalog(path: Path = CATALOG) -> dict[str, Concept]:
    return parse_catalog(yaml.safe_load(path.read_text()))


@lru_cache(maxsize=1)
def _packaged() -> dict:
    return yaml.safe_load(CATALOG.read_text())


def parse_phrases(document: dict | None) -> Phrases:
    """A document's phrases, on top of the packaged ones (a model trained before a phrase
    existed still words it)."""
    if not document:
        return _packaged_phrases()
    return _phrases(document)


@lru_cache(maxsize=1)
def _packaged_phrases() -> Phrases:
    return _phrases({})


def _phrases(document: dict) -> Phrases:
    packaged = _packaged()
    activities = {**packaged["activities"], **document.get("activities", {})}
    names = {  # a model's own catalog adds names; an older one keeps the packaged names
        fold_text(name): activity_type
        for source in (packaged["activities"], document.get("activities", {}))
        for activity_type, entry in source.items()
        for name in entry.get("names", ())
    }
    return Phrases(
        frames={**packaged["phrases"], **document.get("phrases", {})},
        activities={t: {k: v for k, v in e.items() if k != "names"} for t, e in activities.items()},
        names=names,
    )


# ------------------------------------------------------------------------------ a model's catalog


@dataclass(frozen=True)
class ModelCatalog:
    """The catalog of one model: the catalog's concepts, then one for each signal, attribute
    and rule of its spec and rulebook that no catalog concept covers."""

    concepts: dict[str, Concept]
    phrases: Phrases
    spec: FeatureSpec | None = None


_MODEL_CATALOGS: dict[tuple[int, int, int], tuple[tuple[object, ...], ModelCatalog]] = {}


def model_catalog(
    spec: FeatureSpec, rulebook: Rulebook | None, document: dict | None
) -> ModelCatalog:
    """The catalog a model was trained with (``document``; None: the packaged one), completed
    for its spec and rulebook. Kept per (spec, rulebook, document): it is built once per model
    and read on every call."""
    key = (id(spec), id(rulebook), id(document))
    cached = _MODEL_CATALOGS.get(key)
    if cached is not None and all(
        a is b for a, b in zip(cached[0], (spec, rulebook, document), strict=True)
    ):
        return cached[1]
    known = set(spec.feature_names()) | {RULE_POINTS, INSTANT_PASS}
    concepts = {  # a concept naming a value this export lacks would word every lead as
        # "none" or "not recorded" ('Company size not recorded' where the column is another)
        key: concept
        for key, concept in (parse_catalog(document) if document else load_catalog()).items()
        if template_names(concept) <= known
    }
    phrases = parse_phrases(document)
    concepts |= _generated(spec, rulebook, concepts, phrases)
    concepts = _with_spellings(concepts, spec)
    if PATTERN in concepts and not spec.signals:  # a flat file: no activity to speak of
        concepts[PATTERN] = replace(
            concepts[PATTERN],
            texts=each_language(lambda lang: phrases("details_pattern", lang)),
            for_texts=each_language(lambda lang: phrases("details_pattern_for", lang)),
        )
    concepts = {key: _with_owned_words(c, concepts) for key, c in concepts.items()}
    for ratio in spec.ratios:  # a ratio is read with its numerator: clicks per email opened
        owner = next((c for c in concepts.values() if c.matches(ratio.numerator)), None)
        if owner is not None and not _covered(ratio.name, concepts):
            concepts[owner.key] = replace(owner, features=(*owner.features, ratio.name))
    built = ModelCatalog(concepts, phrases, spec)
    if len(_MODEL_CATALOGS) >= 16:  # a long-running service swaps models now and then
        _MODEL_CATALOGS.pop(next(iter(_MODEL_CATALOGS)))
    _MODEL_CATALOGS[key] = ((spec, rulebook, document), built)
    return built


def _with_owned_words(concept: Concept, concepts: dict[str, Concept]) -> Concept:
    """The concept with the words of every value its texts show, each from the concept that
    owns that value: 'Department: 営業, job level: 担当者' takes 担当者 from ``job_level``."""
    shown = template_names(concept) - set(concept.features)
    owners = [c for c in concepts.values() if c.words and any(c.matches(n) for n in shown)]
    if not owners:
        return concept
    words: dict[str, dict[str, str]] = {}
    for owner in [*owners, concept]:  # the concept's own words win
        for lang, levels in owner.words.items():
            words[lang] = {**words.get(lang, {}), **levels}
    return replace(concept, words=words)


def each_language(text: Callable[[str], str]) -> dict[str, str]:
    return {lang: text(lang) for lang in LANGUAGES}


def _with_spellings(concepts: dict[str, Concept], spec: FeatureSpec) -> dict[str, Concept]:
    """Each attribute's levels as the export spells them (``spellings``), as words of the
    concept that reads the attribute; the concept's own words win ('monday' stays 月曜日)."""
    out = dict(concepts)
    for attribute in spec.attributes:
        spellings = attribute.spellings if isinstance(attribute, CategoricalAttribute) else {}
        owner = next((c for c in out.values() if c.matches(attribute.name)), None)
        if spellings and owner is not None:
            words = {lang: {**spellings, **owner.words.get(lang, {})} for lang in LANGUAGES}
            out[owner.key] = replace(owner, words=words)
    return out


def _escaped(text: str) -> str:
    """Text shown as it is inside a template: braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")


def _covered(name: str, concepts: dict[str, Concept]) -> bool:
    return any(c.matches(name) for c in concepts.values())


def _generated(
    spec: FeatureSpec,
    rulebook: Rulebook | None,
    concepts: dict[str, Concept],
    phrases: Phrases,
) -> dict[str, Concept]:
    out: dict[str, Concept] = {}
    for signal in spec.signals:
        features = [n for n in spec.signal_features(signal) if not _covered(n, concepts)]
        if features and ANY_TYPE not in signal.activity_types:
            out[signal.name] = _signal_concept(spec, signal, tuple(features), phrases)
    for attribute in spec.attributes:
        if attribute.kind != "created" and not _covered(attribute.name, concepts):
            out[attribute.name] = _attribute_concept(attribute, phrases)
    covered_rules = {rule for c in concepts.values() for rule in c.rules}
    for rule in rulebook.rules if rulebook is not None else ():
        if rule.name not in covered_rules:
            out[f"rule:{rule.name}"] = Concept(
                key=f"rule:{rule.name}",
                features=(),
                rules=(rule.name,),
                texts=each_language(
                    lambda lang, rule=rule: phrases("rule", lang, rule=_escaped(rule.text(lang)))
                ),
                none_texts={},
                count=None,
                labels=each_language(rule.text),
            )
    return out


def _attribute_concept(attribute: Attribute, phrases: Phrases) -> Concept:
    """A concept for an attribute the catalog lacks: its column as the export names it."""
    name, shown = attribute.name, _escaped(readable_column(attribute.column))
    value = "{" + name + "}"
    return Concept(
        key=name,
        features=(name,),
        rules=(),
        texts=each_language(lambda lang: phrases("attribute", lang, column=shown, value=value)),
        none_texts={},
        count=None,
        labels=each_language(lambda lang: readable_column(attribute.column)),
        missing_texts=each_language(lambda lang: phrases("attribute_missing", lang, column=shown)),
    )


def _signal_concept(
    spec: FeatureSpec, signal: Signal, features: tuple[str, ...], phrases: Phrases
) -> Concept:
    """A concept for a signal the catalog lacks, keyed by its count nearest a month (else its
    days, else the time since the last one)."""
    names = each_language(lambda lang: signal_words(signal, phrases, lang))
    shown = {lang: _escaped(name) for lang, name in names.items()}
    windows = spec.signal_windows(signal)
    window = min(windows, key=lambda w: abs(w - 30)) if windows else spec.lookback_days
    keys = [(f"{signal.name}_{stat}_{window}d", f"signal_{stat}") for stat in ("count", "days")]
    key, frame = next(((k, f) for k, f in keys if k in features), (None, "signal_recency"))
    if key is None:
        key, window = f"{signal.name}_recency_days", spec.lookback_days
    value = "{" + key + ":.0f}"
    return Concept(
        key=signal.name,
        features=features,
        rules=(),
        texts=each_language(
            lambda lang: phrases(frame, lang, activity=shown[lang], count=value, window=window)
        ),
        none_texts=each_language(
            lambda lang: phrases("signal_none", lang, activity=shown[lang], window=window)
        ),
        count=key,
        labels=names,
        timed=key.endswith("_recency_days"),
    )


def readable_column(column: str) -> str:
    """An export's column as a rep reads it: ``job_title`` as "Job title", others as written
    (``Job Title``, ``役職``)."""
    if re.fullmatch(r"[a-z0-9_]+", column):
        return column.replace("_", " ").strip().capitalize()
    return column


def written_in(text: str) -> str:
    """The catalog language an export's own words are in: Japanese when they hold kana or
    kanji, else English (the catalog's other language)."""
    return "ja" if _JAPANESE_SCRIPT.search(text) else "en"


def type_words(activity_type: str, phrases: Phrases, lang: str) -> str:
    """An activity type in words: the catalog's for the canonical types (``page_view`` is
    "Viewed a page" / ページを閲覧); for a name an MA tool writes for one (``Fill Out Form``),
    the export's own words in their language and the catalog's in the other (フォームを送信);
    else as the export writes it, a code made readable."""
    known = phrases.known_type(activity_type)
    if known is not None and (known == activity_type or written_in(activity_type) != lang):
        words = phrases.activities[known]
        return words.get(lang) or words["en"]
    return readable_column(activity_type)


def signal_words(signal: Signal, phrases: Phrases, lang: str) -> str:
    """A signal's name in words: its activity types', with the detail it is narrowed to."""
    activity = " / ".join(type_words(t, phrases, lang) for t in signal.activity_types)
    if signal.detail is None:
        return activity
    detail = signal.detail.strip("*").rstrip("/") or signal.detail
    return phrases("detail", lang, activity=activity, detail=detail)


def activity_words(catalog: ModelCatalog, activity_type: str, detail: object, lang: str) -> str:
    """One activity of a lead's timeline in words, for the hand-off sheet.

    The most specific concept it belongs to names it (a page view of ``/pricing`` is "Viewed
    the pricing page"); without one, the catalog's words for its type; else the type as the
    export writes it.
    """
    spec = catalog.spec
    text = "" if detail is None or (isinstance(detail, float) and math.isnan(detail)) else detail
    if spec is not None:
        narrowed = [s for s in spec.signals if s.detail is not None] + [
            s for s in spec.signals if s.detail is None and ANY_TYPE not in s.activity_types
        ]
        for signal in narrowed:
            if activity_type not in signal.activity_types:
                continue
            if signal.detail is not None and not re.match(glob_to_regex(signal.detail), str(text)):
                continue
            if signal.detail is None and catalog.phrases.known_type(activity_type):
                break  # the type's own words say more than its concept's ("Opened an email")
            concept = _concept_of_signal(spec, signal, catalog.concepts)
            if concept is not None and concept.labels.get(lang):
                return concept.labels[lang]
            break
    return type_words(activity_type, catalog.phrases, lang)


def _concept_of_signal(
    spec: FeatureSpec, signal: Signal, concepts: dict[str, Concept]
) -> Concept | None:
    names = spec.signal_features(signal)
    return next((c for c in concepts.values() if any(c.matches(n) for n in names)), None)


# ------------------------------------------------------------------------------ texts


def is_blank(value: object) -> bool:
    """None, NaN, pandas' NA or empty text: a value not recorded."""
    if value is None or isinstance(value, str):
        return value is None or value == ""
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def format_value(value: object, lang: str, phrases: Phrases | None = None) -> str:
    """A value as a rep reads it: whole numbers without '.0', codes readable, blanks as
    "not recorded" (未登録)."""
    if is_blank(value):
        return (phrases or parse_phrases(None))("not_recorded", lang)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, _Word):
        return value
    if isinstance(value, str) and value.isascii():
        return value.upper() if len(value) <= 3 else value.replace("_", " ").title()
    # a level in another script is shown as written, but folding lowered its Latin letters:
    # 'sns広告' and 'it部長' read as 'SNS広告' and 'IT部長', as short codes are written
    return _SHORT_LATIN.sub(lambda m: m.group(0).upper(), str(value))


_SHORT_LATIN = re.compile(r"(?<![A-Za-z])[a-z]{1,3}(?![A-Za-z])")


class _Word(str):
    """A level already in the reader's words (the catalog's ``words``): shown as it is."""


@lru_cache(maxsize=512)
def names_in(template: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\{(\w+)", template))


def template_names(concept: Concept) -> set[str]:
    """Every value a concept's texts may show."""
    names = {concept.count} if concept.count else set()
    texts = [*concept.texts.values(), *concept.none_texts.values(), *concept.missing_texts.values()]
    texts += [text for by_lang in concept.zero_texts.values() for text in by_lang.values()]
    for template in texts:
        names |= set(names_in(template))
    return names


def _render(template: str, values: dict, lang: str, phrases: Phrases) -> str:
    named = {k: values.get(k) for k in names_in(template)}
    shown = {
        k: int(v) if isinstance(v, numbers.Real) and float(v).is_integer() else v
        for k, v in named.items()
        if not is_blank(v) and not isinstance(v, str)
    }
    words = {
        k: _escaped(format_value(v, lang, phrases)) for k, v in named.items() if k not in shown
    }
    return NUMBER.sub(
        lambda m: words[m.group(1)] if m.group(1) in words else m.group(0), template
    ).format(**shown)


_ONE_TIMES = re.compile(r"\b1 times\b")
_ONE_IES = re.compile(r"\b1 ((?:[a-z]+ )?[a-z]+?)ies\b")
_ONE_PLURAL = re.compile(r"\b1 ((?:[a-z]+ )?[a-z]+?)s\b")


def singular_en(text: str) -> str:
    """'1 times' -> 'once', '1 webinars' -> '1 webinar', '1 case studies' -> '1 case study'.

    The catalog writes each English text once, with plural nouns; counts of one are common
    enough that 'Attended 1 webinars' would read as careless. Japanese has no plural.
    """
    text = _ONE_TIMES.sub("once", text)
    text = _ONE_IES.sub(r"1 \1y", text)
    return _ONE_PLURAL.sub(r"1 \1", text)


def relative_words(count: object, typical: float | None, lang: str, phrases: Phrases) -> str:
    """' (3× the average lead)' when a count is at least twice the training leads' mean and
    at least 2; '' otherwise (a single pricing view beside an average of 0.1 is not news)."""
    if typical is None or typical <= 0 or is_blank(count) or not isinstance(count, numbers.Real):
        return ""
    ratio = float(count) / typical
    if count < 2 or ratio < 2:
        return ""
    if ratio >= 10:
        return phrases("relative_many", lang, ratio=10)
    return phrases("relative", lang, ratio=f"{ratio:.0f}")


def concept_text(
    concept: Concept,
    values: dict,
    lang: str,
    positive: bool = False,
    *,
    typical: dict[str, float] | None = None,
    phrases: Phrases | None = None,
) -> str:
    """The concept in ``lang`` with the lead's values.

    ``positive``: it counts for the lead (a concept with ``<lang>_for`` texts, such as
    ``activity_pattern``, reads differently). ``typical``: training leads' mean of each count,
    for relative words on what the lead did.
    """
    phrases = phrases or parse_phrases(None)
    count = values.get(concept.count) if concept.count else None
    happened = not is_blank(count) and (concept.timed or count != 0)
    texts = concept.texts
    if concept.count is not None and not happened and concept.none_texts:
        texts = concept.none_texts
    elif positive and concept.for_texts:
        texts = concept.for_texts
    else:
        texts = next(
            (by_lang for name, by_lang in concept.zero_texts.items() if values.get(name) == 0),
            texts,
        )
    template = texts.get(lang) or texts.get("en") or concept.texts["en"]
    if concept.missing_texts and any(is_blank(values.get(n)) for n in names_in(template)):
        template = concept.missing_texts.get(lang) or concept.missing_texts["en"]
    words = concept.words.get(lang)
    if words:  # a level in the reader's words: 'monday' is 月曜日 in Japanese
        values = {
            k: _Word(words[v]) if isinstance(v, str) and v in words else v
            for k, v in values.items()
        }
    text = _render(template, values, lang, phrases)
    if happened and texts is concept.texts and typical and not concept.timed:
        text += relative_words(count, typical.get(concept.count), lang, phrases)
    return singular_en(text) if lang == "en" else text


def generated_text(term: str, value: object, lang: str) -> str:
    """Words for a term no concept covers (a ratio, an engagement score): its name made
    readable and its value, never the raw feature name."""
    words = re.sub(r"_(\d+)d$", r" (last \1 days)", term.removeprefix("rule:"))
    words = words.replace("_", " ").strip().capitalize()
    shown = format_value(value, lang)
    return f"{words}: {shown}" if lang == "en" else f"{words}：{shown}"
