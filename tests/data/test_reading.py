"""A Japanese marketing-ops team brings the files their tools write on a Monday morning.

SATORI and a Japanese Salesforce write CP932 with CRLF line ends and Japanese headers; Excel
"CSV UTF-8" starts with a byte-order mark; a report goes out as .xlsx; times are on Tokyo's
clock in ``2026/04/06 9:29`` form. Each is the same export and must load to the same tables.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli import app
from leadscore.features import schema
from leadscore.features.contract import ContractError, load_export, load_flat
from leadscore.features.reading import ExportFormat, parse_column_options, parse_sheet_options
from tests.worlds import hubspot_contacts

TOKYO = ExportFormat(
    time_zone="Asia/Tokyo",
    columns={
        schema.LEAD_ID: "リードID", schema.CREATED_AT: "作成日時", schema.OCCURRED_AT: "日時",
        schema.ACTIVITY_TYPE: "行動", schema.DETAIL: "詳細", schema.SQL_AT: "商談化日時",
    },
)  # fmt: skip

LEADS = pd.DataFrame(
    {
        "リードID": ["1001", "1002", "1003", "1004"],
        "作成日時": ["2026/04/01 9:05", "2026/04/02 10:30:15", "2026年4月3日", "2026-04-04"],
        "役職": ["部長", "課長", "担当者", "ＩＴ部長"],
        "従業員数": ["120", "4000", "", "35"],
    }
)
ACTIVITIES = pd.DataFrame(
    {
        "リードID": ["1001", "1001", "1003"],
        "日時": ["2026/04/02 13:00", "2026/04/05 09:00", "2026/04/06 18:45:00"],
        "行動": ["ページ閲覧", "フォーム送信", "メール開封"],
        "詳細": ["/pricing", "お問い合わせ", "4月号メルマガ"],
    }
)
OUTCOMES = pd.DataFrame({"リードID": ["1001", "1002"], "商談化日時": ["2026/04/07 11:00", ""]})


def write(frame: pd.DataFrame, path: Path, encoding: str = "utf-8", line_end: str = "\n") -> Path:
    frame.to_csv(path, index=False, encoding=encoding, lineterminator=line_end)
    return path


def export_files(folder: Path, encoding: str, line_end: str = "\n") -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [
        write(frame, folder / f"{name}.csv", encoding, line_end)
        for name, frame in (("leads", LEADS), ("activities", ACTIVITIES), ("outcomes", OUTCOMES))
    ]


@pytest.fixture
def as_written_in_utf8(tmp_path):
    return load_export(*export_files(tmp_path / "utf8", "utf-8"), fmt=TOKYO)


@pytest.mark.parametrize(
    ("encoding", "line_end"),
    [("cp932", "\r\n"), ("utf-8-sig", "\r\n"), ("shift_jis", "\n"), ("utf-16", "\r\n")],
)
def test_japanese_files_load_to_the_same_tables_in_any_encoding(
    tmp_path, as_written_in_utf8, encoding, line_end
):
    export = load_export(*export_files(tmp_path / encoding, encoding, line_end), fmt=TOKYO)

    for table in ("leads", "activities", "outcomes"):
        pd.testing.assert_frame_equal(getattr(export, table), getattr(as_written_in_utf8, table))
    assert list(export.leads.columns) == [schema.LEAD_ID, schema.CREATED_AT, "役職", "従業員数"]
    assert export.leads["役職"].tolist() == ["部長", "課長", "担当者", "ＩＴ部長"]


def test_an_excel_workbook_loads_to_the_same_tables(tmp_path, as_written_in_utf8):
    book = tmp_path / "export.xlsx"
    typed_leads = LEADS.assign(
        リードID=LEADS["リードID"].astype(int),  # Excel keeps ids and counts as numbers
        作成日時=pd.to_datetime(["2026-04-01 09:05:00", "2026-04-02 10:30:15",
                               "2026-04-03 00:00:00", "2026-04-04 00:00:00"]),  # date cells
        従業員数=pd.to_numeric(LEADS["従業員数"]),
    )  # fmt: skip
    with pd.ExcelWriter(book) as writer:
        notes = pd.DataFrame({"説明": ["このシートは説明です"]})
        notes.to_excel(writer, sheet_name="説明", index=False)
        typed_leads.to_excel(writer, sheet_name="リード", index=False)
    others = export_files(tmp_path / "csv", "cp932", "\r\n")[1:]

    export = load_export(book, *others, fmt=TOKYO.with_options(sheet="リード"))

    pd.testing.assert_frame_equal(export.leads, as_written_in_utf8.leads)
    assert load_export(book, *others, fmt=TOKYO.with_options(sheet="1")).leads.equals(export.leads)


def test_a_missing_sheet_names_the_sheets_there_are(tmp_path):
    book = tmp_path / "export.xlsx"
    LEADS.to_excel(book, sheet_name="リード", index=False)
    with pytest.raises(ContractError, match=r"export\.xlsx: no sheet 'Leads'.*リード"):
        load_export(book, fmt=TOKYO.with_options(sheet="Leads"))


def one_workbook(path: Path, names: tuple[str, str, str], cover: str | None = "説明") -> Path:
    """The whole export as sheets of one workbook, behind a cover sheet as reports keep one."""
    with pd.ExcelWriter(path) as writer:
        if cover:
            pd.DataFrame({cover: ["リード、行動履歴、商談の3シート"]}).to_excel(
                writer, sheet_name=cover, index=False
            )
        for name, frame in zip(names, (LEADS, ACTIVITIES, OUTCOMES), strict=True):
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def test_one_workbook_of_leads_activity_history_and_deals_loads_as_the_three_files(
    tmp_path, as_written_in_utf8
):
    """A team that keeps its export as one workbook passes it three times: each table reads
    the sheet named for it, and the run says which it read."""
    book = one_workbook(tmp_path / "export.xlsx", ("リード", "行動履歴", "商談"))

    export = load_export(book, book, book, fmt=TOKYO)

    for table in ("leads", "activities", "outcomes"):
        pd.testing.assert_frame_equal(getattr(export, table), getattr(as_written_in_utf8, table))
    assert (
        "export.xlsx: read sheet '行動履歴' (named for activities) of 4: 説明, "
        "リード, 行動履歴, 商談; choose another with --sheet activities=NAME" in export.notes
    )


def test_sheets_named_by_nobody_are_chosen_per_table_and_errors_name_the_sheet(tmp_path):
    """Sheet1, Sheet2, Sheet3: nothing says which is which. Unnamed, every table reads the
    first, and the activities' missing column is placed in its sheet with the fix; named per
    table on the command line, the export validates."""
    book = one_workbook(tmp_path / "export.xlsx", ("Sheet1", "Sheet2", "Sheet3"), cover=None)
    options = [f"--column={c}={n}" for c, n in TOKYO.columns.items()]
    files = ["--leads", str(book), "--activities", str(book), "--outcomes", str(book)]

    unnamed = CliRunner().invoke(app, ["validate", *files, *options])
    assert unnamed.exit_code == 2 and "Traceback" not in unnamed.output
    said = " ".join(unnamed.output.split())
    assert "export.xlsx [Sheet1]: missing required column 'occurred_at'" in said
    assert (
        "Or the table is on another sheet: this is sheet 'Sheet1' (the first) of 3: "
        "Sheet1, Sheet2, Sheet3; choose another with --sheet activities=NAME" in said
    )

    named = CliRunner().invoke(app, [
        "validate", *files, *options, "--timezone", "Asia/Tokyo",
        "--sheet", "leads=Sheet1", "--sheet", "activities=Sheet2", "--sheet", "outcomes=2",
    ])  # fmt: skip
    assert named.exit_code == 0, named.output
    wrong = CliRunner().invoke(app, ["validate", *files, *options, "--sheet", "activities=行動"])
    assert wrong.exit_code == 2
    assert (
        "export.xlsx: no sheet '行動'. The workbook's sheets are Sheet1, Sheet2, Sheet3; "
        "choose one with --sheet activities=NAME" in " ".join(wrong.output.split())
    )


def test_one_sheet_named_for_every_table_says_so_when_the_activities_lack_a_column(tmp_path):
    book = one_workbook(tmp_path / "export.xlsx", ("リード", "行動履歴", "商談"))
    with pytest.raises(ContractError) as raised:
        load_export(book, book, fmt=TOKYO.with_options(sheet="リード"))
    said = str(raised.value)
    assert said.startswith("export.xlsx [リード]: missing required column 'occurred_at'")
    assert "this is sheet 'リード' (--sheet, for every table) of 4" in said
    assert "--sheet activities=NAME" in said


def test_a_workbook_that_names_two_sheets_for_one_table_is_asked_which(tmp_path):
    book = tmp_path / "export.xlsx"
    with pd.ExcelWriter(book) as writer:
        for name in ("表紙", "Leads", "リード"):
            LEADS.to_excel(writer, sheet_name=name, index=False)
    with pytest.raises(
        ContractError,
        match=r"export\.xlsx: sheets 'Leads' and 'リード' are "
        r"both named for leads\. Choose one with --sheet leads=NAME",
    ):
        load_export(book, fmt=TOKYO)
    assert len(load_export(book, fmt=TOKYO.with_options(sheets={"leads": "リード"})).leads) == 4


def test_a_sheet_named_by_a_year_is_read_by_its_name_and_a_position_past_the_end_is_counted(
    tmp_path,
):
    book = tmp_path / "export.xlsx"
    with pd.ExcelWriter(book) as writer:
        LEADS.iloc[:2].to_excel(writer, sheet_name="2025", index=False)
        LEADS.to_excel(writer, sheet_name="2026", index=False)
        LEADS.iloc[:1].to_excel(writer, sheet_name="1", index=False)
    assert len(load_export(book, fmt=TOKYO.with_options(sheet="2026")).leads) == 4
    assert len(load_export(book, fmt=TOKYO.with_options(sheet="1")).leads) == 1  # its name
    assert len(load_export(book, fmt=TOKYO.with_options(sheet="0")).leads) == 2  # a position
    with pytest.raises(
        ContractError,
        match=r"no sheet at position 7\. The workbook has 3 "
        r"sheet\(s\), 0 to 2: 2025, 2026, 1",
    ):
        load_export(book, fmt=TOKYO.with_options(sheet="7"))


def test_a_sheet_given_now_for_every_file_replaces_each_tables_remembered_one(tmp_path):
    """A model remembers --sheet leads=Data; the next workbook's leads are on 'New', and
    --sheet New must read them, not the old sheet's rows."""
    remembered = TOKYO.with_options(sheets={"leads": "Data", "activities": "行動履歴"})
    given = ExportFormat(sheet="New")
    fmt = ExportFormat.remembered({ExportFormat.METADATA_KEY: remembered.as_dict()}, given)
    assert (fmt.sheet, dict(fmt.sheets), fmt.time_zone) == ("New", {}, "Asia/Tokyo")
    joined = remembered.with_options(sheets={"outcomes": "商談"})
    assert dict(joined.sheets) == {"leads": "Data", "activities": "行動履歴", "outcomes": "商談"}


