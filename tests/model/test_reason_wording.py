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


# ------------------------------------------------------------------ an export we did not write


def foreign_model_catalog():
    """A Marketo-and-Japanese export's spec and rulebook: nothing in it is in the catalog."""
    from leadscore.features.spec import parse_spec
    from leadscore.training.model.rulebook import Rulebook
    from leadscore.training.model.wording import model_catalog

    spec = parse_spec({
        "windows": [7, 30, 90],
        "attributes": [
            {"name": "役職", "column": "役職", "kind": "categorical"},
            {"name": "job_title", "column": "Job Title", "kind": "categorical"},
            {"name": "年間売上", "column": "年間売上", "kind": "numeric"},
        ],
        "signals": [
            {"name": "visit_web_page_pricing", "activity_types": ["Visit Web Page"],
             "detail": "/pricing*", "stats": ["count", "recency"], "direction": "up"},
            {"name": "配信停止", "activity_types": ["配信停止"], "stats": ["count"],
             "windows": [365], "direction": "down"},
            {"name": "メール開封", "activity_types": ["メール開封"], "stats": ["recency"]},
        ],
    })  # fmt: skip
    rulebook = Rulebook.model_validate({
        "mql_threshold": 40, "grades": {"fit": {"A": 20, "B": 10, "C": 1},
                                        "engagement": {"1": 60, "2": 30, "3": 10}},
        "rules": [{"name": "vp_title", "label": {"en": "Title says VP"},
                   "when": {"job_title": {"in": ["vp"]}}, "points": 15}],
    })  # fmt: skip
    return spec, model_catalog(spec, rulebook, None)


@pytest.mark.parametrize(
    ("concept", "values", "lang", "expected"),
    [
        ("visit_web_page_pricing", {"visit_web_page_pricing_count_30d": 3.0}, "en",
         "Visit Web Page (/pricing): 3 times in the last 30 days"),
        ("visit_web_page_pricing", {"visit_web_page_pricing_count_30d": 1.0}, "en",
         "Visit Web Page (/pricing): once in the last 30 days"),
        ("visit_web_page_pricing", {"visit_web_page_pricing_count_30d": 0.0}, "ja",
         "直近30日間は「ページを閲覧（/pricing）」なし"),  # a Marketo name the catalog knows
        ("配信停止", {"配信停止_count_365d": 1.0}, "ja", "直近365日間に「配信停止」が1回"),
        ("メール開封", {"メール開封_recency_days": 144.8}, "ja", "最後の「メール開封」から145日"),
        ("メール開封", {"メール開封_recency_days": float("nan")}, "en",
         "Opened an email: none in the last 365 days"),
        ("役職", {"役職": "部長"}, "ja", "役職：部長"),
        ("役職", {"役職": None}, "ja", "役職：未登録"),
        ("job_title", {"job_title": None}, "en", "Job Title: not recorded"),
        ("年間売上", {"年間売上": 120.0}, "ja", "年間売上：120"),
        ("rule:vp_title", {}, "en", "Rulebook: Title says VP"),
    ],
)  # fmt: skip
def test_an_exports_own_signals_attributes_and_rules_read_as_words(concept, values, lang, expected):
    # before: '+ 配信停止 recency days：144.8', 'Job title: Unknown'
    _, catalog = foreign_model_catalog()
    text = concept_text(catalog.concepts[concept], values, lang, phrases=catalog.phrases)
    assert text == expected


def test_the_export_named_timeline_reads_its_activities_in_words():
    from leadscore.training.model.wording import activity_words

    _, catalog = foreign_model_catalog()
    assert activity_words(catalog, "Visit Web Page", "/pricing/plans", "en") == (
        "Visit Web Page (/pricing)"
    )
    assert activity_words(catalog, "Visit Web Page", "/blog/x", "en") == "Visit Web Page"
    assert activity_words(catalog, "配信停止", None, "ja") == "配信停止"
    assert activity_words(catalog, "配信停止", None, "en") == "Unsubscribed from our emails"
    # the canonical codes in the catalog's words, whatever the model
    assert activity_words(catalog, "email_click", None, "ja") == "メール内のリンクをクリック"
    assert activity_words(catalog, "page_view", "/x", "en") == "Viewed a page"
    assert activity_words(catalog, "webinar_attended", None, "en") == "Attended a webinar"


