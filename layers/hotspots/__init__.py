"""Hazard hotspot analyses (Gi*, KDE, emerging hotspots) and their stored runs."""
