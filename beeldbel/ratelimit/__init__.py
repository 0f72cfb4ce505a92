"""Rate limits per address and per principal (GCRA), in process or shared through Redis."""
