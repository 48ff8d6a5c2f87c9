"""Audits of what the warehouse holds. `audit.phi`: the core database scanned for identifiers.

- `identifiers.py`: what to look for (the PHI database, the original DICOM headers).
- `matcher.py`: where a text holds one (identifiers by kind, dates, identifier patterns).
- `walk.py`: the strings of a JSON value (a DICOM JSON header) by their tag path.
- `phi.py`: every file under the core database's location, read column by column.
"""
