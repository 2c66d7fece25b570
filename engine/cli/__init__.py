"""The command line, by concept: :mod:`.common` (options, specs, requests, paths, progress), :mod:`.basic`
(one run), :mod:`.study` (tune, reproduce, report, sample), :mod:`.grid` (sweep, continual, theorem).
:mod:`engine.__main__` builds the parser and dispatches."""
