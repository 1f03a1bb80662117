"""Audio in, Transcript out: decoding, VAD, Whisper engines, model provisioning."""
