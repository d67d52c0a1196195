"""Column names and activity vocabulary of the MA export: the one place these facts live.

Every module that reads or writes a lead, an activity or an outcome imports its column names
from here, so a renamed column is a one-line change and never drifts between training and serving.
"""

from __future__ import annotations

from typing import Final

import pandas as pd


def utc_timestamp(moment: object) -> pd.Timestamp:
    """A moment as a UTC timestamp: one without a time zone is UTC (the data contract)."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


# leads table
LEAD_ID: Final = "lead_id"
CREATED_AT: Final = "created_at"

# activities table
OCCURRED_AT: Final = "occurred_at"
ACTIVITY_TYPE: Final = "activity_type"
DETAIL: Final = "detail"

# outcomes table
SQL_AT: Final = "sql_at"
MQL_AT: Final = "mql_at"
FIRST_CONTACT_AT: Final = "first_contact_at"
WON_AT: Final = "won_at"

LEAD_REQUIRED: Final = (LEAD_ID, CREATED_AT)
ACTIVITY_REQUIRED: Final = (LEAD_ID, OCCURRED_AT, ACTIVITY_TYPE)
ACTIVITY_OPTIONAL: Final = (DETAIL,)
OUTCOME_REQUIRED: Final = (LEAD_ID, SQL_AT)
OUTCOME_OPTIONAL: Final = (MQL_AT, FIRST_CONTACT_AT, WON_AT)
OUTCOME_TIMESTAMPS: Final = (SQL_AT, *OUTCOME_OPTIONAL)

# the training set: one row per lead and cutoff (the moment a score would have been asked for),
# its features as of that moment, and whether the lead became an SQL within the spec's horizon
CUTOFF_AT: Final = "cutoff_at"
LABEL: Final = "label"
SPLIT: Final = "split"
SPLITS: Final = ("train", "validation", "test")  # in time order: the test period is the latest

# the contract's own columns of each file, which an export may name in its own words
CONTRACT_COLUMNS: Final = {
    "leads": LEAD_REQUIRED,
    "activities": (*ACTIVITY_REQUIRED, *ACTIVITY_OPTIONAL),
    "outcomes": (LEAD_ID, *OUTCOME_TIMESTAMPS),
}


class Activity:
    """Activity types of the canonical vocabulary, as the simulator writes them.

    A real export may use other names; the rulebook and the feature spec refer to activity types
    by their string value, so these constants only spare the simulator, the default rulebook and
    the reason catalog from spelling the same string three times.
    """

    EMAIL_OPEN: Final = "email_open"
    EMAIL_CLICK: Final = "email_click"
    EMAIL_BOUNCE: Final = "email_bounce"
    UNSUBSCRIBE: Final = "unsubscribe"
    PAGE_VIEW: Final = "page_view"
    CONTENT_DOWNLOAD: Final = "content_download"
    WEBINAR_REGISTERED: Final = "webinar_registered"
    WEBINAR_ATTENDED: Final = "webinar_attended"
    TRADESHOW_SCAN: Final = "tradeshow_scan"
    FORM_SUBMIT: Final = "form_submit"
    DEMO_REQUEST: Final = "demo_request"
    QUOTE_REQUEST: Final = "quote_request"
    # Sales-side activities: logged by the CRM only after sales took the lead, so they leak the
    # outcome. The simulator writes them on purpose; the feature pipeline must never see them
    # before the cutoff they would leak into.
    SALES_CALL: Final = "sales_call"
    SALES_MEETING: Final = "sales_meeting"

    SALES_SIDE: Final = (SALES_CALL, SALES_MEETING)
