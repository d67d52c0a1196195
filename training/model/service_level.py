"""The follow-up service level sales promises marketing: first contact within so many hours.

One number, in a module without dependencies, because the command line shows it as an option's
default and must not load the scoring stack to do so. The policy (:mod:`.policy`) carries the
SLA it was tuned for; this is the one it gets when nobody named another.
"""

from __future__ import annotations

from typing import Final

DEFAULT_SLA_HOURS: Final = 24.0
"""The first-contact SLA of a policy that names none (the first ones did not)."""
