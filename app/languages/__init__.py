"""Languages as data: the per-language catalogues of every text the service shows, discovered
from files, with English (the source language) as the fallback of each text."""
