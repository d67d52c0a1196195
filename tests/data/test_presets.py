"""Source presets, from the point of view of a user handing leadscore the files their system made.

Each sample is a few rows with the column names exactly as the vendor's documentation writes
them (see features/presets.yaml for the pages).
"""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest

from leadscore.features import schema
from leadscore.features.contract import ContractError
from leadscore.features.presets import apply_preset, column_key, load_presets, preset_names


@pytest.fixture
def hubspot_contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Record ID": ["101", "102", "103"],
            "First Name": ["Ann", "Bob", "Carla"],
            "Email": ["ann@example.com", "bob@example.com", "carla@example.com"],
            "Create Date": ["2025-01-05 09:00", "2025-01-06 10:00", "2025-01-07 11:00"],
            "Industry": ["Software", "Retail", "Software"],
            "Lifecycle Stage": ["salesqualifiedlead", "lead", "marketingqualifiedlead"],
            "Became a Marketing Qualified Lead Date": ["2025-01-09 08:00", None, "2025-01-10"],
            "Became a Sales Qualified Lead Date": ["2025-01-12 08:00", None, None],
        }
    )


@pytest.fixture
def marketo_leads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["5414087", "5414094"],
            "createdAt": ["2022-02-01T09:00:00Z", "2022-02-02T10:00:00Z"],
            "email": ["ann@example.com", "bob@example.com"],
            "industry": ["Software", "Retail"],
            "leadStatus": ["Converted", "Open"],
        }
    )


@pytest.fixture
def marketo_activities() -> pd.DataFrame:
    """The Bulk Activity Extract's default columns, as its documentation lists them."""
    return pd.DataFrame(
        {
            "marketoGUID": ["783957693", "783958220", "783958306", "783961924"],
            "leadId": ["5414087", "5414094", "5414087", "5414087"],
            "activityDate": [
                "2022-02-13T14:06:20Z", "2022-02-13T14:08:50Z",
                "2022-02-13T14:09:16Z", "2022-02-14T09:00:00Z",
            ],
            "activityTypeId": ["1", "2", "21", "100001"],
            "campaignId": ["8497", "17240", "17240", None],
            "primaryAttributeValueId": ["1670", "3569", "3569", None],
            "primaryAttributeValue": ["/pricing", "GL_OP_ALL_2021.MPS Outbound", "x", None],
            "attributes": ["{}", "{}", "{}", "{}"],
        }
    )  # fmt: skip


@pytest.fixture
def salesforce_lead_report() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Lead ID": ["00Q5f000001AbCdEAK", "00Q5f000001AbCeEAK"],
            "Create Date": ["2025-03-01", "2025-03-02"],
            "Company / Account": ["Acme", "Globex"],
            "Lead Source": ["Web", "Trade Show"],
            "Lead Status": ["Closed - Converted", "Working - Contacted"],
            "Converted": ["1", "0"],
            "Converted Date": ["2025-03-20", None],
        }
    )


def test_the_three_systems_users_have_are_presets():
    assert preset_names() == ("hubspot", "marketo", "salesforce")


def test_every_preset_cites_the_vendor_documentation():
    for preset in load_presets().values():
        assert preset.docs and all(url.startswith("https://") for url in preset.docs)


# ------------------------------------------------------------------------------------- HubSpot


def test_a_hubspot_contacts_export_reads_as_leads(hubspot_contacts):
    leads, _ = apply_preset("hubspot", "leads", hubspot_contacts, "contacts.csv")
    assert leads[schema.LEAD_ID].tolist() == ["101", "102", "103"]
    assert leads[schema.CREATED_AT].tolist() == hubspot_contacts["Create Date"].tolist()
    assert {"Industry", "Email", "First Name"} <= set(leads.columns)  # kept; the loader judges


def test_hubspot_stage_columns_never_become_lead_attributes(hubspot_contacts):
    leads, notes = apply_preset("hubspot", "leads", hubspot_contacts, "contacts.csv")
    leaking = {"Lifecycle Stage", "Became a Sales Qualified Lead Date"}
    assert not leaking & set(leads.columns)
    assert any("'Lifecycle Stage'" in note and "give the outcome away" in note for note in notes)


def test_the_same_hubspot_export_reads_as_outcomes(hubspot_contacts):
    outcomes, notes = apply_preset("hubspot", "outcomes", hubspot_contacts, "contacts.csv")
    assert list(outcomes.columns) == [schema.LEAD_ID, schema.SQL_AT, schema.MQL_AT]
    assert outcomes[schema.SQL_AT].tolist()[0] == "2025-01-12 08:00"
    assert outcomes[schema.MQL_AT].tolist()[2] == "2025-01-10"
    assert notes == ("hubspot: 'Became a Customer Date' not found; won_at left empty",)


