"""The self-inspection report (自查报告): periods, figures from the store, sign-off, rendering."""
