"""The pure core: compiled scorers, the rupture engine, statistics, and which alerts a change
of flags calls for. Plain functions over plain data: no framework, no database, no clock."""
