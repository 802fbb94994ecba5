"""The health probes: liveness and readiness."""
