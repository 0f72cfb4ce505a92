"""Client file: clients, care teams, contact log, notes and their visibility, consent, audit."""
