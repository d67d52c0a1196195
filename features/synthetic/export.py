"""A world written as an export: one Parquet file per table, and all of them in one DuckDB file."""

from __future__ import annotations

from pathlib import Path

from leadscore.features.synthetic.world import SyntheticWorld


def write_world(world: SyntheticWorld, out_dir: Path) -> dict[str, Path]:
    """Write each table as Parquet and all of them into one embedded DuckDB file.

    The DuckDB file (key ``warehouse``) lets the feature builder and a data scientist query the
    export with SQL at once; tables load from Arrow, not row by row, so fifty million activities
    take seconds. Returns table name -> Parquet path, plus ``warehouse`` -> DuckDB path.
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "leads": world.leads,
        "activities": world.activities,
        "outcomes": world.outcomes,
        "truth": world.truth,
    }
    warehouse = out_dir / "world.duckdb"
    for stale in (warehouse, out_dir / "world.duckdb.wal"):
        stale.unlink(missing_ok=True)
    paths: dict[str, Path] = {}
    with duckdb.connect(str(warehouse)) as connection:
        for name, frame in tables.items():
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            paths[name] = out_dir / f"{name}.parquet"
            pq.write_table(arrow, paths[name], compression="zstd")
            connection.register("incoming", arrow)
            connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
            connection.unregister("incoming")
            del arrow
    paths["warehouse"] = warehouse
    return paths