@pytest.mark.parametrize(
    ("values", "said"),
    [
        (["activity=Activities"], "'activity' is not a table"),
        (["leads="], "no sheet after '='"),
        (["leads=A", "leads=B"], "leads's sheet is named twice"),
    ],
)
def test_a_misspelt_table_sheet_is_refused_not_read_as_every_files_sheet(values, said):
    with pytest.raises(ValueError, match=said):
        parse_sheet_options(values)


def test_each_tables_sheet_is_kept_with_the_format_for_the_next_file(tmp_path):
    every, own = parse_sheet_options(["リード", "activities=行動履歴", "outcomes=商談"])
    fmt = TOKYO.with_options(sheet=every, sheets=own)
    assert (fmt.sheet, dict(fmt.sheets)) == (
        "リード",
        {"activities": "行動履歴", "outcomes": "商談"},
    )
    assert ExportFormat.load(fmt.save(tmp_path)) == fmt
    with pytest.raises(ValueError, match="a sheet for every file is already named"):
        parse_sheet_options(["リード", "行動履歴"])
    with pytest.raises(ValueError, match="sheet for 'deals': not a table"):
        ExportFormat(sheets={"deals": "商談"})


def test_times_without_a_zone_are_on_the_exports_clock(as_written_in_utf8):
    created = as_written_in_utf8.leads[schema.CREATED_AT]
    assert created.iloc[0] == pd.Timestamp("2026-04-01 00:05", tz="UTC")  # 9:05 in Tokyo
    assert created.iloc[2] == pd.Timestamp("2026-04-02 15:00", tz="UTC")  # 2026年4月3日
    assert str(created.dtype) == "datetime64[us, UTC]"


