"""Reasons read like a person wrote them, also when a count is one."""

from __future__ import annotations

import pytest

from leadscore.training.model.wording import concept_text, load_catalog


@pytest.mark.parametrize(
    ("concept", "values", "expected"),
    [
        ("pricing_interest", {"pricing_page_count_7d": 1},
         "Viewed the pricing page once in the last 7 days"),
        ("pricing_interest", {"pricing_page_count_7d": 3},
         "Viewed the pricing page 3 times in the last 7 days"),
        ("webinars", {"webinar_attended_count_90d": 1}, "Attended 1 webinar in the last 90 days"),
        ("case_studies", {"case_study_count_30d": 1}, "Read 1 case study in the last 30 days"),
        ("case_studies", {"case_study_count_30d": 11}, "Read 11 case studies in the last 30 days"),
    ],
)  # fmt: skip
def test_english_reasons_use_the_singular_for_one(concept, values, expected):
    assert concept_text(load_catalog()[concept], values, "en") == expected


def test_japanese_reasons_are_left_as_written():
    text = concept_text(load_catalog()["pricing_interest"], {"pricing_page_count_7d": 1}, "ja")
    assert text == "直近7日間に料金ページを1回閲覧"
