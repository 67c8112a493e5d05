"""Case exports (CSV and XLSX) of any filtered list. (Filled in by the export work.)"""
