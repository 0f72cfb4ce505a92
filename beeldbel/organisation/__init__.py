"""The organisation: district teams (wijkteams) and the municipalities they serve."""