def test_the_default_clock_is_utc_and_an_offset_is_kept(tmp_path):
    leads = pd.DataFrame(
        {"lead_id": [1, 2], "created_at": ["2026/04/01 09:05", "2026-04-01T09:05:00+09:00"]}
    )
    export = load_export(write(leads, tmp_path / "leads.csv"))
    assert export.leads[schema.CREATED_AT].tolist() == [
        pd.Timestamp("2026-04-01 09:05", tz="UTC"),
        pd.Timestamp("2026-04-01 00:05", tz="UTC"),
    ]


def test_a_day_first_column_is_read_day_first_on_every_row(tmp_path):
    # 6 April and 13 April: the second settles the order, and the first follows it
    leads = pd.DataFrame(
        {"lead_id": [1, 2, 3], "created_at": ["06/04/2026 09:29", "13/04/2026", "01/05/2026"]}
    )
    created = load_export(write(leads, tmp_path / "leads.csv")).leads[schema.CREATED_AT]
    assert created.dt.strftime("%Y-%m-%d").tolist() == ["2026-04-06", "2026-04-13", "2026-05-01"]


def test_a_column_whose_order_nothing_settles_is_refused_with_the_fix(tmp_path):
    leads = pd.DataFrame({"lead_id": [1, 2], "created_at": ["06/04/2026 09:29", "05/04/2026"]})
    path = write(leads, tmp_path / "leads.csv")

    with pytest.raises(ContractError) as refused:
        load_export(path)
    message = str(refused.value)
    assert "leads.csv" in message and "'created_at'" in message and "row 1 (line 2)" in message
    assert "--date-format" in message

    day_first = load_export(path, fmt=ExportFormat(date_format="%d/%m/%Y %H:%M"))
    assert day_first.leads[schema.CREATED_AT].iloc[0] == pd.Timestamp("2026-04-06 09:29", tz="UTC")


