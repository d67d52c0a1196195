"""The activity log a lead's journey leaves, phase by phase, in the order an export lists it.

Background email and web actions, more and higher-intent actions during an episode, the
hand-raise, bounces and unsubscribes, and the sales calls logged only after SQL (the trap of
step 6 in the package docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.features import schema
from leadscore.features.schema import Activity
from leadscore.features.synthetic._draw import _SECOND, _draw_codes
from leadscore.features.synthetic.catalog import _BOFU_ASSETS, _FORMS, _TOFU_ASSETS, _Catalog
from leadscore.features.synthetic.companies_and_people import _SOURCES, _STUDENT, _People
from leadscore.features.synthetic.config import SimulationConfig
from leadscore.features.synthetic.journeys import _Journey

_ACTIVITY_TYPES = (
    Activity.EMAIL_OPEN, Activity.EMAIL_CLICK, Activity.EMAIL_BOUNCE, Activity.UNSUBSCRIBE,
    Activity.PAGE_VIEW, Activity.CONTENT_DOWNLOAD, Activity.WEBINAR_REGISTERED,
    Activity.WEBINAR_ATTENDED, Activity.TRADESHOW_SCAN, Activity.FORM_SUBMIT,
    Activity.DEMO_REQUEST, Activity.QUOTE_REQUEST, Activity.SALES_CALL, Activity.SALES_MEETING,
)  # fmt: skip
_KIND = {name: code for code, name in enumerate(_ACTIVITY_TYPES)}


_BACKGROUND_PAGES = {"/": 0.18, "blog": 0.55, "product": 0.09, "/faq": 0.04, "/pricing": 0.03,
                     "case": 0.03, "/careers": 0.03, "/about": 0.03, "/contact": 0.02}  # fmt: skip
_EPISODE_PAGES = {"/pricing": 0.18, "case": 0.18, "product": 0.25, "/faq": 0.07, "/": 0.07,
                  "blog": 0.17, "/contact": 0.04, "/about": 0.02, "/careers": 0.02}  # fmt: skip
_CAREERS_PAGES = {"/careers": 0.75, "/": 0.08, "/about": 0.09, "blog": 0.08}
_BACKGROUND_WEB_MIX = {Activity.PAGE_VIEW: 0.75, Activity.CONTENT_DOWNLOAD: 0.09,
                       Activity.WEBINAR_REGISTERED: 0.05, Activity.WEBINAR_ATTENDED: 0.025,
                       Activity.FORM_SUBMIT: 0.03, Activity.TRADESHOW_SCAN: 0.055}  # fmt: skip
_EPISODE_WEB_MIX = {Activity.PAGE_VIEW: 0.82, Activity.CONTENT_DOWNLOAD: 0.09,
                    Activity.WEBINAR_REGISTERED: 0.05, Activity.WEBINAR_ATTENDED: 0.03,
                    Activity.FORM_SUBMIT: 0.01}  # fmt: skip
_BACKGROUND_FORMS = {"newsletter-signup": 0.4, "ebook-form": 0.3, "event-registration": 0.2,
                     "contact-us": 0.1}  # fmt: skip
_EPISODE_FORMS = {"contact-us": 0.3, "trial-signup": 0.4, "event-registration": 0.3}
# How each channel creates a lead: (activity type, form name or None to draw the detail, share).
_CREATION = {
    "organic_search": ((Activity.FORM_SUBMIT, "ebook-form", 0.45),
                       (Activity.CONTENT_DOWNLOAD, None, 0.25),
                       (Activity.FORM_SUBMIT, "newsletter-signup", 0.2),
                       (Activity.FORM_SUBMIT, "contact-us", 0.1)),
    "paid_search": ((Activity.FORM_SUBMIT, "trial-signup", 0.3),
                    (Activity.FORM_SUBMIT, "ebook-form", 0.3),
                    (Activity.CONTENT_DOWNLOAD, None, 0.2),
                    (Activity.FORM_SUBMIT, "contact-us", 0.2)),
    "paid_social": ((Activity.FORM_SUBMIT, "lead-gen-form", 0.8),
                    (Activity.CONTENT_DOWNLOAD, None, 0.2)),
    "email": ((Activity.FORM_SUBMIT, "newsletter-signup", 0.6),
              (Activity.WEBINAR_REGISTERED, None, 0.4)),
    "referral": ((Activity.FORM_SUBMIT, "contact-us", 0.6),
                 (Activity.FORM_SUBMIT, "trial-signup", 0.4)),
    "tradeshow": ((Activity.TRADESHOW_SCAN, None, 1.0),),
    "partner": ((Activity.FORM_SUBMIT, "partner-referral", 1.0),),
    "direct": ((Activity.FORM_SUBMIT, "contact-us", 0.3),
               (Activity.FORM_SUBMIT, "newsletter-signup", 0.4),
               (Activity.FORM_SUBMIT, "trial-signup", 0.3)),
}  # fmt: skip
# The explicit hand-raise: (activity type, form name or None, share).
_HAND_RAISES = ((Activity.DEMO_REQUEST, "demo-request", 0.45),
                (Activity.QUOTE_REQUEST, "quote-request", 0.15),
                (Activity.FORM_SUBMIT, "contact-us", 0.25),
                (Activity.WEBINAR_ATTENDED, None, 0.15))  # fmt: skip


@dataclass(frozen=True)
class _Events:
    """A batch of activities: lead index, time in days, type code, detail code (-1 missing)."""

    lead: np.ndarray
    at: np.ndarray
    kind: np.ndarray
    detail: np.ndarray

    @staticmethod
    def concat(batches: list[_Events]) -> _Events:
        columns = ("lead", "at", "kind", "detail")
        return _Events(*(np.concatenate([getattr(b, c) for b in batches]) for c in columns))

    def where(self, keep: np.ndarray) -> _Events:
        return _Events(self.lead[keep], self.at[keep], self.kind[keep], self.detail[keep])


def _in_windows(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson events per lead at `rate` per day, uniform within [lo, hi]; no loop over leads."""
    span = np.where(np.isfinite(lo) & (hi > lo), hi - lo, 0.0)
    counts = rng.poisson(rate * span)
    lead = np.repeat(np.arange(lo.size, dtype=np.int32), counts)
    at = lo[lead] + rng.random(lead.size) * span[lead]
    return lead, at


