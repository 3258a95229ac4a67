"""The dashboard's back end: background jobs, uploads, and the demo."""
