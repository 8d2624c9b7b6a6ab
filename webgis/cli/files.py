"""``wangge import`` and ``wangge export``: files in and out of the layers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from webgis.cli.root import _session, cli


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option(
    "--layer",
    required=True,
    type=click.Choice(["villages", "streets", "lanes", "grids", "households"]),
)
@click.option("--encoding", help="Text encoding of a Shapefile's DBF, e.g. GBK.")
@click.option("--crs", "source_crs", help="Override the file's CRS, e.g. EPSG:4326 or gcj02.")
def import_file(file: Path, layer: str, encoding: str | None, source_crs: str | None) -> None:
    """Import FILE (GeoJSON, GeoPackage, Shapefile, CSV with lon/lat) into LAYER."""
    from layers.transfer import TransferError, import_layer

    with _session() as s:
        try:
            report = import_layer(s, file, layer, encoding=encoding, source_crs=source_crs)
        except TransferError as exc:
            raise click.ClickException(str(exc)) from exc
        s.commit()
    click.echo(json.dumps(report, ensure_ascii=False))


@cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--layer",
    required=True,
    type=click.Choice(
        ["villages", "streets", "lanes", "grids", "households", "captain_areas", "incidents"]
    ),
)
def export_file(file: Path, layer: str) -> None:
    """Export LAYER to FILE; the format follows the extension (.gpkg .geojson .shp .csv)."""
    from layers.transfer import TransferError, export_layer

    with _session() as s:
        try:
            count = export_layer(s, file, layer)
        except TransferError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"layer": layer, "file": str(file), "features": count}))