def test_a_hubspot_export_without_the_mql_date_says_so(hubspot_contacts):
    contacts = hubspot_contacts.drop(columns=["Became a Marketing Qualified Lead Date"])
    outcomes, notes = apply_preset("hubspot", "outcomes", contacts, "contacts.csv")
    assert schema.MQL_AT not in outcomes.columns
    assert "hubspot: 'Became a Marketing Qualified Lead Date' not found; mql_at left empty" in notes


def test_a_hubspot_export_without_the_sql_date_names_the_file_and_the_column(hubspot_contacts):
    contacts = hubspot_contacts.drop(columns=["Became a Sales Qualified Lead Date"])
    with pytest.raises(ContractError) as caught:
        apply_preset("hubspot", "outcomes", contacts, "contacts.csv")
    message = str(caught.value)
    assert message.startswith("contacts.csv: the hubspot preset found no column for sql_at")
    assert "'Became a Sales Qualified Lead Date'" in message
    assert "--column sql_at=" in message
    assert "example.com" not in message and "Ann" not in message


def test_hubspot_headers_match_whatever_their_case_and_spacing(hubspot_contacts):
    contacts = hubspot_contacts.rename(
        columns={"Record ID": "record_id", "Create Date": " CREATE DATE"}
    )
    leads, _ = apply_preset("hubspot", "leads", contacts, "contacts.csv")
    assert {schema.LEAD_ID, schema.CREATED_AT} <= set(leads.columns)


def test_a_japanese_hubspot_export_reads_as_leads():
    contacts = pd.DataFrame({"レコードID": ["1"], "作成日": ["2025-01-05"], "業種": ["IT"]})
    leads, _ = apply_preset("hubspot", "leads", contacts, "contacts.csv")
    assert list(leads.columns) == [schema.LEAD_ID, schema.CREATED_AT, "業種"]


def test_a_column_the_user_named_wins_over_the_preset(hubspot_contacts):
    contacts = hubspot_contacts.rename(columns={"Record ID": schema.LEAD_ID})
    contacts["hs_object_id"] = ["x", "y", "z"]
    leads, _ = apply_preset("hubspot", "leads", contacts, "contacts.csv")
    assert leads[schema.LEAD_ID].tolist() == ["101", "102", "103"]
    assert "hs_object_id" in leads.columns


def test_hubspot_has_no_activity_export_and_says_so():
    activities = pd.DataFrame(
        {"lead_id": ["1"], "occurred_at": ["2025-01-05"], "activity_type": ["x"]}
    )
    same, notes = apply_preset("hubspot", "activities", activities, "events.csv")
    assert same is activities
    assert "events.csv is read with leadscore's own column names" in notes[0]


# ------------------------------------------------------------------------------------- Marketo


def test_a_marketo_lead_export_reads_as_leads(marketo_leads):
    leads, _ = apply_preset("marketo", "leads", marketo_leads, "leads.csv")
    assert leads[schema.LEAD_ID].tolist() == ["5414087", "5414094"]
    assert schema.CREATED_AT in leads.columns
    assert "leadStatus" not in leads.columns


def test_marketo_activity_type_ids_read_as_their_documented_names(marketo_activities):
    activities, _ = apply_preset("marketo", "activities", marketo_activities, "activities.csv")
    assert activities[schema.ACTIVITY_TYPE].tolist()[:3] == [
        "Visit Webpage", "Fill Out Form", "Convert Lead",
    ]  # fmt: skip
    assert activities[schema.DETAIL].tolist()[1] == "GL_OP_ALL_2021.MPS Outbound"
    assert activities[schema.OCCURRED_AT].tolist() == marketo_activities["activityDate"].tolist()
    assert activities[schema.LEAD_ID].tolist() == marketo_activities["leadId"].tolist()


def test_a_custom_marketo_activity_keeps_its_number_with_a_note(marketo_activities):
    activities, notes = apply_preset("marketo", "activities", marketo_activities, "act.csv")
    assert activities[schema.ACTIVITY_TYPE].tolist()[3] == "100001"
    assert notes == (
        "marketo: activity type ids 100001 are not standard activity types; "
        "kept as numbers (custom activities)",
    )


def test_marketo_activities_without_detail_say_so(marketo_activities):
    extract = marketo_activities.drop(columns=["primaryAttributeValue"])
    activities, notes = apply_preset("marketo", "activities", extract, "act.csv")
    assert schema.DETAIL not in activities.columns
    assert "marketo: 'primaryAttributeValue' not found; detail left empty" in notes


def test_marketo_activities_without_a_lead_id_name_the_file(marketo_activities):
    with pytest.raises(ContractError, match=r"^act\.csv: the marketo preset .* lead_id.*'leadId'"):
        apply_preset(
            "marketo", "activities", marketo_activities.drop(columns=["leadId"]), "act.csv"
        )


