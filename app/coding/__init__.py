"""The codebook of win/loss reasons, and coding answers into it."""
