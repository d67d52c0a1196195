"""The synthetic MA world, as someone who builds and judges a lead scorer on it relies on it."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.features import schema
from leadscore.features.contract import load_export
from leadscore.features.schema import Activity
from leadscore.features.synthetic import SimulationConfig, SyntheticWorld, simulate, write_world

DEPARTMENT_VARIANTS = {"it", " IT ", "I.T.", "Information Technology"}


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return simulate(3000, seed=5)


@pytest.fixture(scope="module")
def converted(world: SyntheticWorld) -> pd.Series:
    """Whether each lead (in leads order) became SQL before the export."""
    outcomes = world.outcomes.set_index(schema.LEAD_ID)
    return outcomes[schema.SQL_AT].notna().reindex(world.leads[schema.LEAD_ID])


def assert_same_world(a: SyntheticWorld, b: SyntheticWorld) -> None:
    for name in ("leads", "activities", "outcomes", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.export_at == b.export_at


def test_the_same_seed_gives_the_same_world_and_another_seed_a_different_one(world):
    assert_same_world(world, simulate(3000, seed=5))
    other = simulate(3000, seed=6)
    assert not other.truth["true_p_sql"].equals(world.truth["true_p_sql"])
    assert len(other.activities) != len(world.activities)


def test_each_lead_appears_once_with_an_integer_id_and_a_utc_creation_time(world):
    leads = world.leads
    assert leads[schema.LEAD_ID].dtype == "int64"
    assert leads[schema.LEAD_ID].is_unique
    assert str(leads[schema.CREATED_AT].dt.tz) == "UTC"
    assert leads[schema.CREATED_AT].is_monotonic_increasing
    assert leads[schema.CREATED_AT].max() < world.export_at


def test_leads_of_one_account_share_its_firmographics(world):
    leads = world.leads
    per_account = len(leads) / leads["account_id"].nunique()
    assert 2.0 < per_account < 4.0
    region_count = leads.groupby("account_id")["region"].nunique()
    assert (region_count == 1).all()


def test_every_activity_belongs_to_a_known_lead_and_falls_between_creation_and_export(world):
    activities = world.activities
    created = activities[schema.LEAD_ID].map(
        world.leads.set_index(schema.LEAD_ID)[schema.CREATED_AT]
    )
    assert created.notna().all(), "an activity of an unknown lead"
    assert (activities[schema.OCCURRED_AT] >= created).all()
    assert (activities[schema.OCCURRED_AT] <= world.export_at).all()


def test_activity_types_come_from_the_canonical_vocabulary_and_are_stored_compactly(world):
    activities = world.activities
    assert isinstance(activities[schema.ACTIVITY_TYPE].dtype, pd.CategoricalDtype)
    assert isinstance(activities[schema.DETAIL].dtype, pd.CategoricalDtype)
    vocabulary = {v for k, v in vars(Activity).items() if k.isupper() and isinstance(v, str)}
    assert set(activities[schema.ACTIVITY_TYPE].unique()) <= vocabulary
    assert 20 < len(activities) / len(world.leads) < 100


def test_sales_calls_and_meetings_only_happen_after_the_lead_became_sql(world):
    activities = world.activities
    sales = activities[activities[schema.ACTIVITY_TYPE].isin(Activity.SALES_SIDE)]
    assert len(sales) > 0
    sql_at = sales[schema.LEAD_ID].map(world.outcomes.set_index(schema.LEAD_ID)[schema.SQL_AT])
    assert sql_at.notna().all(), "a sales activity for a lead that never became SQL"
    assert (sales[schema.OCCURRED_AT] > sql_at).all()


def test_outcomes_have_one_row_per_lead_and_nothing_after_the_export(world):
    outcomes = world.outcomes
    assert outcomes[schema.LEAD_ID].is_unique
    assert set(outcomes[schema.LEAD_ID]) == set(world.leads[schema.LEAD_ID])
    for column in schema.OUTCOME_TIMESTAMPS:
        assert (outcomes[column].dropna() <= world.export_at).all(), column
    handed_off = outcomes[outcomes[schema.SQL_AT].notna()]
    assert handed_off[schema.MQL_AT].notna().all()
    assert (handed_off[schema.FIRST_CONTACT_AT] >= handed_off[schema.MQL_AT]).all()
    assert (handed_off[schema.SQL_AT] > handed_off[schema.FIRST_CONTACT_AT]).all()


def test_a_plausible_share_of_leads_becomes_sql(converted):
    assert 0.04 <= converted.mean() <= 0.12


def test_the_hidden_true_probability_ranks_converters_far_above_the_rest(world, converted):
    truth = world.truth.set_index(schema.LEAD_ID).reindex(world.leads[schema.LEAD_ID])
    assert roc_auc_score(converted, truth["true_p_sql"]) > 0.75


def test_converters_view_pricing_and_request_demos_more_often(world, converted):
    activities = world.activities
    converters = set(world.leads.loc[converted.to_numpy(), schema.LEAD_ID])
    of_converter = activities[schema.LEAD_ID].isin(converters)
    n_converters, n_others = len(converters), len(world.leads) - len(converters)
    for is_signal in (
        activities[schema.DETAIL] == "/pricing",
        activities[schema.ACTIVITY_TYPE] == Activity.DEMO_REQUEST,
    ):
        per_converter = (is_signal & of_converter).sum() / n_converters
        per_other = (is_signal & ~of_converter).sum() / n_others
        assert per_converter > 2 * per_other


def test_a_slow_follow_up_lowers_the_chance_of_sql():
    truth = simulate(20_000, seed=3).truth
    handed_off = truth[truth["hand_raised"]]
    fast = handed_off[handed_off["follow_up_delay_hours"] < 12]["converts"].mean()
    slow = handed_off[handed_off["follow_up_delay_hours"] > 72]["converts"].mean()
    assert fast > slow + 0.1


def test_paid_social_grows_over_the_period_and_the_sql_rate_falls_with_it():
    world = simulate(10_000, seed=2)
    leads = world.leads
    early = leads[schema.CREATED_AT] < leads[schema.CREATED_AT].quantile(0.25)
    late = leads[schema.CREATED_AT] > leads[schema.CREATED_AT].quantile(0.75)
    paid_social = leads["source"] == "paid_social"
    assert paid_social[late].mean() > paid_social[early].mean() + 0.15
    would_convert = world.truth["converts"].to_numpy()
    assert would_convert[late.to_numpy()].mean() < would_convert[early.to_numpy()].mean()


def test_the_export_is_messy_like_a_real_one(world):
    leads = world.leads
    assert leads["job_level"].isna().mean() > 0.1
    assert (leads["job_level"] == "Select").any()
    assert set(leads["department"].dropna()) & DEPARTMENT_VARIANTS
    assert (leads["department"] == "IT").any()
    assert leads["annual_revenue_musd"].isna().mean() > 0.3
    assert leads["industry"].str.islower().fillna(False).any()


def test_personal_data_looks_real_but_uses_reserved_domains(world):
    emails = world.leads["email"]
    assert emails.str.fullmatch(r"[a-z.\-]+\d*@[a-z\-]+\.example").all()
    assert world.leads["first_name"].notna().all()


def test_written_world_has_parquet_files_and_a_duckdb_with_the_same_row_counts(world, tmp_path):
    paths = write_world(world, tmp_path)
    with duckdb.connect(str(paths["warehouse"]), read_only=True) as connection:
        for name in ("leads", "activities", "outcomes", "truth"):
            frame = getattr(world, name)
            assert len(pd.read_parquet(paths[name])) == len(frame)
            (rows,) = connection.execute(f"SELECT count(*) FROM {name}").fetchone()
            assert rows == len(frame), name


def test_the_written_export_passes_the_data_contract(world, tmp_path):
    paths = write_world(world, tmp_path)
    export = load_export(paths["leads"], paths["activities"], paths["outcomes"])
    assert len(export.leads) == len(world.leads)
    assert {"email", "first_name", "last_name", "phone"} <= set(export.personal_data)


def test_a_config_with_an_impossible_share_names_the_field():
    with pytest.raises(ValueError, match="paid_social_share_end"):
        SimulationConfig(paid_social_share_end=1.5)


def test_a_shorter_period_moves_the_export_date():
    world = simulate(500, seed=1, config=SimulationConfig(months=6))
    assert world.export_at == pd.Timestamp("2025-07-01", tz="UTC")
    assert np.all(world.activities[schema.OCCURRED_AT] <= world.export_at)
