"""Everything a report passes through on its way in."""
