"""The JSON push API for CRMs."""
