"""The archive: a ready Query/Retrieve SCP application."""
