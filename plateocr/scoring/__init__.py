"""Scoring readings: plate metrics (exact, CER, province) and evaluation over a labelled set."""
