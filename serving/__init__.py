"""Answering scoring calls: batch and online share one code path."""
