"""The demo township: deterministic synthetic data for demonstrations and tests.

``generate()`` returns a :class:`DemoTownship` of plain (Geo)DataFrames in
EPSG:4490; ``layers.demo.load`` writes it to the database. Modules: ``names``
(fake names, phones, ID numbers), ``village`` (one village's plan), ``layout``
(placement, river, road, towns), ``people`` (persons and roles), ``incidents``
(incidents and status histories), ``generate`` (the assembly).
"""

from layers.demo.generate import DemoTownship, generate

__all__ = ["DemoTownship", "generate"]
