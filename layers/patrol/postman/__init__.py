"""Cover routes: the exact Chinese postman tour, and the rural postman for assigned lanes.

* :mod:`~layers.patrol.postman.cover`: walking every lane and returning to the
  base (undirected Chinese postman, exact), one closed walk per connected part;
* :mod:`~layers.patrol.postman.rural`: walking only the assigned lanes (a
  grid's, say), using the others just to get between them (rural postman):
  Frederickson's construction with a proved lower bound;
* :mod:`~layers.patrol.postman.exact`: the rural postman solved exactly on the
  reduced graph by an integer programme with connection cuts, within a CPU
  budget.
"""

from layers.patrol.postman.cover import CoverPart, CoverRoute, chinese_postman
from layers.patrol.postman.exact import ExactResult
from layers.patrol.postman.rural import RuralRoute, rural_postman

__all__ = [
    "CoverPart",
    "CoverRoute",
    "ExactResult",
    "RuralRoute",
    "chinese_postman",
    "rural_postman",
]