def test_a_leads_first_convert_lead_activity_stands_in_for_sql(marketo_activities):
    outcomes, notes = apply_preset("marketo", "outcomes", marketo_activities, "act.csv")
    assert outcomes.to_dict("records") == [
        {schema.LEAD_ID: "5414087", schema.SQL_AT: "2022-02-13T14:09:16Z"}
    ]
    assert notes == ("marketo: 1 leads have a 'Convert Lead' activity in act.csv; its date "
                     "stands in for sql_at",)  # fmt: skip


def test_a_marketo_lead_export_as_outcomes_explains_where_sql_comes_from(marketo_leads):
    with pytest.raises(ContractError) as caught:
        apply_preset("marketo", "outcomes", marketo_leads, "leads.csv")
    message = str(caught.value)
    assert message.startswith("leads.csv: the marketo preset found no column for")
    assert "'activityTypeId'" in message or "'activityDate'" in message
    assert "Convert Lead" in message and "--column sql_at=" in message


def test_a_marketo_sql_date_the_user_named_is_taken_as_is(marketo_leads):
    leads = marketo_leads.assign(sql_at=["2022-03-01", None])
    outcomes, notes = apply_preset("marketo", "outcomes", leads, "leads.csv")
    assert list(outcomes.columns) == [schema.LEAD_ID, schema.SQL_AT]
    assert notes == ()


# ---------------------------------------------------------------------------------- Salesforce


def test_a_salesforce_lead_report_reads_as_leads(salesforce_lead_report):
    leads, _ = apply_preset("salesforce", "leads", salesforce_lead_report, "leads.csv")
    assert leads[schema.LEAD_ID].tolist() == ["00Q5f000001AbCdEAK", "00Q5f000001AbCeEAK"]
    assert schema.CREATED_AT in leads.columns
    assert {"Company / Account", "Lead Source"} <= set(leads.columns)
    assert not {"Converted", "Converted Date", "Lead Status"} & set(leads.columns)


def test_a_salesforce_conversion_stands_in_for_sql(salesforce_lead_report):
    outcomes, notes = apply_preset("salesforce", "outcomes", salesforce_lead_report, "leads.csv")
    assert list(outcomes.columns) == [schema.LEAD_ID, schema.SQL_AT]
    assert outcomes[schema.LEAD_ID].tolist() == ["00Q5f000001AbCdEAK", "00Q5f000001AbCeEAK"]
    assert outcomes[schema.SQL_AT].tolist()[0] == "2025-03-20"
    assert outcomes[schema.SQL_AT].isna().tolist() == [False, True]  # never converted
    assert notes == ()


def test_a_japanese_salesforce_report_reads_as_leads_and_outcomes():
    report = pd.DataFrame(
        {
            "リード ID": ["00Q1"],
            "作成日": ["2025/03/01"],
            "取引開始日": ["2025/03/20"],
            "業種": ["IT"],
        }
    )
    leads, _ = apply_preset("salesforce", "leads", report, "リード.csv")
    outcomes, _ = apply_preset("salesforce", "outcomes", report, "リード.csv")
    assert list(leads.columns) == [schema.LEAD_ID, schema.CREATED_AT, "業種"]
    assert outcomes[schema.SQL_AT].tolist() == ["2025/03/20"]


def test_a_salesforce_report_without_create_date_names_the_file(salesforce_lead_report):
    with pytest.raises(ContractError) as caught:
        apply_preset("salesforce", "leads", salesforce_lead_report.drop(columns=["Create Date"]),
                     "leads.csv")  # fmt: skip
    assert caught.value.source == "leads.csv" and caught.value.column == schema.CREATED_AT
    assert "'Create Date'" in str(caught.value) and "salesforce" in str(caught.value)


# ------------------------------------------------------------------------------------ general


def test_an_unknown_preset_lists_the_ones_there_are():
    with pytest.raises(ContractError, match="one of hubspot, marketo, salesforce"):
        apply_preset("pardot", "leads", pd.DataFrame({"a": [1]}), "x.csv")


def test_full_width_and_spaced_headers_are_the_same_column():
    assert column_key("リード　ID") == column_key("リードID") == column_key("ﾘｰﾄﾞ ID")
    assert column_key("Record ID") == column_key("record_id") == column_key("RECORD-ID")


def test_a_preset_never_changes_the_file_it_was_given(marketo_activities):
    before = marketo_activities.copy()
    for table in ("leads", "activities", "outcomes"):
        with contextlib.suppress(ContractError):
            apply_preset("marketo", table, marketo_activities, "act.csv")
    pd.testing.assert_frame_equal(marketo_activities, before)
