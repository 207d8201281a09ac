"""The rectification register (整改台账): findings, their lifecycle, deadlines, waivers."""
