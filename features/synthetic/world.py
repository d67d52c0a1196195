"""A simulated world from a seed and the knobs: the MA export and the hidden truth behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadscore.features.synthetic.activities import _activity_frame, _draw_activities
from leadscore.features.synthetic.catalog import _build_catalog
from leadscore.features.synthetic.companies_and_people import _draw_people
from leadscore.features.synthetic.config import SimulationConfig
from leadscore.features.synthetic.journeys import _draw_journey
from leadscore.features.synthetic.lead_table import _lead_frame
from leadscore.features.synthetic.outcomes import _outcome_frame, _truth_frame


@dataclass(frozen=True)
class SyntheticWorld:
    """An MA export (leads, activities, outcomes) and the hidden truth that generated it."""

    leads: pd.DataFrame
    activities: pd.DataFrame
    outcomes: pd.DataFrame
    truth: pd.DataFrame
    export_at: pd.Timestamp


def simulate(n_leads: int, seed: int, config: SimulationConfig | None = None) -> SyntheticWorld:
    """Simulate an MA export of `n_leads` leads; the same seed always gives the same world.

    Vectorised throughout (no loop over leads), so a million leads and some fifty million
    activities take minutes and a few GB. :mod:`leadscore.features.synthetic` tells the story.
    """
    if n_leads < 1:
        raise ValueError(f"n_leads is {n_leads}; expected at least one lead")
    config = config or SimulationConfig()
    period = (config.export_at - config.start) / pd.Timedelta(days=1)
    catalog = _build_catalog(config, period)
    people_rng, journey_rng, lead_rng, activity_rng = np.random.default_rng(seed).spawn(4)

    people = _draw_people(people_rng, n_leads, config, catalog, period)
    lead_ids = 100_000 + np.cumsum(people_rng.geometric(0.85, n_leads)).astype(np.int64)
    journey = _draw_journey(journey_rng, people, config)
    leads = _lead_frame(lead_rng, people, config, lead_ids)
    activities = _activity_frame(
        _draw_activities(activity_rng, people, journey, config, catalog, period),
        lead_ids,
        catalog,
        config.start,
    )
    return SyntheticWorld(
        leads=leads,
        activities=activities,
        outcomes=_outcome_frame(journey, lead_ids, config.start, period),
        truth=_truth_frame(journey, people, lead_ids, config.start),
        export_at=config.export_at,
    )
