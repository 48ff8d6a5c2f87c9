"""mi-warehouse: a Hive-centred SQL analytics warehouse for medical-imaging AI."""

__version__ = "0.1.0"