def test_an_activity_the_catalog_knows_by_an_ma_tools_name_reads_in_both_languages():
    """A Japanese rep of a Marketo user reads フォームを送信, an English rep of a SATORI user
    "Submitted a form"; each keeps the export's own words in the export's own language, and a
    name the catalog does not know stays as written in both."""
    from leadscore.training.model.wording import parse_phrases, type_words

    phrases = parse_phrases(None)
    expected = {
        ("Fill Out Form", "en"): "Fill Out Form",
        ("Fill Out Form", "ja"): "フォームを送信",
        ("FILL OUT  FORM", "ja"): "フォームを送信",  # compared as folded text
        ("フォーム送信", "ja"): "フォーム送信",
        ("フォーム送信", "en"): "Submitted a form",
        ("Marketing Email Opened", "ja"): "メールを開封",
        ("Attend Event", "ja"): "Attend Event",  # a webinar or a trade show: not guessed
        ("inquiry", "ja"): "Inquiry",
    }
    assert {(t, lang): type_words(t, phrases, lang) for t, lang in expected} == expected


def test_a_suggested_attribute_rule_is_labelled_as_the_reason_words_its_level():
    """The rule a marketer reads in the rulebook and the reason a rep reads on the lead say
    the same words: 流入元：SNS広告 in both, never the folded sns広告 the models read."""
    from leadscore.training.job.suggest import attribute_label

    _, catalog = foreign_model_catalog()
    reason = concept_text(
        catalog.concepts["役職"], {"役職": "it部長"}, "ja", phrases=catalog.phrases
    )
    assert attribute_label("役職", "it部長")["ja"] == reason == "役職：IT部長"
    assert attribute_label("lead_source", "paid_social") == {
        "en": "Lead source: Paid Social",
        "ja": "Lead source：Paid Social",
    }


def test_a_flat_files_leftover_reason_speaks_of_its_details_not_of_activities_it_never_had():
    """A CRM report has no activities: what goes against a lead there is how its details
    combine, and "Activity pattern" would send a rep looking for visits there are none of."""
    from leadscore.features.spec import parse_spec
    from leadscore.training.model.wording import PATTERN, model_catalog

    flat = parse_spec({"attributes": [{"name": "役職", "column": "役職", "kind": "categorical"}],
                       "signals": []})  # fmt: skip
    words = {
        lang: concept_text(model_catalog(flat, None, None).concepts[PATTERN], {}, lang)
        for lang in ("en", "ja")
    }
    assert words == {"en": "Details together unlike leads that converted",
                     "ja": "商談化したリードと異なる項目の組み合わせ"}  # fmt: skip
    _, with_activities = foreign_model_catalog()
    assert concept_text(with_activities.concepts[PATTERN], {}, "en") == (
        "Activity pattern unlike leads that converted"
    )


def test_no_name_an_ma_tool_writes_stands_for_two_activities():
    """A name under two types would word the same export's activity one way or the other by
    the catalog's order; it must be left out instead (as "Attend Event" is)."""
    import yaml

    from leadscore.features.spec import fold_text
    from leadscore.training.model.wording import CATALOG

    meant: dict[str, set[str]] = {}
    for activity_type, entry in yaml.safe_load(CATALOG.read_text())["activities"].items():
        for name in entry.get("names", ()):
            meant.setdefault(fold_text(name), set()).add(activity_type)
    assert meant and {name: types for name, types in meant.items() if len(types) > 1} == {}


def test_a_rule_labelled_in_one_language_reads_that_label_in_the_other():
    from leadscore.training.model.rulebook import Rule

    rule = Rule.model_validate(
        {
            "name": "bucho",
            "label": {"ja": "部長職"},
            "when": {"役職": {"in": ["部長"]}},
            "points": 5,
        },
    )
    assert rule.text("en") == rule.text("ja") == "部長職"


# ------------------------------------------------------------------ the catalog's own words


