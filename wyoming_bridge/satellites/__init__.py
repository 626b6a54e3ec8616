"""Wyoming satellites: connections, wake words and voice turns."""
