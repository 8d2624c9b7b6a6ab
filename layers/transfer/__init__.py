"""File import and export of the territory layers (GeoJSON, GeoPackage, Shapefile, CSV)."""

from layers.transfer.exporter import export_layer
from layers.transfer.importer import import_layer
from layers.transfer.reader import TransferError, read_file

__all__ = ["TransferError", "export_layer", "import_layer", "read_file"]