@pytest.mark.parametrize(
    ("concept", "values", "lang", "expected"),
    [
        ("source", {"source": None}, "en", "Lead source not recorded"),
        ("source", {"source": "partner"}, "ja", "流入経路：パートナー経由"),
        ("source", {"source": "paid_social"}, "en", "Came in through social media ads"),
        ("company_size", {"employee_band": float("nan")}, "en", "Company size not recorded"),
        ("company_size", {"employee_band": "51-200"}, "ja", "従業員数：51-200名"),
        ("department", {"department": "it", "job_level": None}, "ja",
         "部門：情報システム、役職：未登録"),
        ("department", {"department": "it", "job_level": "manager"}, "en",
         "Department: IT, job level: Manager"),
        ("region", {"region": "apac"}, "en", "Region: APAC"),
        ("region", {"region": "apac"}, "ja", "地域：アジア太平洋"),
        ("job_level", {"job_level": "head"}, "ja", "役職：部長・部門長"),
        ("email_engagement", {"email_open_count_30d": 4.0, "email_click_count_30d": 0.0}, "en",
         "Opened 4 emails in the last 30 days, no link clicked"),
        ("email_engagement", {"email_open_count_30d": 0.0, "email_click_count_30d": 0.0}, "en",
         "Has not opened our emails in the last 30 days"),
        ("created_hour", {"created_hour": "09"}, "en", "Became a lead between 09:00 and 09:59"),
    ],
)  # fmt: skip
def test_blanks_codes_and_zeros_read_as_a_rep_says_them(concept, values, lang, expected):
    # before: 'Unknown employees', 'Came in through Unknown', 'Opened 0 emails but clicked no
    # link', 'Region: Apac', '役職: Manager'
    text = concept_text(load_catalog()[concept], values, lang)
    assert text == expected
    assert "nknown" not in text and "不明" not in text


def test_counts_say_how_they_compare_to_the_average_lead():
    pricing = load_catalog()["pricing_interest"]
    typical = {"pricing_page_count_7d": 1.3}
    assert concept_text(pricing, {"pricing_page_count_7d": 4.0}, "en", typical=typical) == (
        "Viewed the pricing page 4 times in the last 7 days (3× the average lead)"
    )
    assert concept_text(pricing, {"pricing_page_count_7d": 4.0}, "ja", typical=typical) == (
        "直近7日間に料金ページを4回閲覧（平均的なリードの約3倍）"
    )
    # not news: once, or about as often as anyone
    assert "×" not in concept_text(pricing, {"pricing_page_count_7d": 1.0}, "en", typical=typical)
    assert "×" not in concept_text(pricing, {"pricing_page_count_7d": 2.0}, "en", typical=typical)
    assert "倍以上" in concept_text(
        pricing, {"pricing_page_count_7d": 5.0}, "ja", typical={"pricing_page_count_7d": 0.2}
    )


def test_no_english_is_left_in_the_japanese_words():
    import re

    from leadscore.training.model.wording import parse_phrases

    allowed = {"Web", "SLA", "SNS"}
    texts = []
    for concept in load_catalog().values():
        texts += [concept.texts.get("ja", ""), concept.none_texts.get("ja", ""),
                  concept.missing_texts.get("ja", ""), concept.for_texts.get("ja", ""),
                  concept.labels.get("ja", "")]  # fmt: skip
        texts += [t.get("ja", "") for t in concept.zero_texts.values()]
        texts += list(concept.words.get("ja", {}).values())
        assert "ja" in concept.texts, concept.key
    phrases = parse_phrases(None)
    texts += [words["ja"] for words in phrases.activities.values()]
    texts += [frame["ja"] for frame in phrases.frames.values()]
    for text in texts:
        words = set(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{[^}]*\}", "", text)))
        assert words <= allowed, (text, words - allowed)


def test_every_level_of_the_demo_world_has_japanese_words():
    """The demo world's levels (manager, apac, partner) never reach a Japanese sheet in
    English."""
    from leadscore.features.spec import normalise_level
    from leadscore.features.synthetic import simulate

    catalog = load_catalog()
    leads = simulate(600, seed=5).leads
    columns = {"department": "department", "job_level": "job_level", "industry": "industry",
               "region": "region", "source": "source"}  # fmt: skip
    for concept, column in columns.items():
        aliases = {}
        if concept == "department":
            from leadscore.features.spec import load_spec
            from leadscore.training.model.wording import CATALOG

            spec = load_spec(CATALOG.parents[2] / "features" / "default_spec.yaml")
            aliases = next(a for a in spec.attributes if a.name == "department").aliases
        levels = {normalise_level(v, aliases) for v in leads[column]} - {None}
        missing = levels - set(catalog[concept].words.get("ja", {}))
        assert not missing, (concept, missing)