def test_a_twelve_hour_clock_reads_as_a_us_report_or_a_japanese_tool_writes_it(tmp_path):
    """HubSpot and Salesforce reports write "01/13/2026 07:11 PM"; some Japanese tools 午後7:11
    or 午後3時05分. Midnight is 12 AM, noon 12 PM or 午後0時; an hour past 12 with a half-day
    is refused by row."""
    written = ["01/13/2026 07:11 PM", "01/14/2026 12:05 AM", "01/15/2026 12:30 pm",
               "2026/01/16 午前 9:00", "2026/01/17 午後12:15:30", "2026/01/18 午後0:15",
               "2026年1月19日 午後3時05分", "2026/01/20 午後3時05分"]  # fmt: skip
    leads = pd.DataFrame({"lead_id": range(1, 9), "created_at": written})
    created = load_export(write(leads, tmp_path / "leads.csv")).leads[schema.CREATED_AT]
    assert created.dt.strftime("%Y-%m-%d %H:%M:%S").tolist() == [
        "2026-01-13 19:11:00", "2026-01-14 00:05:00", "2026-01-15 12:30:00",
        "2026-01-16 09:00:00", "2026-01-17 12:15:30", "2026-01-18 12:15:00",
        "2026-01-19 15:05:00", "2026-01-20 15:05:00",
    ]  # fmt: skip
    leads.loc[1, "created_at"] = "01/14/2026 13:05 PM"
    with pytest.raises(ContractError) as refused:
        load_export(write(leads, tmp_path / "bad.csv"))
    assert "row 2 (line 3)" in str(refused.value) and "AM/PM" in str(refused.value)


def test_one_system_naming_the_lead_id_two_ways_is_mapped_per_file(tmp_path):
    """A lead export's ``Id`` and its activity export's ``Lead Id``: one mapping for every file
    cannot say both, so the file that lacks it is told to map it for its table alone."""
    leads = write(pd.DataFrame({"Id": [1, 2], "created_at": ["2026-04-01", "2026-04-02"]}),
                  tmp_path / "leads.csv")  # fmt: skip
    activities = write(
        pd.DataFrame({"Lead Id": [1, 2], "occurred_at": ["2026-04-03", "2026-04-04"],
                      "activity_type": ["Visit Webpage", "Fill Out Form"]}),
        tmp_path / "activities.csv",
    )  # fmt: skip
    every_file = ExportFormat(columns=parse_column_options(["lead_id=Id"]))
    with pytest.raises(ContractError) as refused:
        load_export(leads, activities, fmt=every_file)
    assert "activities.csv: missing required column 'lead_id'" in str(refused.value)
    assert "--column 'activities.lead_id=Lead Id'" in str(refused.value)  # quoted for a shell

    per_file = every_file.with_options(columns={"activities.lead_id": "Lead Id"})
    export = load_export(leads, activities, fmt=per_file)
    assert export.activities[schema.LEAD_ID].tolist() == export.leads[schema.LEAD_ID].tolist()
    with pytest.raises(ValueError, match=r"TABLE\.COLUMN"):
        ExportFormat(columns={"activities.created_at": "Created"})  # no such column there
    # one name for two columns of different files is no clash: each file renames its own
    assert ExportFormat(columns={"created_at": "Date", "activities.occurred_at": "Date"})
    with pytest.raises(ValueError, match="of the leads file is mapped to two contract columns"):
        ExportFormat(columns={"lead_id": "Id", "created_at": "Id"})


def test_day_first_and_month_first_in_one_column_are_refused(tmp_path):
    leads = pd.DataFrame({"lead_id": [1, 2], "created_at": ["13/04/2026", "04/13/2026"]})
    with pytest.raises(ContractError, match="day first and dates with the month first"):
        load_export(write(leads, tmp_path / "leads.csv"))


def test_an_unreadable_cell_is_named_by_file_column_row_and_the_forms_read(tmp_path):
    leads = LEADS.copy()
    leads.loc[2, "作成日時"] = "先週の火曜"
    path = write(leads, tmp_path / "leads.csv", "cp932", "\r\n")

    with pytest.raises(ContractError) as refused:
        load_export(path, fmt=TOKYO)
    message = str(refused.value)
    assert message.startswith("leads.csv: unparseable timestamp in column 'created_at'")
    assert "row 3 (line 4)" in message and "先週の火曜" in message
    assert "2026/04/06 09:29" in message and "2026年4月6日" in message


def test_a_file_in_an_encoding_not_detected_says_how_to_name_it(tmp_path):
    path = write(LEADS, tmp_path / "leads.csv", "euc_jp")
    with pytest.raises(ContractError, match=r"leads\.csv: .*neither UTF-8 nor CP932.*--encoding"):
        load_export(path, fmt=TOKYO)
    export = load_export(path, fmt=TOKYO.with_options(encoding="euc_jp"))
    assert export.leads["役職"].iloc[0] == "部長"


