"""Fitting and training: LDA topics, audio-feature scaling, the tBERT model and its comparison."""
