"""Personal data is found in any language and form, and ordinary columns stay features.

A Japanese web form names its fields ``氏名`` and ``電話番号``; a CRM writes ``tel_no`` as bare
digits; an export hides an email in a column called ``contact``. Each must be kept out of the
features. A revenue in yen, a lead id, an industry code or a date must not be mistaken for a
phone, or the model loses a signal.
"""

from __future__ import annotations

import pandas as pd
import pytest

from leadscore.features.personal_data import is_personal_name, personal_data_columns


@pytest.mark.parametrize(
    "column",
    [
        "氏名", "名前", "姓", "名", "姓（カナ）", "フリガナ", "ふりがな", "担当者名", "お名前",
        "電話番号", "携帯", "携帯電話番号", "ＴＥＬ", "FAX番号", "メールアドレス", "住所",
        "郵便番号", "TEL", "tel_no", "TelNo", "phone_number", "Phone", "mobile_no", "mobile",
        "e-mail", "E-Mail Address", "EMailAddress", "mail", "email", "First Name", "lastname",
        "full_name", "Name", "lead_name", "contact_name", "owner_name", "Street Address",
        "Postal Code", "zip", "ip_address", "date_of_birth",
    ],
)  # fmt: skip
def test_a_column_named_like_personal_data_in_english_or_japanese_is_recognised(column):
    assert is_personal_name(column)


@pytest.mark.parametrize(
    "column",
    [
        "company", "company_name", "Company Name", "account_name", "campaign_name", "job_title",
        "industry_name", "会社名", "法人名", "部署名", "役職名", "業種", "hotel", "telemetry",
        "is_mobile", "mobile_visits", "web_address", "employees", "annual_revenue", "region",
        "lead_source", "numberofemployees",
    ],
)  # fmt: skip
def test_a_company_or_an_ordinary_attribute_is_not_named_like_personal_data(column):
    assert not is_personal_name(column)


@pytest.mark.parametrize(
    "values",
    [
        ["a@x.com", "b@y.org", "c@z.co.jp"],
        ["Ann <ann@example.com>", "bob@example.com", None],
        ["0312345678", "09012345678", "08055501234"],
        ["03-1234-5678", "090-1234-5678", "(03) 5555-0101"],
        ["+81 3-1234-5678", "+81312345678", "+81-90-1234-5678"],
        ["+14155552671", "(415) 555-2671", "415.555.2671"],
        ["〒100-0001", "100-0001", "530-0001"],
        ["東京都千代田区丸の内1-1-1", "大阪府大阪市北区梅田1-2", "神奈川県横浜市西区"],
        ["123 Main St", "500 Oracle Parkway, Suite 200", "1 Infinite Loop Suite 5"],
        ["a@x.com", "n/a", "-", "b@y.org"],  # gaps written as text say nothing
    ],
    ids=[
        "emails", "email-with-display-name", "japanese-phones-as-digits", "japanese-phones",
        "country-code", "us-and-e164", "japanese-postcodes", "japanese-addresses",
        "street-addresses", "emails-among-gaps",
    ],
)  # fmt: skip
def test_personal_data_behind_a_neutral_name_is_caught_by_its_form(values):
    frame = pd.DataFrame({"contact": values, "plan": ["basic"] * len(values)})
    assert personal_data_columns(frame) == ["contact"]


@pytest.mark.parametrize(
    "values",
    [
        ["2026/04/06", "2026/04/07", "2026/05/01"],
        ["2026-04-06T10:00:00Z", "2026-04-07T11:30:00+09:00", "2026-04-08"],
        ["0111", "7372", "0912"],  # industry codes
        ["12", "250", "5000"],  # employee counts
        ["1234567890", "1234567891", "2234567892"],  # 10-digit lead ids
        ["1000000", "250000000", "999999999"],  # revenue in yen
        ["1,234,567", "12,000,000", "980,000"],  # prices with commas
        ["1-10", "11-50", "501-1000", "51-200"],  # employee bands
        ["東京都", "大阪府", "北海道"],  # a prefecture, not an address
        ["Marketing", "IT", "情報システム部"],
    ],
    ids=[
        "dates", "iso-times", "industry-codes", "employee-counts", "lead-ids", "revenue",
        "prices", "employee-bands", "prefectures", "departments",
    ],
)  # fmt: skip
def test_an_ordinary_column_is_not_mistaken_for_personal_data(values):
    frame = pd.DataFrame({"attribute": values})
    assert personal_data_columns(frame) == []


def test_a_phone_stored_as_digits_is_personal_by_name_even_as_a_number():
    """A CRM that stores phones as integers has already dropped the leading 0: only the name
    tells them from revenue, so the name decides."""
    frame = pd.DataFrame({"tel_no": [312345678, 9012345678], "revenue": [312345678, 9012345678]})
    assert personal_data_columns(frame) == ["tel_no"]


def test_phones_in_a_csv_column_of_numbers_are_caught_by_their_country_code():
    frame = pd.DataFrame({"contact": ["+14155552671", "+81312345678"], "revenue": ["1500000000",
                          "2300000000"]})  # fmt: skip
    assert personal_data_columns(frame, numbers=("contact", "revenue")) == ["contact"]


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("Do Not Email", ["No", "Yes", None, "no"]),
        ("Do Not Call", [0, 1, 0, 0]),
        ("メール配信希望", ["はい", "いいえ", "はい", None]),
        ("email_opens", [0, 3, 12, 1]),
        ("メール開封数", ["0", "3", "12", ""]),
        ("phone_calls", [0, 2, 1, 5]),
    ],
)
def test_a_consent_flag_or_a_count_named_like_personal_data_stays_a_feature(column, values):
    frame = pd.DataFrame({column: values})
    assert personal_data_columns(frame, numbers=(column,) if column == "メール開封数" else ()) == []


def test_an_empty_column_named_like_personal_data_is_still_personal():
    frame = pd.DataFrame({"phone": [None, None], "氏名": [float("nan")] * 2})
    assert personal_data_columns(frame) == ["phone", "氏名"]


def test_a_lead_posted_to_the_service_carries_no_personal_data_but_keeps_its_features():
    from leadscore.serving.client import lead_payload

    lead = {
        "lead_id": 7, "created_at": pd.Timestamp("2025-01-01", tz="UTC"),
        "氏名": "山田 太郎", "tel_no": 312345678, "contact": "taro@example.com",
        "note": "+81 3-1234-5678", "Do Not Email": "No", "email_opens": 3,
        "company_name": "Acme", "employee_band": "501-1000",
    }  # fmt: skip
    attributes = lead_payload(lead)["attributes"]
    assert attributes == {
        "Do Not Email": "No", "email_opens": 3, "company_name": "Acme",
        "employee_band": "501-1000",
    }  # fmt: skip