def test_a_wrong_encoding_given_is_named_not_a_traceback(tmp_path):
    path = write(LEADS, tmp_path / "leads.csv", "cp932")
    with pytest.raises(ContractError, match=r"leads\.csv: the file is not utf-8 text"):
        load_export(path, fmt=TOKYO.with_options(encoding="utf-8"))


def test_an_unmapped_japanese_contract_column_says_how_to_map_it(tmp_path):
    path = write(LEADS, tmp_path / "leads.csv", "cp932")
    with pytest.raises(ContractError, match=r"column 'lead_id'.*--column lead_id="):
        load_export(path)


def test_a_flat_export_reads_with_the_same_format(tmp_path):
    flat = LEADS.assign(商談化=["1", "0", "0", "1"])
    path = write(flat, tmp_path / "flat.csv", "cp932", "\r\n")
    loaded = load_flat(path, "商談化", fmt=TOKYO)
    assert loaded.label.tolist() == [1, 0, 0, 1]
    assert loaded.leads[schema.LEAD_ID].tolist() == [1001, 1002, 1003, 1004]


def test_column_options_and_their_mistakes():
    assert parse_column_options(["lead_id=リードID", " created_at = 作成日時 "]) == {
        "lead_id": "リードID", "created_at": "作成日時",
    }  # fmt: skip
    with pytest.raises(ValueError, match="expected CONTRACT=EXPORT"):
        parse_column_options(["リードID"])
    with pytest.raises(ValueError, match="'leadid' is not a contract column"):
        ExportFormat(columns={"leadid": "リードID"})
    with pytest.raises(ValueError, match="not an IANA time zone"):
        ExportFormat(time_zone="JST+9")


def test_the_format_round_trips_through_its_yaml(tmp_path):
    path = TOKYO.with_options(encoding="cp932", source="hubspot").save(tmp_path)
    assert ExportFormat.load(path) == TOKYO.with_options(encoding="cp932", source="hubspot")
    assert "リードID" in path.read_text(encoding="utf-8")  # written as a person reads it


