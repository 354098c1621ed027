"""Sans-IO DICOM upper layer (PS3.8) and DIMSE (PS3.7): bytes in, events out.

Nothing here touches a socket, a thread, asyncio or a clock.
"""
