"""Trigger sources: keyboard, MIDI, audio onsets, scripted cues -> events on a queue."""
