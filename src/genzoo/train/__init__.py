"""The one training loop and the checkpoint format."""
