"""Domain layers: models, queries, validation and analysis per map layer. No Flask here."""
