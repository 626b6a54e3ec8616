"""The link between Home Assistant and the bridge, end to end."""
