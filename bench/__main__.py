"""`make bench`: prints throughput figures. Not a test: nothing here passes or fails."""

from __future__ import annotations

from bench import core, http


def main() -> None:
    print("Scoring core (single process):")
    core.run()
    print("HTTP on loopback (uvicorn, 1 worker; wrk -t1 -c32):")
    http.run()


if __name__ == "__main__":
    main()
