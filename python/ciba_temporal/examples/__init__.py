"""Sample agents built on ciba_temporal (needs the ``agents`` extra)."""
