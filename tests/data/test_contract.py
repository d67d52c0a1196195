"""The data contract, from the point of view of a data scientist loading their own export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadscore.features import schema
from leadscore.features.contract import ContractError, load_export, load_flat, read_table
from leadscore.features.personal_data import personal_data_columns


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n" if text else "")
    return path


@pytest.fixture
def leads_csv(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "leads.csv",
        """
lead_id,created_at,email,First Name,department,employees
1,2025-01-05 09:00:00,ann@example.com,Ann,IT,120
2,2025-01-06T10:00:00+09:00,bob@example.com,Bob,Marketing,
3,2025-01-07,carla@example.com,Carla,it,4000
""",
    )


@pytest.fixture
def activities_csv(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "activities.csv",
        """
lead_id,occurred_at,activity_type,detail
1,2025-01-06 10:00:00,page_view,/pricing
1,2025-01-07 11:00:00,demo_request,
3,2025-01-08 12:00:00,email_open,newsletter-1
""",
    )


@pytest.fixture
def outcomes_csv(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "outcomes.csv",
        """
lead_id,sql_at,mql_at
1,2025-01-09 08:00:00,2025-01-07 12:00:00
2,,
""",
    )


def test_a_clean_export_loads_with_every_row(leads_csv, activities_csv, outcomes_csv):
    export = load_export(leads_csv, activities_csv, outcomes_csv)
    assert len(export.leads) == 3
    assert len(export.activities) == 3
    # lead 3 has no outcome row: it is kept, as never SQL, and the loader says so
    assert sorted(export.outcomes[schema.LEAD_ID]) == [1, 2, 3]
    assert export.outcomes.set_index(schema.LEAD_ID)[schema.SQL_AT].isna().loc[[2, 3]].all()
    assert any("no outcome row" in note for note in export.notes)


def test_naive_timestamps_are_utc_and_zoned_ones_are_converted(leads_csv):
    leads = load_export(leads_csv).leads.set_index(schema.LEAD_ID)[schema.CREATED_AT]
    assert leads.loc[1] == pd.Timestamp("2025-01-05 09:00:00", tz="UTC")
    assert leads.loc[2] == pd.Timestamp("2025-01-06 01:00:00", tz="UTC")
    assert leads.loc[3] == pd.Timestamp("2025-01-07", tz="UTC")


def test_personal_data_is_recognised_and_never_an_attribute(leads_csv):
    export = load_export(leads_csv)
    assert set(export.personal_data) == {"email", "First Name"}
    assert export.attribute_columns == ["department", "employees"]


def test_personal_data_hidden_behind_an_innocent_name_is_caught_by_content():
    frame = pd.DataFrame(
        {
            "contact": ["a@x.com", "b@y.org", "c@z.co.jp"],
            "tel_no": ["+81 3-1234-5678", "(03) 5555-0101", "090-1234-5678"],
            "signup_day": ["2025-01-01", "2025-01-02", "2025-01-03"],
            "plan": ["basic", "pro", "basic"],
        }
    )
    assert personal_data_columns(frame) == ["contact", "tel_no"]


def test_a_consent_flag_named_like_personal_data_stays_a_feature():
    frame = pd.DataFrame(
        {
            "Do Not Email": ["No", "Yes", None, "no"],
            "Do Not Call": [0, 1, 0, 0],
            "Email": ["a@x.com", "Yes", "No", "b@y.org"],
            "phone": [None, None, None, None],
        }
    )
    assert personal_data_columns(frame) == ["Email", "phone"]


def test_parquet_and_csv_of_the_same_export_load_alike(tmp_path, leads_csv, activities_csv):
    from_csv = load_export(leads_csv, activities_csv)
    load_export(leads_csv).leads.to_parquet(tmp_path / "leads.parquet")
    from_csv.activities.to_parquet(tmp_path / "activities.parquet")
    from_parquet = load_export(tmp_path / "leads.parquet", tmp_path / "activities.parquet")
    pd.testing.assert_frame_equal(from_csv.activities, from_parquet.activities)
    assert from_parquet.leads[schema.LEAD_ID].tolist() == [1, 2, 3]


# ------------------------------------------------------------------ one clear error per problem


def test_duplicate_lead_id_names_the_rows(tmp_path):
    leads = write_csv(
        tmp_path / "leads.csv", "lead_id,created_at\n7,2025-01-01\n8,2025-01-01\n7,2025-01-02"
    )
    with pytest.raises(ContractError) as error:
        load_export(leads)
    message = str(error.value)
    assert "leads.csv: duplicate lead_id in column 'lead_id'" in message
    assert "row 1 (line 2), row 3 (line 4)" in message
    assert error.value.rows == [1, 3]


def test_activity_of_an_unknown_lead_is_refused_not_dropped(tmp_path, leads_csv):
    activities = write_csv(
        tmp_path / "activities.csv",
        "lead_id,occurred_at,activity_type\n1,2025-01-06,page_view\n99,2025-01-06,page_view",
    )
    with pytest.raises(ContractError) as error:
        load_export(leads_csv, activities)
    assert "activities.csv: activity of an unknown lead in column 'lead_id' at row 2" in str(
        error.value
    )
    assert "99" in str(error.value)


def test_unparseable_timestamp_names_file_row_column_and_value(tmp_path, leads_csv):
    activities = write_csv(
        tmp_path / "activities.csv",
        "lead_id,occurred_at,activity_type\n1,2025-01-06,page_view\n1,last tuesday,page_view",
    )
    with pytest.raises(ContractError) as error:
        load_export(leads_csv, activities)
    message = str(error.value)
    assert "unparseable timestamp in column 'occurred_at' at row 2 (line 3)" in message
    assert "'last tuesday'" in message
    assert "ISO 8601" in message


@pytest.mark.parametrize("content", ["", "lead_id,created_at\n"])
def test_empty_file_is_an_error(tmp_path, content):
    path = tmp_path / "leads.csv"
    path.write_text(content)
    with pytest.raises(ContractError, match=r"leads.csv: the file (is empty|has a header)"):
        load_export(path)


def test_missing_required_column_suggests_the_close_one(tmp_path):
    leads = write_csv(tmp_path / "leads.csv", "LeadID,created_at\n1,2025-01-01")
    with pytest.raises(ContractError) as error:
        load_export(leads)
    assert "missing required column 'lead_id'" in str(error.value)
    assert "Did you mean 'LeadID'?" in str(error.value)


def test_a_missing_japanese_column_is_matched_in_its_own_script_never_on_nothing(tmp_path):
    """'顧客 番号' is a near miss for 顧客番号; メール (an email column) is none for 流入経路,
    though a comparison of a-z alone once read both as empty and matched them."""
    rows = "顧客 番号,メール,受注\n1,a@example.jp,○\n2,b@example.jp,×\n"
    path = write_csv(tmp_path / "leads.csv", rows)
    with pytest.raises(ContractError) as near:
        load_flat(path, label="受注", id_column="顧客番号")
    # not a contract column: named again with the option that named it, quoted for a shell
    said = str(near.value)
    assert "Did you mean '顧客 番号'? Name the column as the file writes it:" in said
    assert "--id-column '顧客 番号'" in said
    with pytest.raises(ContractError) as far:
        load_flat(path, label="受注", id_column="流入経路")
    assert "Did you mean" not in str(far.value) and "--id-column <its name>" in str(far.value)


def test_missing_created_at_value_is_an_error_not_a_drop(tmp_path):
    leads = write_csv(tmp_path / "leads.csv", "lead_id,created_at\n1,2025-01-01\n2,")
    with pytest.raises(ContractError, match=r"empty timestamp in column 'created_at' at row 2"):
        load_export(leads)


def test_duplicate_outcomes_for_one_lead_are_refused(tmp_path, leads_csv):
    outcomes = write_csv(tmp_path / "outcomes.csv", "lead_id,sql_at\n1,2025-02-01\n1,")
    with pytest.raises(ContractError, match="more than one outcome for a lead"):
        load_export(leads_csv, outcomes=outcomes)


def test_unknown_file_type_is_named(tmp_path):
    path = tmp_path / "leads.docx"
    path.write_bytes(b"PK")
    with pytest.raises(ContractError, match=r"unknown file type.*\.csv"):
        read_table(path)


# ----------------------------------------------------------------------------------- flat mode


def test_flat_export_accepts_yes_no_labels_and_numbers_rows_without_ids(tmp_path):
    path = write_csv(
        tmp_path / "crm.csv",
        "Converted,Lead Source,Email Address\nYes,Google,a@x.com\nno,Referral,b@x.com\n"
        " TRUE ,Google,c@x.com",
    )
    flat = load_flat(path, "Converted")
    assert flat.label.tolist() == [1, 0, 1]
    assert flat.leads[schema.LEAD_ID].tolist() == [1, 2, 3]
    assert flat.attribute_columns == ["Lead Source"]
    assert "Email Address" in flat.personal_data


def test_a_japanese_sheet_labels_conversions_in_its_own_words(tmp_path):
    """はい/いいえ, ○/× and full-width digits, as a Japanese team fills a CP932 sheet."""
    path = tmp_path / "商談.csv"
    rows = "リードID,商談化\nA,はい\nB,いいえ\nC,○\nD,×\nE,１\nF,なし\n"
    path.write_bytes(rows.encode("cp932"))
    flat = load_flat(path, "商談化", id_column="リードID")
    assert flat.label.tolist() == [1, 0, 1, 0, 1, 0]


def test_flat_label_with_a_third_value_is_refused(tmp_path):
    path = write_csv(tmp_path / "crm.csv", "id,Converted\na,1\nb,0\nc,maybe\nd,")
    with pytest.raises(ContractError) as error:
        load_flat(path, "Converted", id_column="id")
    message = str(error.value)
    assert "label with values other than the two classes in column 'Converted'" in message
    assert "row 3 (line 4), row 4 (line 5)" in message
    assert "'maybe'" in message


def test_flat_label_with_one_class_cannot_train(tmp_path):
    path = write_csv(tmp_path / "crm.csv", "Converted\n1\n1")
    with pytest.raises(ContractError, match="only one class"):
        load_flat(path, "Converted")


def test_flat_missing_label_column_is_named(tmp_path):
    path = write_csv(tmp_path / "crm.csv", "converted_flag\n1\n0")
    with pytest.raises(ContractError, match="missing required column 'Converted'"):
        load_flat(path, "Converted")


def test_a_flat_order_column_orders_leads_in_time_and_is_never_a_feature(tmp_path):
    """A CRM file that lists its newest leads first still has a sequential lead number."""
    path = write_csv(
        tmp_path / "crm.csv",
        "id,Lead Number,Lead Source,Converted\na,660737,Google,1\nb,660730,Referral,0\n"
        "c,660716,Google,0",
    )
    flat = load_flat(path, "Converted", id_column="id", order_column="Lead Number")
    assert flat.order.tolist() == [660737, 660730, 660716]
    assert "Lead Number" not in flat.leads.columns and flat.attribute_columns == ["Lead Source"]
    assert any("'Lead Number' orders the leads in time" in note for note in flat.notes)


def test_a_flat_order_column_that_cannot_order_names_its_rows(tmp_path):
    path = write_csv(
        tmp_path / "crm.csv", "id,Lead Number,Converted\na,17,1\nb,n/a,0\nc,,0\nd,12,1"
    )
    with pytest.raises(ContractError) as error:
        load_flat(path, "Converted", id_column="id", order_column="Lead Number")
    assert "empty value in column 'Lead Number' at row 2 (line 3), row 3" in str(error.value)
    path.write_text("id,Lead Number,Converted\na,17,1\nb,soon,0\nd,12,1\n")
    with pytest.raises(ContractError) as error:
        load_flat(path, "Converted", id_column="id", order_column="Lead Number")
    message = str(error.value)
    assert "cannot order leads in time in column 'Lead Number' at row 2 (line 3)" in message
    assert "'soon'" in message and "sequential lead number" in message


def test_a_flat_order_reads_grouped_and_long_numbers_exactly_and_refuses_guesses(tmp_path):
    """'660,737' is a lead number, not the year 660; 18-digit ids must not collapse to ties;
    'March 3' has no year, so it orders nothing."""
    path = write_csv(
        tmp_path / "crm.csv",
        'id,n,big,Converted\na,"660,737",100000000000000003,1\nb,"1,660,730",100000000000000001,0\n'
        "c,12,100000000000000002,0",
    )
    flat = load_flat(path, "Converted", id_column="id", order_column="n")
    assert flat.order.tolist() == [660737, 1660730, 12]
    flat = load_flat(path, "Converted", id_column="id", order_column="big")
    assert flat.order.rank().tolist() == [3.0, 1.0, 2.0]
    path.write_text("id,when,Converted\na,2025-01-02,1\nb,March 3,0\nc,2025-01-01T09:00Z,0\n")
    with pytest.raises(ContractError, match=r"cannot order leads in time .* at row 2 \(line 3\)"):
        load_flat(path, "Converted", id_column="id", order_column="when")


@pytest.mark.parametrize(
    ("column", "problem"),
    [
        ("Converted", "the label cannot order the leads in time"),
        ("Email", "personal data cannot order the leads in time"),
        ("Same", "one value on every row, which orders nothing"),
    ],
)
def test_a_flat_order_column_that_is_the_label_personal_data_or_constant_is_refused(
    tmp_path, column, problem
):
    path = write_csv(
        tmp_path / "crm.csv",
        "id,Email,Same,Converted\na,a@x.com,7,1\nb,b@x.com,7,0\nc,c@x.com,7,0",
    )
    with pytest.raises(ContractError) as error:
        load_flat(path, "Converted", id_column="id", order_column=column)
    assert problem in str(error.value) and "@x.com" not in str(error.value)


def test_lead_ids_that_order_the_leads_stay_the_ids(tmp_path):
    path = write_csv(tmp_path / "crm.csv", "lead_id,Converted\n30,1\n10,0\n20,0")
    flat = load_flat(path, "Converted", order_column="lead_id")
    assert flat.leads[schema.LEAD_ID].tolist() == [30, 10, 20]
    assert flat.order.tolist() == [30, 10, 20]


def test_the_flat_split_follows_the_order_whatever_the_row_order_of_the_leads(tmp_path):
    """The order is matched to the leads by their index, so a caller may sort or filter them."""
    from leadscore.features.infer import infer_spec
    from leadscore.features.offline import connect
    from leadscore.features.training_set import flat_training_set

    n = 50
    numbers = 1000 - np.arange(n)  # newest first
    rows = "\n".join(f"p{i},{numbers[i]},{'Google' if i % 2 else 'Referral'},{i % 3 == 0:d}"
                     for i in range(n))  # fmt: skip
    path = write_csv(tmp_path / "crm.csv", f"id,Lead Number,Lead Source,Converted\n{rows}")
    flat = load_flat(path, "Converted", id_column="id", order_column="Lead Number")
    spec, _ = infer_spec(flat.leads, None, flat.personal_data, exclude=("Converted",))
    for name, leads in (("as read", flat.leads), ("reversed", flat.leads.iloc[::-1])):
        built = pd.read_parquet(
            flat_training_set(connect(), leads, flat.label.loc[leads.index], spec,
                              tmp_path / name, order=flat.order)[0]
        )  # fmt: skip
        number = built[schema.LEAD_ID].map(flat.order.set_axis(flat.leads[schema.LEAD_ID]))
        spans = number.groupby(built["split"]).agg(["min", "max"])
        assert spans.loc["test", "min"] > spans.loc["validation", "max"], name
        assert spans.loc["validation", "min"] > spans.loc["train", "max"], name


def test_a_flat_export_with_created_at_needs_no_order_column(tmp_path):
    path = write_csv(
        tmp_path / "crm.csv", "id,created_at,n,Converted\na,2025-01-01,1,1\nb,2025-01-02,2,0"
    )
    with pytest.raises(ContractError, match="created_at already orders the leads in time"):
        load_flat(path, "Converted", id_column="id", order_column="n")


def test_a_csv_keeps_na_as_text_where_the_service_would(tmp_path):
    """'NA' is North America in a region column, as a posted lead says it; in a number
    column, 'NA' or 'null' is a gap, as the service reads it too."""
    path = write_csv(
        tmp_path / "crm.csv",
        "id,region,employees,sql_at,Converted\na,NA,12,NULL,1\nb,EMEA,NA,2025-01-01,0\n"
        "c,#N/A,null,,0",
    )
    flat = load_flat(path, "Converted", id_column="id")
    assert flat.leads["region"].tolist() == ["NA", "EMEA", "#N/A"]
    assert "employees" in flat.number_columns and "region" not in flat.number_columns
    table = read_table(path)
    from leadscore.features.contract import parse_timestamps

    assert parse_timestamps(table, "sql_at", required=False).isna().tolist() == [True, False, True]


def test_contract_errors_never_show_personal_data(tmp_path):
    leads = write_csv(
        tmp_path / "leads.csv",
        "lead_id,created_at,email\n1,2025-01-01,secret@example.com\n1,2025-01-02,other@example.com",
    )
    with pytest.raises(ContractError) as error:
        load_export(leads)
    assert "example.com" not in str(error.value)


def test_csv_codes_and_numbers_reach_features_as_a_posted_lead_brings_them(tmp_path):
    """An industry code '0111' keeps its zero and a band '50' in a column with gaps stays '50':
    the levels a model learns from a CSV export are the ones the service gets in a posted
    lead. The spec, not the file, says which columns are numbers."""
    from leadscore.features.infer import infer_spec
    from leadscore.features.offline import attribute_features, connect, register
    from leadscore.features.online import attribute_values
    from leadscore.features.spec import CategoricalAttribute, FeatureSpec, NumericAttribute

    path = write_csv(
        tmp_path / "leads.csv",
        "lead_id,created_at,sic,band,employees\n1,2025-01-01,0111,50,12\n"
        "2,2025-01-02,7372,,NA\n3,2025-01-03,,200, 1e3",
    )
    export = load_export(path)
    spec = FeatureSpec(
        attributes=(
            CategoricalAttribute(name="sic", column="sic"),
            CategoricalAttribute(name="band", column="band"),
            NumericAttribute(name="employees", column="employees"),
        ),
        signals=(),
    )
    built = attribute_features(register(connect(), "leads", export.leads), spec).execute()
    offline = built.sort_values(schema.LEAD_ID)[["sic", "band", "employees"]]
    posted = [  # as an MA system posts them: JSON text and numbers
        {"sic": "0111", "band": 50, "employees": 12},
        {"sic": "7372", "band": None, "employees": "NA"},
        {"sic": "", "band": "200", "employees": "1e3"},
    ]
    online = pd.DataFrame([attribute_values(lead, spec) for lead in posted])
    assert offline.astype(object).where(offline.notna(), None).values.tolist() == [
        ["0111", "50", 12.0],
        ["7372", None, None],
        [None, "200", 1000.0],
    ]
    assert online.astype(object).where(online.notna(), None).values.tolist() == (
        offline.astype(object).where(offline.notna(), None).values.tolist()
    )
    inferred, _ = infer_spec(
        export.leads, None, export.personal_data, numbers=export.number_columns
    )
    kinds = {a.name: a.kind for a in inferred.attributes}
    assert kinds == {"sic": "categorical", "band": "numeric", "employees": "numeric",
                     "created_weekday": "created", "created_hour": "created"}  # fmt: skip


def test_digit_only_phone_numbers_in_a_csv_are_personal_data(tmp_path):
    """A phone column written as bare digits ('09012345678') is a code with a leading zero,
    not a number column, so its content marks it as personal data whatever its name."""
    path = write_csv(
        tmp_path / "leads.csv",
        "lead_id,created_at,contact,revenue\n1,2025-01-01,09012345678,1500000000\n"
        "2,2025-01-02,08055501234,2300000000\n3,2025-01-03,0312345678,1200000000",
    )
    export = load_export(path)
    assert export.personal_data == ("contact",)
    assert "revenue" in export.number_columns


@pytest.mark.parametrize(
    ("lead_ids", "activity_ids", "joined"),
    [
        (("17", "18"), ("17.0", "18.00"), [17, 18]),  # a CRM that writes whole numbers as 17.0
        (("A1", "B2"), ('" A1"', '"B2 "'), ["A1", "B2"]),  # text ids padded in one file only
    ],
    ids=["whole-number-decimals", "padded-text"],
)
def test_ids_written_differently_in_the_activities_file_join_their_leads(
    tmp_path, lead_ids, activity_ids, joined
):
    rows = "\n".join(f"{i},2025-01-0{n + 1}" for n, i in enumerate(lead_ids))
    leads = write_csv(tmp_path / "leads.csv", f"lead_id,created_at\n{rows}")
    rows = "\n".join(f"{i},2025-01-0{n + 3},page_view" for n, i in enumerate(activity_ids))
    activities = write_csv(
        tmp_path / "activities.csv", f"lead_id,occurred_at,activity_type\n{rows}"
    )
    export = load_export(leads, activities)
    assert export.activities[schema.LEAD_ID].tolist() == joined


def test_a_flat_id_column_of_numbers_with_an_na_gap_names_the_row(tmp_path):
    path = write_csv(tmp_path / "crm.csv", "id,plan,Converted\n1,basic,1\nNA,pro,0\n3,pro,0")
    with pytest.raises(ContractError, match=r"empty value in column 'id' at row 2"):
        load_flat(path, "Converted", id_column="id")


def test_a_bant_field_written_na_is_still_unknown_on_the_handoff_sheet():
    from leadscore.serving.handoff import unknowns

    lead = {"budget_usd": "NA", "timeline_months": " null ", "authority": "CFO"}
    assert unknowns(lead, "en") == ["budget: budget_usd", "timing: timeline_months"]
