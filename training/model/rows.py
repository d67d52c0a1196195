"""Feature rows as named arrays: what every scoring step reads, from a file or from a webhook.

Batch scoring hands the scorer a DataFrame of millions of rows; the service hands it the one
row an MA system just posted. pandas costs about 10 µs per column access and 100 µs per
``reindex`` whatever the number of rows, and a scoring pass reads some ninety columns a few
times over: for one lead that bookkeeping was most of the latency. ``FeatureRows`` gives both
callers the same small set of reads - numbers, category levels, raw values - so the scorer,
the rules and the explanations run one code path over arrays. A DataFrame is read with the
same pandas conversions as before (so batch results do not move); the online path's object
block is read with the equivalent NumPy operations. ``tests/model/test_feature_rows.py`` holds
the two reads equal on random rows, and the serving tests hold HTTP and file scoring equal (to
1e-9, and exactly for scores, tiers and reasons).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd


class FeatureRows:
    """Rows of named feature columns, backed by a DataFrame or by a (rows x names) object block."""

    __slots__ = ("_block", "_frame", "_position", "names")

    def __init__(
        self,
        *,
        frame: pd.DataFrame | None = None,
        block: np.ndarray | None = None,
        names: Sequence[str] = (),
    ) -> None:
        if (frame is None) == (block is None):
            raise ValueError("give either a DataFrame or an object block with its names")
        self._frame = frame
        self._block = block
        self.names: tuple[str, ...] = tuple(frame.columns if frame is not None else names)
        self._position = {name: j for j, name in enumerate(self.names)}

    @classmethod
    def of(cls, rows: pd.DataFrame | FeatureRows) -> FeatureRows:
        return rows if isinstance(rows, FeatureRows) else cls(frame=rows)

    @classmethod
    def from_block(cls, block: np.ndarray, names: Sequence[str]) -> FeatureRows:
        """Rows from an object block whose columns are ``names``; values kept as given."""
        if block.ndim != 2 or block.shape[1] != len(names):
            raise ValueError(f"block of shape {block.shape} for {len(names)} names")
        return cls(block=block, names=names)

    def __len__(self) -> int:
        return len(self._block) if self._block is not None else len(self._frame)  # type: ignore[arg-type]

    def __contains__(self, name: object) -> bool:
        return name in self._position

    @property
    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (from a block: one object block, types as given)."""
        if self._frame is None:
            self._frame = pd.DataFrame(self._block, columns=_columns(self.names), dtype=object)
        return self._frame

    @property
    def index(self) -> pd.Index:
        return pd.RangeIndex(len(self)) if self._block is not None else self.frame.index

    def _sub_block(self, names: Sequence[str], absent: object) -> np.ndarray:
        """A copy of the block's columns ``names``, absent ones filled with ``absent``."""
        assert self._block is not None
        positions = [self._position.get(name) for name in names]
        if None not in positions:
            return self._block[:, positions]  # fancy indexing copies
        out = np.full((len(self._block), len(names)), absent, dtype=object)
        for j, at in enumerate(positions):
            if at is not None:
                out[:, j] = self._block[:, at]
        return out

    def raw(self, names: Sequence[str]) -> np.ndarray:
        """(rows x names) object array of the values as stored; every name must be present."""
        if self._block is not None:
            return self._block[:, [self._position[n] for n in names]]
        assert self._frame is not None
        return self._frame[list(names)].to_numpy(dtype=object)

    def numbers(self, names: Sequence[str]) -> np.ndarray:
        """(rows x names) floats; empty values and absent columns are NaN."""
        if self._block is not None:  # the conversion pandas makes: None is NaN, text parsed
            return self._sub_block(names, np.nan).astype(float)
        assert self._frame is not None
        return self._frame.reindex(columns=list(names)).to_numpy(dtype=float, na_value=np.nan)

    def levels(self, names: Sequence[str]) -> np.ndarray:
        """(rows x names) objects; empty values and absent columns are None."""
        if self._block is not None:
            values = self._sub_block(names, None)
        else:
            assert self._frame is not None
            values = self._frame.reindex(columns=list(names)).to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None  # a copy: pandas hands out read-only views
        return values


@lru_cache(maxsize=8)
def _columns(names: tuple[str, ...]) -> pd.Index:
    """Column labels as a plain object index, made once: pandas infers a string dtype for a
    list of labels, which costs more than the rest of a one-row frame."""
    return pd.Index(names, dtype=object)
