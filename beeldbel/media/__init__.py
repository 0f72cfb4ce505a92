"""The media node: aiortc legs for case meetings and routed calls, hardened for rural links."""