def test_every_value_a_reason_shows_is_in_the_readers_words():
    # 'Department: 営業, job level: Staff' read as English in a Japanese sheet
    from leadscore.features.spec import load_spec
    from leadscore.training.model.rulebook import compile_rules, load_rulebook
    from leadscore.training.model.wording import CATALOG, format_value, model_catalog

    rulebook = load_rulebook()
    spec = compile_rules(rulebook, load_spec(CATALOG.parents[2] / "features" / "default_spec.yaml"))
    catalog = model_catalog(spec, rulebook, None)
    values = {"department": "sales", "job_level": "staff"}
    text = concept_text(catalog.concepts["department"], values, "ja", phrases=catalog.phrases)
    assert text == "部門：営業、役職：担当者"
    import pandas as pd

    assert format_value(pd.NA, "ja") == "未登録" and format_value(pd.NA, "en") == "not recorded"


def test_a_catalog_concept_naming_a_column_the_export_lacks_gives_way_to_its_own():
    # a Marketo export with revenue but no employee band read 'Company size not recorded'
    from leadscore.features.spec import parse_spec
    from leadscore.training.model.wording import model_catalog

    spec = parse_spec({"attributes": [
        {"name": "annual_revenue_musd", "column": "Annual Revenue", "kind": "numeric"}
    ]})  # fmt: skip
    catalog = model_catalog(spec, None, None)
    assert "company_size" not in catalog.concepts
    concept = catalog.concepts["annual_revenue_musd"]
    text = concept_text(concept, {"annual_revenue_musd": 12.0}, "en", phrases=catalog.phrases)
    assert text == "Annual Revenue: 12"


def test_a_level_reads_as_the_export_spells_it_in_reasons_and_rules():
    """Folding lets ＬｉｎｋｅｄＩｎ and linkedin meet, but a rep's CRM says LinkedIn and Web広告:
    the reasons and the suggested rules spell a level as the export writes it most often."""
    import pandas as pd

    from leadscore.features.infer import infer_spec
    from leadscore.training.job.suggest import attribute_label
    from leadscore.training.model.wording import model_catalog

    written = ["LinkedIn"] * 30 + ["linkedin"] * 5 + ["Web広告"] * 30 + ["展示会"] * 30
    leads = pd.DataFrame({"lead_id": range(len(written)), "流入元": written})
    spec, _ = infer_spec(leads, None, ())
    (attribute,) = spec.attributes
    assert attribute.spellings == {"linkedin": "LinkedIn", "web広告": "Web広告"}
    catalog = model_catalog(spec, None, None)
    for level, shown in (("linkedin", "LinkedIn"), ("web広告", "Web広告"), ("展示会", "展示会")):
        for lang, sep in (("en", ": "), ("ja", "：")):
            text = concept_text(
                catalog.concepts[attribute.name], {attribute.name: level}, lang,
                phrases=catalog.phrases,
            )  # fmt: skip
            assert text == f"流入元{sep}{shown}"
        assert attribute_label("流入元", level, attribute.spellings)["ja"] == f"流入元：{shown}"


def test_a_column_the_catalog_words_itself_still_spells_levels_as_the_export():
    """A column named source has the catalog's own sentence ("Came in through ..."): its
    levels are spelt as the export writes them too, and the catalog's own words still win."""
    import pandas as pd

    from leadscore.features.infer import infer_spec
    from leadscore.training.model.wording import model_catalog

    written = ["LinkedIn"] * 30 + ["Web広告"] * 30 + ["展示会"] * 30
    spec, _ = infer_spec(pd.DataFrame({"lead_id": range(90), "source": written}), None, ())
    catalog = model_catalog(spec, None, None)
    owner = next(c for c in catalog.concepts.values() if c.matches("source"))
    assert owner.key == "source"  # the catalog's concept, not one made for the column
    for level, shown in (("linkedin", "LinkedIn"), ("web広告", "Web広告")):
        text = concept_text(owner, {"source": level}, "en", phrases=catalog.phrases)
        assert shown in text and level not in text
