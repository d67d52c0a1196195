"""What leads act on: the site's pages, assets and forms, and the campaign, webinar, show calendar.

An activity's detail names one of these, so a feature or a rule can read "pricing page" or
"webinar attended" in the export the way it would in a real one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.features.synthetic.config import SimulationConfig

_PRODUCTS = ("endpoint", "identity", "backup", "monitoring", "siem", "helpdesk",
             "asset-management", "integrations")  # fmt: skip
_CASE_STUDIES = ("sakura-logistics", "kansai-precision", "nova-bank", "tokai-foods",
                 "orion-retail", "harbor-health", "atlas-robotics", "midori-energy",
                 "summit-capital", "kaze-media", "polar-trading", "vertex-software",
                 "cedar-university", "crest-insurance", "asahi-electric", "blue-pharma",
                 "iron-works", "sora-airlines", "yamato-transport", "zen-hotels")  # fmt: skip
_BLOG_TOPICS = ("zero-trust", "endpoint-security", "cloud-migration", "data-governance",
                "backup-strategy", "identity-management", "sase", "siem", "incident-response",
                "ransomware", "it-asset-management", "patch-management", "remote-work",
                "compliance", "gdpr", "appi", "mfa", "network-monitoring", "devops",
                "kubernetes", "cost-optimisation", "vendor-selection", "helpdesk", "automation",
                "ai-governance")  # fmt: skip
_BLOG_FORMS = ("what-is-{t}", "{t}-guide", "{t}-checklist", "{t}-best-practices",
               "{t}-mistakes-to-avoid", "{t}-trends-2025", "{t}-vs-legacy-tools", "{t}-roi",
               "{t}-for-small-business", "{t}-for-enterprise", "how-we-did-{t}",
               "{t}-faq")  # fmt: skip
_TOFU_ASSETS = tuple(f"ebook-{t}" for t in _BLOG_TOPICS[:12]) + tuple(
    f"checklist-{t}" for t in _BLOG_TOPICS[12:20]
)
_BOFU_ASSETS = (*(f"datasheet-{p}" for p in _PRODUCTS), "roi-calculator", "pricing-guide",
                "analyst-report-2025", "security-whitepaper", "migration-playbook",
                "rfp-template")  # fmt: skip
_FORMS = ("contact-us", "newsletter-signup", "ebook-form", "trial-signup", "event-registration",
          "lead-gen-form", "partner-referral", "demo-request", "quote-request")  # fmt: skip
_CAMPAIGN_THEMES = ("newsletter", "product-update", "webinar-invite", "customer-story",
                    "event-invite", "nurture-security", "nurture-cloud", "tips")  # fmt: skip
_SHOWS = ("interop-tokyo", "japan-it-week-spring", "aws-summit-tokyo", "security-days",
          "japan-it-week-autumn", "gartner-symposium", "cloud-expo-asia",
          "rsa-conference")  # fmt: skip


@dataclass(frozen=True)
class _Catalog:
    """Everything an activity's detail can name, and when campaigns, webinars and shows ran.

    Details are codes into ``names``; each group (pages, assets, ...) is a contiguous range so a
    draw inside a group is an offset plus a small code.
    """

    names: tuple[str, ...]
    offsets: dict[str, int]
    page_groups: dict[str, tuple[int, int]]
    campaign_days: np.ndarray
    webinar_days: np.ndarray
    show_days: np.ndarray

    def page_weights(self, shares: dict[str, float]) -> np.ndarray:
        """Weights over all pages from group shares; blog posts are Zipf-popular."""
        weights = np.zeros(self.offsets["assets"] - self.offsets["pages"])
        for group, share in shares.items():
            lo, hi = self.page_groups[group]
            popularity = 1.0 / (np.arange(hi - lo) + 5.0) if group == "blog" else np.ones(hi - lo)
            weights[lo:hi] = share * popularity / popularity.sum()
        return weights


def _dated(start: pd.Timestamp, days: np.ndarray, fmt: str) -> list[str]:
    return list((start + pd.to_timedelta(days, unit="D")).strftime(fmt))


def _build_catalog(config: SimulationConfig, period_days: float) -> _Catalog:
    """The site's pages, assets and forms, plus campaign, webinar and show calendars.

    Campaigns go out on Tuesdays and Thursdays, webinars run fortnightly and shows every six
    weeks or so; an email or webinar detail names the one current at the activity's time.
    """
    start = config.start
    campaign_days = np.sort(
        np.concatenate([np.arange(-6.0, period_days, 7.0), np.arange(-4.0, period_days, 7.0)])
    )
    webinar_days = np.arange(-10.0, period_days + 30.0, 14.0)
    show_days = np.arange(-20.0, period_days, 45.0)

    fixed = ["/", "/pricing", "/faq", "/careers", "/about", "/contact"]
    products = [f"/product/{p}" for p in _PRODUCTS]
    cases = [f"/case-studies/{c}" for c in _CASE_STUDIES]
    blogs = [
        "/blog/" + form.format(t=topic)
        for form, topic in itertools.product(_BLOG_FORMS, _BLOG_TOPICS)
    ]
    page_groups = {p: (i, i + 1) for i, p in enumerate(fixed)}
    page_groups["product"] = (len(fixed), len(fixed) + len(products))
    page_groups["case"] = (page_groups["product"][1], page_groups["product"][1] + len(cases))
    page_groups["blog"] = (page_groups["case"][1], page_groups["case"][1] + len(blogs))
    cycle = itertools.cycle
    groups = {
        "pages": fixed + products + cases + blogs,
        "assets": [*_TOFU_ASSETS, *_BOFU_ASSETS],
        "forms": list(_FORMS),
        "campaigns": [
            f"{d}-{theme}"
            for d, theme in zip(
                _dated(start, campaign_days, "%Y-%m-%d"), cycle(_CAMPAIGN_THEMES), strict=False
            )
        ],
        "webinars": [
            f"webinar-{d}-{topic}"
            for d, topic in zip(
                _dated(start, webinar_days, "%Y-%m-%d"), cycle(_BLOG_TOPICS), strict=False
            )
        ],
        "shows": [
            f"{show}-{d}"
            for d, show in zip(_dated(start, show_days, "%Y-%m"), cycle(_SHOWS), strict=False)
        ],
    }
    names: list[str] = []
    offsets: dict[str, int] = {}
    for group, values in groups.items():
        offsets[group] = len(names)
        names.extend(values)
    return _Catalog(tuple(names), offsets, page_groups, campaign_days, webinar_days, show_days)
