"""How DICOM attributes become columns, and the codec of Hive's TRANSFORM text rows.

Runs on worker nodes too: never imports the connection layer.
"""
