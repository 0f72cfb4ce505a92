"""Call quality control: the fallback ladder (hd → sd → low → stills → audio, then phone)."""