def test_validate_reads_a_cp932_export_from_the_command_line(tmp_path):
    leads, activities, outcomes = export_files(tmp_path, "cp932", "\r\n")
    options = [f"--column={c}={n}" for c, n in TOKYO.columns.items()]
    result = CliRunner().invoke(app, [
        "validate", "--leads", str(leads), "--activities", str(activities),
        "--outcomes", str(outcomes), "--timezone", "Asia/Tokyo", *options,
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4" in result.output and "Traceback" not in result.output


def test_validate_without_the_mapping_is_one_line_not_a_traceback(tmp_path):
    leads = write(LEADS, tmp_path / "leads.csv", "cp932", "\r\n")
    result = CliRunner().invoke(app, ["validate", "--leads", str(leads)])
    assert result.exit_code == 2
    assert "leads.csv: missing required column 'lead_id'" in result.output
    assert "Traceback" not in result.output and "codec" not in result.output


def test_a_bom_is_not_part_of_the_first_header(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"lead_id,created_at\r\n1,2026/04/01\r\n")
    assert list(load_export(path).leads.columns) == [schema.LEAD_ID, schema.CREATED_AT]


# ------------------------------------------------------------- what a second reader tried


def test_a_gzipped_cp932_export_reads_as_the_plain_one(tmp_path, as_written_in_utf8):
    folder = tmp_path / "gz"
    folder.mkdir()
    leads = folder / "leads.csv.gz"
    LEADS.to_csv(leads, index=False, encoding="cp932", lineterminator="\r\n")
    others = export_files(tmp_path / "csv", "cp932", "\r\n")[1:]
    pd.testing.assert_frame_equal(
        load_export(leads, *others, fmt=TOKYO).leads, as_written_in_utf8.leads
    )


def test_a_semicolon_file_with_a_comma_in_a_quoted_header(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text('lead_id;"Umsatz (EUR, netto)";created_at\n1;5;2026-04-01\n')
    assert list(load_export(path).leads.columns) == [
        schema.LEAD_ID, "Umsatz (EUR, netto)", schema.CREATED_AT,
    ]  # fmt: skip


def test_a_mapped_column_beside_the_contracts_own_is_refused_not_ignored(tmp_path):
    leads = pd.DataFrame({"lead_id": [1], "created_at": ["2026-04-01"], "登録日": ["2026-04-02"]})
    with pytest.raises(ContractError, match="both 'created_at' and '登録日'"):
        load_export(write(leads, tmp_path / "leads.csv"), fmt=ExportFormat(
            columns={schema.CREATED_AT: "登録日"}
        ))  # fmt: skip


def test_a_weekday_before_a_day_first_date_follows_the_columns_order(tmp_path):
    leads = pd.DataFrame({"lead_id": [1, 2], "created_at": ["Mon 06/04/2026", "13/04/2026"]})
    created = load_export(write(leads, tmp_path / "leads.csv")).leads[schema.CREATED_AT]
    assert created.dt.strftime("%Y-%m-%d").tolist() == ["2026-04-06", "2026-04-13"]


def test_an_unsettled_order_beside_blank_and_iso_cells_names_its_rows(tmp_path):
    leads = pd.DataFrame(
        {"lead_id": [1, 2, 3, 4], "created_at": ["2026-04-06", "06/04/2026", "", "07/05/2026"]}
    )
    rows = r"at row 2 \(line 3\), row 4 \(line 5\);.*--date-format"
    with pytest.raises(ContractError, match=rows):
        load_export(write(leads, tmp_path / "leads.csv"))


def test_a_date_format_with_offsets_keeps_them(tmp_path):
    leads = pd.DataFrame(
        {"lead_id": [1, 2], "created_at": ["06/04/2026 10:00 +0900", "07/04/2026 10:00 +0000"]}
    )
    fmt = ExportFormat(date_format="%d/%m/%Y %H:%M %z")
    created = load_export(write(leads, tmp_path / "leads.csv"), fmt=fmt).leads[schema.CREATED_AT]
    assert created.tolist() == [
        pd.Timestamp("2026-04-06 01:00", tz="UTC"), pd.Timestamp("2026-04-07 10:00", tz="UTC"),
    ]  # fmt: skip


def test_a_worded_time_with_a_gmt_offset_is_refused_not_guessed(tmp_path):
    # 'GMT+9' means nine hours ahead to a person, and nine behind to POSIX parsers
    leads = pd.DataFrame(
        {"lead_id": [1, 2], "created_at": ["Apr 6 2026 10:00 GMT+9", "2026-04-06 10:00"]}
    )
    with pytest.raises(ContractError, match=r"unparseable timestamp.*row 1 \(line 2\)"):
        load_export(write(leads, tmp_path / "leads.csv"))


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("columns: [lead_id\n", r"export_format\.yaml: not readable YAML"),
        ("time_zone:\n", "time_zone is empty"),
        ("sheets:\n  deals: 商談\n", r"export_format\.yaml: sheets: 'deals' is not a table"),
        ("sheets:\n  leads:\n", "sheets must map tables to sheet names"),
    ],
)
def test_a_broken_export_format_file_is_one_clear_error(tmp_path, written, said):
    path = tmp_path / "export_format.yaml"
    path.write_text(written, encoding="utf-8")
    with pytest.raises(ValueError, match=said):
        ExportFormat.load(path)


TITLE = ["リード一覧（2026年4月）", "出力日: 2026/04/08 9:00", ""]


def titled_csv(frame: pd.DataFrame, path: Path, encoding: str = "cp932") -> Path:
    """A report as a Japanese tool or a CRM's report export writes it: a title, the export
    date and a blank line above the header."""
    lines = [*TITLE, frame.to_csv(index=False, lineterminator="\r\n")]
    path.write_bytes("\r\n".join(lines).encode(encoding))
    return path


def test_a_report_with_a_title_above_its_header_reads_as_the_plain_file(
    tmp_path, as_written_in_utf8
):
    others = export_files(tmp_path / "csv", "cp932", "\r\n")[1:]
    titled = load_export(titled_csv(LEADS, tmp_path / "leads.csv"), *others, fmt=TOKYO)
    pd.testing.assert_frame_equal(titled.leads, as_written_in_utf8.leads)
    assert "leads.csv: the header is row 4; the 3 row(s) above it hold a title" in titled.notes[0]

    book = tmp_path / "leads.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"title": TITLE}).to_excel(writer, index=False, header=False)
        LEADS.to_excel(writer, index=False, startrow=len(TITLE))
    from_excel = load_export(book, *others, fmt=TOKYO)
    assert from_excel.leads[schema.LEAD_ID].tolist() == [1001, 1002, 1003, 1004]
    assert from_excel.leads["役職"].tolist() == LEADS["役職"].tolist()


def test_a_bad_cell_below_a_title_is_named_by_the_line_the_user_sees(tmp_path):
    leads = LEADS.assign(作成日時=["2026/04/01 9:05", "2026/04/02", "yesterday", "2026/04/04"])
    with pytest.raises(ContractError) as error:
        load_export(titled_csv(leads, tmp_path / "leads.csv"), fmt=TOKYO)
    assert "row 3 (line 7)" in str(error.value)  # 3 title lines, the header, two rows


def test_a_plain_file_whose_first_rows_are_sparse_is_not_taken_for_a_title(tmp_path):
    sparse = pd.DataFrame(
        {"lead_id": ["1", "2", "3"], "created_at": ["2026-04-01", "2026-04-02", "2026-04-03"],
         "役職": [None, None, "部長"], "従業員数": [None, "35", None]}
    )  # fmt: skip
    export = load_export(write(sparse, tmp_path / "leads.csv"))
    assert export.leads[schema.LEAD_ID].tolist() == [1, 2, 3] and not export.notes


def test_a_flat_report_reads_its_creation_time_by_name_and_says_so(tmp_path):
    """A CRM report names its creation time 作成日時 or 'Created Date', not created_at: read
    as the creation time when its name says so and every row holds a time, never when two
    columns could be it."""
    flat = LEADS.assign(商談化=["1", "0", "0", "1"]).rename(columns={"リードID": "顧客番号"})
    loaded = load_flat(write(flat, tmp_path / "flat.csv"), "商談化", id_column="顧客番号",
                       fmt=ExportFormat(time_zone="Asia/Tokyo"))  # fmt: skip
    assert loaded.created_from == "作成日時"
    assert loaded.leads[schema.CREATED_AT].iloc[0] == pd.Timestamp("2026-04-01 00:05", tz="UTC")
    assert any("'作成日時' is when each lead was created" in note for note in loaded.notes)
    dropped = load_flat(tmp_path / "flat.csv", "商談化", drop=["作成日時"])
    assert dropped.created_from is None and "作成日時" in dropped.leads.columns
    two = flat.assign(登録日=flat["作成日時"])
    undecided = load_flat(write(two, tmp_path / "two.csv"), "商談化")
    assert undecided.created_from is None and schema.CREATED_AT not in undecided.leads.columns
    assert any("--column created_at=NAME" in note for note in undecided.notes)
    text = flat.assign(作成日時=["昨日", "今日", "", "先週"])  # a name alone is not enough
    assert load_flat(write(text, tmp_path / "text.csv"), "商談化").created_from is None


def test_a_conversion_date_is_a_label_and_leads_too_recent_to_convert_are_not_judged(tmp_path):
    """HubSpot and Salesforce report a conversion as its date. A date is 1, empty 0; but a
    lead created days before the export had no time to convert yet, and an empty date would
    teach that it never does: leads younger than the time 90% of converters take are left
    unlabelled, and the run says how many and why."""
    contacts = hubspot_contacts()
    path = write(contacts, tmp_path / "contacts.csv")
    label = "Became a Sales Qualified Lead Date"
    loaded = load_flat(path, label, id_column="Record ID")
    dated = contacts[label] != ""
    created = pd.to_datetime(contacts["Create Date"], utc=True)
    converted = pd.to_datetime(contacts[label][dated], utc=True)
    days = (converted - created[dated]).dt.total_seconds() / 86_400
    window = np.ceil(days.quantile(0.9))  # 90% of converters, in whole days
    end = max(created.max(), converted.max())
    assert loaded.created_from == "Create Date"
    recent = loaded.label.isna().to_numpy()
    np.testing.assert_array_equal(recent, created > end - pd.Timedelta(days=window))
    assert 0 < recent.sum() < len(contacts) / 10
    assert (loaded.label[~recent] == dated[~recent].astype(int).to_numpy()).all()
    assert any(f"within {window:g} days" in note and f"{int(recent.sum())} leads created in the"
               in note for note in loaded.notes)  # fmt: skip
    few = contacts.assign(**{label: contacts[label].where(contacts.index < 40, "")})
    loaded = load_flat(write(few, tmp_path / "few.csv"), label)
    assert not loaded.label.isna().any()  # under 20 dated converters: no window is read
    assert any("too few to tell how long converting takes" in note for note in loaded.notes)
    undated = write(contacts.drop(columns=["Create Date"]), tmp_path / "undated.csv")
    plain = load_flat(undated, label)
    assert plain.label.tolist() == dated.astype(int).tolist()
    assert any("without created_at" in note for note in plain.notes)
    mixed = contacts.assign(**{label: contacts[label].where(dated, "no")})
    with pytest.raises(ContractError, match="label with values other than the two classes"):
        load_flat(write(mixed, tmp_path / "mixed.csv"), label)


def test_a_label_in_words_of_its_own_names_the_fix_and_then_reads_as_told(tmp_path):
    """A Japanese SFA writes 受注/失注 (won/lost), a CRM Won/Lost/Open: no 0/1 form to read.
    The error offers both readings; --positive says which value means converted, compared as
    folded text, and every other value is 0, which the run says."""
    flat = LEADS.assign(商談結果=["受注", "失注", "失注", "受注"])
    path = write(flat, tmp_path / "flat.csv", "cp932", "\r\n")
    with pytest.raises(ContractError) as error:
        load_flat(path, "商談結果", fmt=TOKYO)
    assert "--positive '受注' or --positive '失注'" in str(error.value)
    loaded = load_flat(path, "商談結果", fmt=TOKYO, positive="受注")
    assert loaded.label.tolist() == [1, 0, 0, 1]
    assert "'商談結果': '受注' is 1, every other value 0 (失注)" in loaded.notes
    crm = LEADS.assign(Stage=["Won", "Lost", "Open", "won"])
    loaded = load_flat(write(crm, tmp_path / "crm.csv"), "Stage", fmt=TOKYO, positive="WON")
    assert loaded.label.tolist() == [1, 0, 0, 1]
    with pytest.raises(ContractError, match="--positive 'Closed Won' is not a value of the label"):
        load_flat(tmp_path / "crm.csv", "Stage", fmt=TOKYO, positive="Closed Won")
    # an open deal is neither won nor lost: with --negative it is undecided, not a loss
    judged = load_flat(tmp_path / "crm.csv", "Stage", fmt=TOKYO, positive="Won",
                       negative=["Lost"])  # fmt: skip
    assert judged.label.tolist()[:2] == [1, 0] and np.isnan(judged.label.iloc[2])
    assert judged.label.iloc[3] == 1
    assert "'Stage': 'Won' is 1, 'Lost' 0; the 1 leads of other values (Open) are undecided" in (
        " ".join(judged.notes)
    )
    with pytest.raises(ContractError, match="--negative without --positive"):
        load_flat(tmp_path / "crm.csv", "Stage", fmt=TOKYO, negative=["Lost"])
    result = CliRunner().invoke(app, ["validate", "--leads", str(tmp_path / "crm.csv"),
                                      "--positive", "Won"])  # fmt: skip
    assert result.exit_code == 2 and "flat mode only" in result.output
    inferred = CliRunner().invoke(app, [
        "spec", "infer", "--leads", str(path), "--label", "商談結果", "--positive", "受注",
        "--drop", "従業員数", "--out", str(tmp_path / "spec.yaml"),
    ])  # fmt: skip
    assert inferred.exit_code == 0, inferred.output
    assert "従業員数" not in (tmp_path / "spec.yaml").read_text(encoding="utf-8")


def test_blank_rows_a_spreadsheet_left_at_the_end_are_not_leads(tmp_path, as_written_in_utf8):
    """Excel keeps rows someone once touched after the data (``,,,`` in its CSV): they hold
    nothing and are left out, said; a blank row between leads is still named."""
    others = export_files(tmp_path / "csv", "utf-8")[1:]
    path = tmp_path / "leads.csv"
    path.write_text(LEADS.to_csv(index=False) + ",,,\n , ,,\n", encoding="utf-8")
    export = load_export(path, *others, fmt=TOKYO)
    pd.testing.assert_frame_equal(export.leads, as_written_in_utf8.leads)
    assert "leads.csv: its last 2 row(s) have no value in any cell and were left out" in (
        export.notes
    )
    middle = pd.concat([LEADS.iloc[:2], pd.DataFrame([{}]), LEADS.iloc[2:]], ignore_index=True)
    with pytest.raises(ContractError, match=r"empty value in column 'lead_id' at row 3 \(line 4\)"):
        load_export(write(middle, tmp_path / "middle.csv"), *others, fmt=TOKYO)


def test_a_comma_file_whose_cells_hold_semicolon_lists_stays_comma_separated(tmp_path):
    """HubSpot writes a multi-select property as 'a;b;c' inside a comma file: such cells split
    wider on semicolons than the header does, and must not decide the separator."""
    leads = pd.DataFrame({
        "lead_id": ["1", "2", "3", "4"],
        "created_at": ["2026-04-01", "2026-04-02", "2026-04-03", "2026-04-04"],
        "Interests": ["crm;sales;ai;cloud;data", "crm;ai;cloud;data;web", "a;b;c;d;e", "x;y;z;w;v"],
        "Industry": ["IT", "Retail", "IT", "Finance"],
    })  # fmt: skip
    export = load_export(write(leads, tmp_path / "leads.csv"))
    columns = [schema.LEAD_ID, schema.CREATED_AT, "Interests", "Industry"]
    assert list(export.leads.columns) == columns
    assert export.leads["Interests"].iloc[0] == "crm;sales;ai;cloud;data" and not export.notes


def test_a_totals_row_at_the_end_of_a_report_is_not_a_lead(tmp_path, as_written_in_utf8):
    """A Japanese Excel report ends in a 合計 row (an English one in 'Total'): read as data
    it would be a lead named 合計, scored beside the rest."""
    others = export_files(tmp_path / "csv", "utf-8")[1:]
    book = tmp_path / "leads.xlsx"
    totals = pd.DataFrame([{"リードID": "合計", "従業員数": "4155"}])
    pd.concat([LEADS, pd.DataFrame([{}]), totals]).to_excel(book, index=False)
    export = load_export(book, *others, fmt=TOKYO)
    assert export.leads[schema.LEAD_ID].tolist() == [1001, 1002, 1003, 1004]
    assert "leads.xlsx: its last row is a totals row ('合計') and was left out" in export.notes
