"""`make bench`: prints throughput figures. Not a test: nothing here passes or fails."""

from __future__ import annotations

from bench import caseload, core, http, records


def main() -> None:
    print("Scoring core (single process):")
    core.run()
    print("HTTP on loopback (uvicorn, 1 worker each; wrk, 1 thread; 8 alternating rounds of 3 s):")
    http.run(seconds=3, rounds=8)
    print("Records (rupture engine; PostgreSQL on 127.0.0.1:5432):")
    records.run()
    print("Alerts on a simulated caseload (published rules before, the alert policy after):")
    caseload.run()


if __name__ == "__main__":
    main()
