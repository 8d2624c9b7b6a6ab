"""Administrative and management boundaries: town, villages, streets, lanes, barriers, grids."""
