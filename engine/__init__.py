"""Oneiric: a live-coded audio-visual rig for collective dreamscapes."""
