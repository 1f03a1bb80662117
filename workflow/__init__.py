"""What composes the layers: audio → transcription → nlp → Statement, and its settings."""
