"""The bundled sample (package data): the `bundled` data source. See README.md here for its attribution."""
