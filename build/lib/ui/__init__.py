"""Streamlit glue shared by the pages: session state, sidebar, cached engine calls, job polling."""
