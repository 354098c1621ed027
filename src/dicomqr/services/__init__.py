"""DIMSE service classes on top of the transport: C-ECHO and C-STORE, SCU and SCP."""