def _previous(days: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the latest scheduled day at or before each time (the first one if none)."""
    return np.clip(np.searchsorted(days, at, side="right") - 1, 0, days.size - 1)


def _details(
    rng: np.random.Generator,
    kind: np.ndarray,
    at: np.ndarray,
    catalog: _Catalog,
    pages: dict[str, float],
    bottom_of_funnel: float,
    forms: dict[str, float],
) -> np.ndarray:
    """A detail code for each activity from its type, its time and the phase's interests."""
    detail = np.full(kind.size, -1, dtype=np.int16)
    off = catalog.offsets

    def fill(activity: str, codes_for: Callable[[np.ndarray], np.ndarray]) -> None:
        rows = np.flatnonzero(kind == _KIND[activity])
        if rows.size:
            detail[rows] = codes_for(rows)

    page_weights = catalog.page_weights(pages)
    n_tofu, n_bofu = len(_TOFU_ASSETS), len(_BOFU_ASSETS)
    asset_weights = np.concatenate(
        [
            np.full(n_tofu, (1 - bottom_of_funnel) / n_tofu),
            np.full(n_bofu, bottom_of_funnel / n_bofu),
        ]
    )
    form_codes = off["forms"] + np.array([_FORMS.index(f) for f in forms])
    form_weights = list(forms.values())
    webinars = catalog.webinar_days
    fill(Activity.PAGE_VIEW, lambda r: off["pages"] + _draw_codes(rng, page_weights, r.size))
    fill(
        Activity.CONTENT_DOWNLOAD,
        lambda r: off["assets"] + _draw_codes(rng, asset_weights, r.size),
    )
    fill(Activity.FORM_SUBMIT, lambda r: form_codes[_draw_codes(rng, form_weights, r.size)])
    for activity in (Activity.EMAIL_OPEN, Activity.EMAIL_CLICK, Activity.EMAIL_BOUNCE,
                     Activity.UNSUBSCRIBE):  # fmt: skip
        fill(activity, lambda r: off["campaigns"] + _previous(catalog.campaign_days, at[r]))
    upcoming = np.clip(np.searchsorted(webinars, at), 0, webinars.size - 1)
    fill(Activity.WEBINAR_REGISTERED, lambda r: off["webinars"] + upcoming[r])
    fill(Activity.WEBINAR_ATTENDED, lambda r: off["webinars"] + _previous(webinars, at[r]))
    fill(Activity.TRADESHOW_SCAN, lambda r: off["shows"] + _previous(catalog.show_days, at[r]))
    for activity, form in ((Activity.DEMO_REQUEST, "demo-request"),
                           (Activity.QUOTE_REQUEST, "quote-request")):  # fmt: skip
        fill(activity, lambda r, f=form: np.full(r.size, off["forms"] + _FORMS.index(f)))
    return detail


def _phase(
    rng: np.random.Generator,
    window: tuple[np.ndarray, np.ndarray],
    rate: np.ndarray,
    mix: dict[str, float],
    catalog: _Catalog,
    *,
    pages: dict[str, float] = _BACKGROUND_PAGES,
    bottom_of_funnel: float = 0.15,
    forms: dict[str, float] = _BACKGROUND_FORMS,
) -> _Events:
    """Activities of one phase of every lead's life: Poisson counts, uniform times, mixed types."""
    lead, at = _in_windows(rng, *window, rate)
    codes = np.array([_KIND[k] for k in mix], dtype=np.int8)
    kind = codes[_draw_codes(rng, list(mix.values()), lead.size)]
    detail = _details(rng, kind, at, catalog, pages, bottom_of_funnel, forms)
    return _Events(lead, at, kind, detail)


def _one_each(
    rng: np.random.Generator,
    lead: np.ndarray,
    at: np.ndarray,
    options: tuple[tuple[str, str | None, float], ...],
    catalog: _Catalog,
) -> _Events:
    """One activity per given lead and time, its type and form drawn from `options`."""
    choice = _draw_codes(rng, [w for _, _, w in options], lead.size)
    kind = np.array([_KIND[k] for k, _, _ in options], dtype=np.int8)[choice]
    detail = _details(rng, kind, at, catalog, _BACKGROUND_PAGES, 0.15, _BACKGROUND_FORMS)
    forms = [-1 if f is None else catalog.offsets["forms"] + _FORMS.index(f) for _, f, _ in options]
    form = np.array(forms)[choice]
    detail = np.where(form >= 0, form, detail).astype(np.int16)
    return _Events(lead.astype(np.int32), at, kind, detail)


def _at_shows(rng: np.random.Generator, events: _Events, catalog: _Catalog) -> _Events:
    """Tradeshow scans happen on a show's days: move each scan to the show it names."""
    rows = np.flatnonzero(events.kind == _KIND[Activity.TRADESHOW_SCAN])
    show = events.detail[rows] - catalog.offsets["shows"]
    events.at[rows] = catalog.show_days[show] + rng.random(rows.size) * 2.0
    return events


def _registrations(rng: np.random.Generator, hand_raises: _Events, created: np.ndarray) -> _Events:
    """A webinar attendee registered for the same webinar some days before."""
    rows = np.flatnonzero(hand_raises.kind == _KIND[Activity.WEBINAR_ATTENDED])
    lead = hand_raises.lead[rows]
    at = np.maximum(hand_raises.at[rows] - rng.uniform(1.0, 10.0, rows.size), created[lead])
    kind = np.full(rows.size, _KIND[Activity.WEBINAR_REGISTERED], dtype=np.int8)
    return _Events(lead, at, kind, hand_raises.detail[rows])


def _draw_activities(
    rng: np.random.Generator,
    people: _People,
    journey: _Journey,
    config: SimulationConfig,
    catalog: _Catalog,
    period: float,
) -> _Events:
    """Every activity of every lead, phase by phase; only those in [created_at, export_at]."""
    n = people.created.size
    created, end = people.created, np.full(n, period)
    everyone = np.arange(n)
    batches: list[_Events] = []

    def add(events: _Events) -> None:
        inside = (events.at >= created[events.lead]) & (events.at <= period)
        batches.append(events if inside.all() else events.where(inside))

    by_source = np.argsort(people.source, kind="stable")
    for code, name in enumerate(_SOURCES.names):
        leads = by_source[people.source[by_source] == code]
        add(_one_each(rng, leads, created[leads], _CREATION[name], catalog))

    email_end = np.minimum(end, journey.email_until)
    opens = 1.12 * config.email_open_rate_per_day * journey.engagement
    email_mix = {Activity.EMAIL_OPEN: 0.89, Activity.EMAIL_CLICK: 0.11}
    add(_phase(rng, (created, email_end), opens, email_mix, catalog))
    web = config.web_rate_per_day * journey.engagement
    background = _phase(rng, (created, end), web, _BACKGROUND_WEB_MIX, catalog)
    add(_at_shows(rng, background, catalog))
    careers = np.where(people.job_seeker | (people.job_level == _STUDENT), created, np.nan)
    add(
        _phase(rng, (careers, end), 0.03 * journey.engagement, {Activity.PAGE_VIEW: 1.0},
               catalog, pages=_CAREERS_PAGES)
    )  # fmt: skip

    episode_rate = config.episode_rate_per_day * journey.intent_strength
    episode_rate = episode_rate * np.sqrt(journey.engagement)
    episode_end = np.minimum(journey.intent_end, end)
    episode_email = (journey.intent_start, np.minimum(episode_end, journey.email_until))
    email_mix = {Activity.EMAIL_OPEN: 0.7, Activity.EMAIL_CLICK: 0.3}
    add(_phase(rng, episode_email, 0.3 * episode_rate, email_mix, catalog))
    add(
        _phase(rng, (journey.intent_start, episode_end), 0.7 * episode_rate, _EPISODE_WEB_MIX,
               catalog, pages=_EPISODE_PAGES, bottom_of_funnel=0.6, forms=_EPISODE_FORMS)
    )  # fmt: skip

    raised = everyone[journey.hand_raised & (journey.hand_raise_at <= period)]
    hand_raises = _one_each(rng, raised, journey.hand_raise_at[raised], _HAND_RAISES, catalog)
    add(hand_raises)
    add(_registrations(rng, hand_raises, created))

    bounced = everyone[journey.bounce_at <= period]
    add(
        _one_each(rng, bounced, journey.bounce_at[bounced], ((Activity.EMAIL_BOUNCE, None, 1),),
                  catalog)
    )  # fmt: skip
    left = everyone[journey.unsubscribe_at <= period]
    unsubscribes = _one_each(
        rng, left, journey.unsubscribe_at[left], ((Activity.UNSUBSCRIBE, None, 1.0),), catalog
    )
    unsubscribes.detail[rng.random(left.size) < 0.3] = -1
    add(unsubscribes)

    sql = everyone[journey.converts & (journey.sql_due_at <= period)]
    lead = np.repeat(sql, 1 + rng.poisson(max(config.sales_activities_mean - 1.0, 0.0), sql.size))
    at = journey.sql_due_at[lead] + 60 * _SECOND + rng.exponential(10.0, lead.size)
    sales = ((Activity.SALES_CALL, None, 0.65), (Activity.SALES_MEETING, None, 0.35))
    add(_one_each(rng, lead, at, sales, catalog))

    return _Events.concat(batches)


def _activity_frame(
    events: _Events, lead_ids: np.ndarray, catalog: _Catalog, start: pd.Timestamp
) -> pd.DataFrame:
    """Activities in time order, as an export log lists them; types and details categorical.

    Pass the only reference to `events`: its arrays are released as soon as they are used, which
    keeps the peak memory of a 50M-activity world near twice the final frame.
    """
    lead, kind, detail = events.lead, events.kind, events.detail
    seconds = np.rint(events.at * 86_400.0).astype(np.int64)
    del events
    order = np.argsort(seconds, kind="stable")
    micros = seconds[order]
    del seconds
    micros *= 1_000_000
    micros += start.value // 1_000
    occurred = pd.Series(micros.view("M8[us]")).dt.tz_localize("UTC")
    del micros
    lead = lead_ids[lead[order]]
    kind, detail = kind[order], detail[order]
    del order
    return pd.DataFrame(
        {
            schema.LEAD_ID: lead,
            schema.OCCURRED_AT: occurred,
            schema.ACTIVITY_TYPE: pd.Categorical.from_codes(kind, categories=_ACTIVITY_TYPES),
            schema.DETAIL: pd.Categorical.from_codes(detail, categories=catalog.names),
        },
        copy=False,
    )
