"""Instrument definitions: the YAML models (Pydantic) and the registry that loads and checks
them at start-up."""
