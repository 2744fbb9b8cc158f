"""The codebook: the shared vocabulary of win/loss reasons that surveys, imports and coding use."""
