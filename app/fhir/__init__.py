"""FHIR R4 views of Bordin: instruments as Questionnaires, scores as Observations, flags as Flags.

Pure functions over plain data (no HTTP, no database); the API serves what they build.
"""
