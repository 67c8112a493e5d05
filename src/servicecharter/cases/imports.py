"""Case imports: the CFPB export format and the native format. (Filled in by the import work.)"""
