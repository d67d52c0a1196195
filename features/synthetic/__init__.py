"""A synthetic Marketo/HubSpot-style export whose generative story is known: the stand-in for a
real export, so every later stage can be tested against a truth a real export never reveals.

The generative story, lead by lead (times are days since ``config.start``; ``export_at`` is the
end of the period and censors everything):

1. **Accounts and leads.** Accounts carry industry, employee band, region and revenue; about
   ``leads_per_account`` leads share each account. Leads arrive across the period with inflow
   growing by ``lead_volume_growth``; lead_id rises with created_at. The channel (``source``)
   drifts: paid social grows from ``paid_social_share_start`` to ``paid_social_share_end`` and
   brings more students, job seekers and low engagement, so the label rate falls over time.
2. **Fit.** ``fit_logit`` adds effects of the clean department, job level, employee band,
   industry and source, a job-seeker penalty, an account effect (some accounts are in market)
   and lead noise. The export shows messy copies of these attributes, never the clean values.
3. **Intent episode.** With ``p_intent_episode = sigmoid(intent_episode_intercept +
   intent_episode_fit_slope * fit_logit)`` a lead has one buying episode of strength
   ``intent_strength`` (log-normal, median 1), starting right after creation for a share
   ``in_market_at_creation_share`` of episodes and otherwise after an exponential delay
   (``intent_delay_mean_days``), lasting a log-normal time around ``intent_duration_median_days``.
   During the episode activity rises in proportion to the strength and shifts to high-intent
   actions (pricing, case studies, product pages, bottom-of-funnel content, webinars).
4. **Hand-off.** Two paths hand a lead to sales. (A) A lead with an episode raises a hand
   (demo or quote request, contact form, webinar attendance) with ``p_hand_raise =
   sigmoid(hand_raise_intercept + 0.4 * fit_logit + log(intent_strength))`` at ``hand_raise_at``,
   inside the episode. (B) A lead without a hand-raise may cross the marketing score threshold
   with ``p_score_handoff = sigmoid(logit(score_handoff_share) + 0.7 * fit_logit)`` at
   ``score_handoff_at``. Either way ``mql_at`` follows within hours and ``first_contact_at =
   mql_at + follow_up_delay_hours`` (log-normal; every lead has a delay drawn, used if handed off).
5. **Qualification.** A handed-off lead becomes SQL with ``p_qualify = sigmoid(intercept +
   0.6 * fit_logit + delay_logit_penalty)``, where the intercept is ``qualify_intercept`` on
   path A and ``score_qualify_intercept`` on path B, and ``delay_logit_penalty =
   -delay_decay_per_day * follow_up_delay_hours / 24``: a slow follow-up costs conversions.
   ``sql_due_at`` is ``first_contact_at`` plus a qualification lag (median 36 h); ``won_at``
   follows for a share of SQLs. Outcome timestamps after ``export_at`` are censored to NaT.
6. **The trap.** Sales calls and meetings are logged only after ``sql_at``; a pipeline that
   reads past its cutoff learns the label from them.

``true_p_sql`` is the probability of ever becoming SQL (ignoring the export's censoring) given
the latent state of steps 1-3 and the follow-up delay: ``p_hand_raise * p_qualify_hand_raise +
(1 - p_hand_raise) * p_score_handoff * p_qualify_score`` (``p_hand_raise`` is 0 without an
episode). For "SQL within H days of cutoff c" for a lead not yet SQL at c, the sharpest oracle
knows the path taken and its timing: ``p_qualify_path * 1[c < sql_due_at <= c + H]``, with
``p_qualify_path`` the column of the path taken (``hand_raised`` or ``score_handoff``) and 0
when neither was; ``converts`` is the coin that decided it. A softer oracle integrates the
timing distributions above from the parameters in ``truth`` and :class:`SimulationConfig`.
In ``truth``, ``hand_raise_at`` is set for every lead with an episode (when it would raise a
hand; ``hand_raised`` says whether it did) and ``sql_due_at`` for every handed-off lead (when it
would become SQL; ``converts`` says whether it did); neither is censored by the export.
"""

from __future__ import annotations

from leadscore.features.synthetic.config import DRIFTING_CHANNEL_MIX, SimulationConfig
from leadscore.features.synthetic.export import write_world
from leadscore.features.synthetic.world import SyntheticWorld, simulate

__all__ = ["DRIFTING_CHANNEL_MIX", "SimulationConfig", "SyntheticWorld", "simulate", "write_world"]
