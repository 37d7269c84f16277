"""evogan_lightning."""
